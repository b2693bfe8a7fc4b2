"""The `run_task` tool: a task file (a path or its YAML text) run on the server's own screen.

The task is loaded and checked exactly as ``agent run`` loads it (errors read
``file:line: field: problem``, nothing runs), then its steps and goal run on
the screen the server already holds, recorded in a run folder of their own
with the same report.html. The server offers the tool only when started with
``--allow-run-task``.

The task is the client's, not the user's (`agent.provenance.Provenance.CLIENT`):
every step, launches included, is judged as a model's choice under
``--confirm risky`` (asked through elicitation, refused when the client cannot
ask); ``${VAR}`` is refused (the server's environment is not the client's to
read); a ``model`` section or environment settings are refused (the server's
model and screen are used; ``env`` only names the platform). ``--dry-run`` and
``--confirm`` are the server's. Run folders go under the server's ``--out``
folder, else under a private temporary folder (never the server's working
folder); the result says where.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from actions.project_errors import InputError
from agent.engine import record_run
from agent.mcp import tool_models as tm
from agent.mcp.host import Outcome, ScreenHost, new_run_folder
from agent.provenance import Provenance
from agent.secrets import Redactor, redacted_logging
from agent.trajectory import StepRecord
from tasks.loader import LoadedTask, load_task, load_task_text
from tasks.runner import preflight, run_steps, task_run_info

log = logging.getLogger(__name__)


def load(args: tm.RunTaskArgs) -> LoadedTask:
    """The task the call names, validated (an `InputError` names file, line and field)."""
    if args.file is not None:
        return load_task(Path(args.file).expanduser(), provenance=Provenance.CLIENT)
    assert args.yaml is not None  # the argument model makes sure
    return load_task_text(args.yaml, name="<yaml>", provenance=Provenance.CLIENT)


def run_task(host: ScreenHost, args: tm.RunTaskArgs) -> Outcome:
    """Run the task on `host`'s screen; the outcome lists every step and the report."""
    loaded = load(args)
    task = loaded.task
    if task.platform != host.platform:
        drives = "a phone" if host.platform == "android" else "a desktop"
        raise InputError(f"the task is for {task.platform} but this server drives {drives}")
    # the server's model grounds the targets (the loader refused a model section)
    preflight(task.model_copy(update={"model": host.options.model or task.model}))
    model: Any = host.model
    folder = _run_folder(host, task.name)
    secrets = Redactor([*loaded.secrets, *host.redactor.secrets])
    steps: list[StepRecord] = []
    info = task_run_info(loaded, host.env.dry_run, host.env.display_name, None)
    with host.session.recording("run_task", instruction=task.name) as rec:
        host.session.observe_into(rec)  # the screen the task started from
        with host.env.settling(task.settle), redacted_logging(secrets):
            result = record_run(
                host.env,
                model,
                info=info,
                body=lambda session: run_steps(session, loaded),
                out=folder,
                redactor=secrets,
                policy=host.session.policy,
                max_steps=task.max_steps,
                timeout=task.timeout,
                on_step=steps.append,
                provenance=Provenance.CLIENT,
            )
        rec.note = f"{result.status}: {result.message}; report {result.report or result.run_dir}"
        if result.exit_code != 0:
            rec.status = "failed"
    summary = tm.TaskResult(
        name=task.name,
        status=result.status,
        exit_code=result.exit_code,
        message=result.message,
        steps=[
            tm.TaskStepSummary(
                index=s.index,
                verb=s.verb,
                instruction=s.instruction,
                status=s.status,
                seconds=round(s.timings.total, 3),
                error=s.error,
                note=s.note,
            )
            for s in steps
        ],
        run_dir=str(result.run_dir) if result.run_dir else None,
        report=str(result.report) if result.report else None,
    )
    lines = [f"task {task.name!r}: {result.status}: {result.message} ({len(steps)} steps)"]
    for s in steps:
        what = f" {s.instruction!r}" if s.instruction else ""
        extra = f": {s.error}" if s.error else (f" ({s.note})" if s.note else "")
        lines.append(f"  [{s.index}] {s.verb}{what} {s.status}{extra}")
    if host.session.policy.ask is None and any(s.status == "denied" for s in steps):
        lines.append("(this MCP client cannot ask its user: it does not support elicitation)")
    lines.append(f"report: {result.report or result.run_dir}")
    return Outcome("\n".join(lines), summary, error=result.exit_code != 0)


def _run_folder(host: ScreenHost, name: str) -> Path:
    """Inside the server's own run folder (``--out``) when it has one, else in a private
    temporary folder made once per server: never the server's working folder (which may be
    ``/``, or the user's project)."""
    if host.writer is not None:
        root = host.writer.dir / "tasks"
    else:
        if host.task_runs is None:
            host.task_runs = Path(tempfile.mkdtemp(prefix="screenpilot-mcp-runs-"))
            log.warning("run_task folders go to %s (start with --out DIR to keep them)",
                        host.task_runs)  # fmt: skip
        root = host.task_runs
    return new_run_folder(root.resolve(), name)  # the client is told where: absolute
