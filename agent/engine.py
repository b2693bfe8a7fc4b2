"""The run engine: env + model + locate cache + run folder + report around a step source.

Every front end runs through here: `agent run` (a task file's steps, through
`tasks.runner.run_task`), `agent replay` (`agent.replay.replay`), the MCP
server's ``run_task`` (`record_run` on the screen it holds), and the two
long-lived callers that take one step at a time, the Python `Agent` and the
MCP server itself (`LiveRun`). A *step source* is a callable taking the
`Session`; what a step means (a task-file verb, a recorded action, an API
call) is the caller's business, opening and finishing the run is the engine's.

Order matters: everything that can fail on bad input (the model backend's
packages, the display, the device, the model files) is opened *before* the
run folder is created and before the first step, so bad input exits with code
2 and nothing sent. However the run ends - success, a failed step, an
exhausted budget, Ctrl-C, the fail-safe - the trajectory is closed and
report.html is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from actions.project_errors import ScreenpilotError
from agent.cache import LocateCache
from agent.provenance import Provenance
from agent.safety import ConfirmPolicy
from agent.secrets import Redactor, redacted_logging
from agent.session import Session
from agent.trajectory import RunInfo, RunStatus, RunWriter, StepRecord
from env.a11y import LOCATORS
from env.base import Env
from env.factory import DesktopOptions, EnvOptions, open_env

log = logging.getLogger(__name__)

StepSource = Callable[[Session], None]
"""What a run performs: task-file steps, a replay plan, ... given the recorded session."""


class RunResult(BaseModel):
    """How a run ended, and where its run folder is."""

    exit_code: int
    status: Literal["success", "failed", "interrupted", "error"]
    message: str
    run_dir: Path | None = None
    report: Path | None = None
    seconds: float = 0.0
    steps: int = 0
    display: str | None = None
    model_calls: int = 0
    calls_saved: int = Field(0, description="model calls the locate cache made unnecessary")


def execute(
    options: EnvOptions,
    *,
    settle: float,
    info: Callable[[str | None], RunInfo],
    body: StepSource,
    out: str | Path,
    dry_run: bool,
    display_size: str | None,
    redactor: Redactor,
    load: Callable[[], Any] | None,
    policy: ConfirmPolicy,
    max_steps: int | None = None,
    timeout: float | None = None,
    check_env: Callable[[Env], None] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_ready: Callable[[Path], None] | None = None,
    locate: LocateCache | None = None,
    locate_order: tuple[str, ...] = LOCATORS,
    provenance: Provenance = Provenance.USER,
) -> RunResult:
    """Open model (`load`, lazily: nothing when None), display and env; run `body` on a
    recorded session; always finish the folder and close what was opened.

    `info(display_name)` describes the run for run.json once the display is known;
    `check_env(env)` may refuse the opened env (an `InputError`) before the folder exists.
    """
    started = time.monotonic()
    with ExitStack() as stack:
        stack.enter_context(redacted_logging(redactor))
        model = load() if load is not None else None
        if model is not None:
            stack.callback(model.close)
        if isinstance(options, DesktopOptions):  # DesktopEnv starts (and stops) the Xvfb
            options = options.model_copy(update={"virtual_display": display_size})
        env = stack.enter_context(open_env(options, settle=settle, dry_run=dry_run))
        if check_env is not None:
            check_env(env)
        return record_run(
            env,
            model,
            info=info(env.display_name),
            body=body,
            out=out,
            redactor=redactor,
            policy=policy,
            max_steps=max_steps,
            timeout=timeout,
            on_step=on_step,
            on_ready=on_ready,
            started=started,
            locate=locate,
            provenance=provenance,
            locate_order=locate_order,
        )


def record_run(
    env: Env,
    model: Any,
    *,
    info: RunInfo,
    body: StepSource,
    out: str | Path,
    redactor: Redactor,
    policy: ConfirmPolicy,
    max_steps: int | None = None,
    timeout: float | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_ready: Callable[[Path], None] | None = None,
    started: float | None = None,
    locate: LocateCache | None = None,
    provenance: Provenance = Provenance.USER,
    locate_order: tuple[str, ...] = LOCATORS,
) -> RunResult:
    """Run `body` on a recorded session over an open env; always finish the run folder.

    The env and model stay open (their owner closes them): `execute` opens both
    for `agent run` and `agent replay`, the MCP server passes the screen it holds.
    `provenance` is who wrote the steps (an MCP client's are judged as a model's).
    """
    started = time.monotonic() if started is None else started
    display_name = env.display_name
    writer = RunWriter(out, info, redactor=redactor)
    if on_ready is not None:
        on_ready(writer.dir)
    session = Session(
        env,
        model,
        writer=writer,
        policy=policy,
        max_steps=max_steps,
        timeout=timeout,
        on_step=on_step,
        locate=locate,
        provenance=provenance,
        locate_order=locate_order,
    )
    status: Literal["success", "failed", "interrupted", "error"]
    try:
        body(session)
        status, code, message = "success", 0, "done"
        if env.dry_run:
            message = "dry run: nothing was sent"
    except KeyboardInterrupt:
        status, code, message = "interrupted", 130, "interrupted (Ctrl-C)"
    except ScreenpilotError as exc:
        status = "failed" if exc.exit_code == 1 else "error"
        code, message = exc.exit_code, str(exc)
    except Exception as exc:  # recorded, then reported as an internal error
        log.exception("run failed")
        status, code, message = "error", 1, f"internal error: {type(exc).__name__}: {exc}"
    message = redactor.text(message)
    _final_screenshot(env, writer, session)
    writer.info = writer.info.model_copy(
        update={"model_calls": session.model_calls, "cache": session.locate.summary()}
    )
    writer.finish(status, message, code)
    report = write_report_safely(writer.dir)
    return RunResult(
        exit_code=code,
        status=status,
        message=message,
        run_dir=writer.dir,
        report=report,
        seconds=time.monotonic() - started,
        steps=writer.count,
        display=display_name,
        model_calls=session.model_calls,
        calls_saved=session.locate.stats.saved,
    )


class LiveRun:
    """A recorded session whose steps come one call at a time (the Python `Agent`, the MCP
    server): the engine's session and optional run folder, finished by `finish`.

    The env and model stay their owner's; `finish` only closes the run folder and
    writes report.html (once; later calls return None).
    """

    def __init__(
        self,
        env: Env,
        model: Any,
        *,
        out: str | Path | None,
        info: RunInfo,
        redactor: Redactor,
        policy: ConfirmPolicy,
        max_steps: int | None = None,
        timeout: float | None = None,
        locate: LocateCache | None = None,
        provenance: Provenance = Provenance.USER,
    ) -> None:
        self.writer = RunWriter(out, info, redactor=redactor) if out is not None else None
        self.session = Session(
            env,
            model,
            writer=self.writer,
            redactor=redactor,
            policy=policy,
            max_steps=max_steps,
            timeout=timeout,
            locate=locate,
            provenance=provenance,
        )

    @property
    def running(self) -> bool:
        return self.writer is not None and self.writer.info.status == "running"

    def finish(self, status: RunStatus, message: str, exit_code: int) -> Path | None:
        """Close the run folder with this ending and write its report; the report's path."""
        if self.writer is None or not self.running:
            return None
        self.writer.finish(status, message, exit_code)
        from agent.report import write_report

        return write_report(self.writer.dir)


def _final_screenshot(env: Env, writer: RunWriter, session: Session) -> None:
    try:
        image = session.screens.safe(env.observe().image, "final")
        writer.set_final_screenshot(writer.save_screenshot(image, "final"))
    except Exception as exc:  # the screen may be gone (device unplugged, Ctrl-C)
        log.warning("no final screenshot: %s", exc)


def write_report_safely(run_dir: Path) -> Path | None:
    """report.html for a finished folder; a failure is logged (the trajectory is what matters)."""
    from agent.report import write_report

    try:
        return write_report(run_dir)
    except Exception as exc:  # the report can be rebuilt from the folder
        log.warning("could not write the report (rebuild with: agent report %s): %s", run_dir, exc)
        return None
