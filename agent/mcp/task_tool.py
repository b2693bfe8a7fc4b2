"""The `run_task` tool: a task file (a path or its YAML text) run on the server's own screen.

The task is loaded and checked exactly as ``agent run`` loads it (errors read
``file:line: field: problem``, nothing runs), then its steps and goal run on
the screen the server already holds, recorded in a run folder of their own
with the same report.html. What differs from ``agent run``, because the
screen is the server's: the task's ``env`` section only has to name the same
platform (its monitor, virtual display or serial are the server's); a task
that names no ``model`` uses the server's model; ``--dry-run`` and
``--confirm`` are the server's (with its way of asking the user).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from actions.errors import InputError
from agent.mcp import tool_models as tm
from agent.mcp.host import Outcome, ScreenHost
from agent.secrets import Redactor, redacted_logging
from agent.trajectory import StepRecord, default_run_dir
from tasks.loader import LoadedTask, load_task, load_task_text
from tasks.runner import preflight, record_run, run_steps, task_run_info

log = logging.getLogger(__name__)


def load(args: tm.RunTaskArgs) -> LoadedTask:
    """The task the call names, validated (an `InputError` names file, line and field)."""
    if args.file is not None:
        return load_task(Path(args.file).expanduser())
    assert args.yaml is not None  # the argument model makes sure
    return load_task_text(args.yaml, name="<yaml>")


def run_task(host: ScreenHost, args: tm.RunTaskArgs) -> Outcome:
    """Run the task on `host`'s screen; the outcome lists every step and the report."""
    loaded = load(args)
    task = loaded.task
    if task.platform != host.platform:
        drives = "a phone" if host.platform == "android" else "a desktop"
        raise InputError(f"the task is for {task.platform} but this server drives {drives}")
    preflight(task)
    model: Any = host.model
    owned = None
    if "model" in task.model_fields_set:
        from agent.models.load import load_model

        model = owned = load_model(task.model)
    folder = _run_folder(host, task.name)
    secrets = Redactor([*loaded.secrets, *host.redactor.secrets])
    steps: list[StepRecord] = []
    info = task_run_info(loaded, host.env.dry_run, host.env.display_name, None)
    with host.session.recording("run_task", instruction=task.name) as rec:
        host.session.observe_into(rec)  # the screen the task started from
        try:
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
                )
        finally:
            if owned is not None:
                owned.close()
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
    lines.append(f"report: {result.report or result.run_dir}")
    return Outcome("\n".join(lines), summary, error=result.exit_code != 0)


def _run_folder(host: ScreenHost, name: str) -> Path:
    """Inside the server's own run folder (``--out``) when it has one, else runs/<time>-<name>."""
    root = host.writer.dir / "tasks" if host.writer is not None else Path("runs")
    root = root.resolve()  # the client is told where the report is: absolute
    folder = default_run_dir(name, root=root)
    number = 1
    while folder.exists():  # two runs of one task within a second
        number += 1
        folder = default_run_dir(f"{name}-{number}", root=root)
    return folder
