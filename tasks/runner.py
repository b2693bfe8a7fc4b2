"""Run a loaded task: display, environment, model, run folder, steps, goal, report.

Order matters: everything that can fail on bad input (the model backend's
packages, the display, the device, the model files) is opened *before* the
run folder is created and before the first step, so bad input exits with code
2 and nothing sent. Then the scripted steps run in order, then the goal if the
task has one. However the run ends - success, a failed step, an exhausted
budget, Ctrl-C, the fail-safe - the trajectory is closed and report.html is
written.

Display: a task whose ``env.desktop.virtual_display`` is set (or the CLI's
``--virtual-display WxH``) runs on a fresh Xvfb of that size. With neither,
the current DISPLAY is used, and when there is none on Linux a 1920x1080 Xvfb
is started automatically (``--virtual-display off`` refuses that fallback).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from actions.errors import InputError, ScreenpilotError, require
from agent.cache import LocateCache
from agent.loop import run_goal
from agent.provenance import Provenance
from agent.safety import Ask, ConfirmPolicy
from agent.secrets import Redactor, redacted_logging
from agent.session import Session
from agent.trajectory import RunInfo, RunWriter, StepRecord, default_run_dir
from env.a11y import LOCATORS
from env.base import Env
from env.factory import open_env
from tasks.loader import PYTHON_NAMES, LoadedTask, resolve_launch_argv
from tasks.schema import CacheSettings, EnvSection, Step, Task

log = logging.getLogger(__name__)

AUTO_DISPLAY_SIZE = "1920x1080"
DEFAULT_WAIT_FOR_TIMEOUT = 10.0


class RunResult(BaseModel):
    """How a task run ended, and where its run folder is."""

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


# -- opening things --------------------------------------------------------------------
def display_size_for(task: Task, override: str | None) -> str | None:
    """The virtual display to start (WxH), or None to use the current DISPLAY.

    Raises `InputError` when there is no display and none may be started.
    """
    if task.platform != "desktop":
        return None
    if override is not None and override.lower() not in ("off", "no", "none"):
        return override
    if override is None and task.env.desktop and task.env.desktop.virtual_display:
        return task.env.desktop.virtual_display
    if os.environ.get("DISPLAY") or sys.platform != "linux":
        return None
    if override is not None:
        raise InputError("no display: DISPLAY is not set and --virtual-display is off")
    log.warning("no DISPLAY: starting a %s virtual display (Xvfb)", AUTO_DISPLAY_SIZE)
    return AUTO_DISPLAY_SIZE


def open_model(task: Task) -> Any:
    """Load the task's model (checks that its packages and files are there)."""
    from agent.models.load import load_model

    return load_model(task.model)


def preflight(task: Task) -> None:
    """Fail early when a step needs a package that is not installed."""
    needs_ocr = task.model.backend == "ocr" or any(
        s.wait_for is not None or s.assert_ is not None for s in task.steps
    )
    if needs_ocr:
        require("rapidocr", "ocr")
        require("onnxruntime", "ocr")
    from agent.models.ocr_match import unmatchable

    # a text OCR can never read fails before the first step, not halfway through the task
    for number, step in enumerate(task.steps, start=1):
        arg = step.argument
        text = getattr(arg, "text", None) if step.verb in ("wait_for", "assert") else None
        if task.model.backend == "ocr" and step.verb in GROUNDED_VERBS:
            text = getattr(arg, "target", None)
        why = unmatchable(text) if isinstance(text, str) else None
        if why is not None:
            raise InputError(f"step {number} ({step.verb}): the ocr backend cannot look for {why}")


GROUNDED_VERBS = ("click", "double_click", "right_click", "long_press", "scroll")


def cache_folder(task_file: Path, settings: CacheSettings) -> Path | None:
    """Where a task's locate cache lives: ``cache.path`` (relative to the task file), else
    beside the task file (see `agent.cache.task_folder`); None when there is none."""
    from agent.cache import task_folder

    if settings.path is not None:
        return Path(task_file).resolve().parent / Path(settings.path).expanduser()
    return task_folder(task_file)


def open_cache(
    loaded: LoadedTask, mode: str | None = None, *, dry_run: bool = False
) -> LocateCache:
    """The task's locate cache (see agent.cache); `mode` overrides the task's ``cache:``.

    Raises:
        InputError: the cache file is corrupt or foreign (before anything runs).
    """
    from agent.cache import LocateStore, model_identity, parse_mode

    task = loaded.task
    chosen = parse_mode(mode) if mode is not None else task.cache.mode
    grounded = any(
        s.verb in GROUNDED_VERBS and getattr(s.argument, "target", None) for s in task.steps
    )
    folder = cache_folder(loaded.path, task.cache)
    if chosen == "off" or not grounded or folder is None:
        return LocateCache.disabled()
    store = LocateStore(folder, base=Path(loaded.path).resolve().parent)  # no link below it
    return LocateCache(store, model_identity(task.model), chosen, dry_run=dry_run)


# -- steps -----------------------------------------------------------------------------
def _launch_target(step: Step, task: Task, base_dir: Path) -> str | list[str]:
    assert step.launch is not None
    if task.platform == "android":
        return step.launch[0] if len(step.launch) == 1 else list(step.launch)
    argv = step.launch_argv()
    if argv[0] in PYTHON_NAMES:
        argv[0] = sys.executable  # the agent's own Python: it has tkinter and the venv
    return resolve_launch_argv(argv, base_dir)


def run_step(session: Session, step: Step, loaded: LoadedTask, index: int) -> None:
    """Perform one scripted step through the session.

    A step marked with a provenance (`agent compile` keeps a model's or a
    folder's step judged) runs as that provenance when the session's own is the
    user's; a mark never makes a step less judged than its session.
    """
    if step.provenance is None or session.provenance != Provenance.USER:
        _run_step(session, step, loaded, index)
        return
    session.provenance = step.provenance
    try:
        _run_step(session, step, loaded, index)
    finally:
        session.provenance = Provenance.USER


def _run_step(session: Session, step: Step, loaded: LoadedTask, index: int) -> None:
    task = loaded.task
    line = loaded.step_lines[index] if index < len(loaded.step_lines) else None
    verb, arg = step.verb, step.argument
    if verb == "launch":
        session.launch(_launch_target(step, task, loaded.base_dir), line=line)
    elif verb in ("click", "double_click", "right_click", "long_press"):
        session.point_step(verb, arg.target, x=arg.x, y=arg.y, line=line)
    elif verb == "type":
        session.type_text(arg, line=line, template=loaded.templates.get(index))
    elif verb == "key":
        session.key(arg, line=line)
    elif verb == "hold_key":
        session.perform(arg.action(), instruction=arg.action().combo, line=line)
    elif verb == "scroll":
        session.scroll(arg.amount, arg.target, x=arg.x, y=arg.y, axis=arg.axis, line=line)
    elif verb == "swipe":
        session.swipe(arg.x, arg.y, arg.to_x, arg.to_y, duration=arg.duration, line=line)
    elif verb == "wait":
        session.wait(arg, line=line)
    elif verb == "wait_for":
        timeout = DEFAULT_WAIT_FOR_TIMEOUT if arg.timeout is None else arg.timeout
        session.find_text_step("wait_for", arg.text, timeout=timeout, line=line)
    elif verb == "assert":
        session.find_text_step("assert", arg.text, timeout=arg.timeout or 0.0, line=line)
    elif verb == "goal":
        run_goal(session, arg.goal, max_steps=arg.max_steps, line=line)
    else:  # pragma: no cover - the schema knows every verb
        raise InputError(f"unknown step {verb!r}")


def run_steps(session: Session, loaded: LoadedTask) -> None:
    """The scripted steps in order, then the task's goal."""
    for index, step in enumerate(loaded.task.steps):
        run_step(session, step, loaded, index)
    if loaded.task.goal is not None:
        run_goal(session, loaded.task.goal)


# -- the whole run ---------------------------------------------------------------------
def task_run_info(
    loaded: LoadedTask, dry_run: bool, display: str | None, virtual: str | None
) -> RunInfo:
    task = loaded.task
    env_section = task.env.desktop or task.env.android
    env = env_section.model_dump(mode="json") if env_section else {}
    if display:
        env["display"] = display
    if task.platform == "desktop":
        env["virtual_display"] = virtual  # what a replay must start again
    spec = task.model
    model: dict[str, Any] = {"backend": spec.backend}
    if spec.backend == "ocr":
        model["model"] = "rapidocr (offline text matching)"
    else:
        model.update(model=spec.model, base_url=spec.base_url)
        profile = spec.resolve().profile
        low, high = spec.pixel_limits(profile)
        family = spec.family.value if spec.family else None
        model.update(profile=profile.name, family=family, min_pixels=low, max_pixels=high)
    from agent import __version__

    return RunInfo(
        name=task.name,
        task_file=str(loaded.path),
        platform=task.platform,
        env=env,
        model=model,
        goal=task.goal,
        dry_run=dry_run,
        timeout=task.timeout,
        settle=task.settle,
        version=__version__,
    )


def run_task(
    loaded: LoadedTask,
    *,
    out: str | Path | None = None,
    dry_run: bool = False,
    virtual_display: str | None = None,
    ask: Ask | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_ready: Callable[[Path], None] | None = None,
    cache: str | None = None,
) -> RunResult:
    """Run a validated task and write its run folder; see the module docstring.

    `cache` overrides the task's locate-cache mode (off, read, write, read-write).

    Raises:
        InputError: bad input found before anything was sent (exit code 2).
    """
    task = loaded.task
    preflight(task)
    locate = open_cache(loaded, cache, dry_run=dry_run)
    size = display_size_for(task, virtual_display)
    return execute(
        task.env,
        settle=task.settle,
        info=lambda display: task_run_info(loaded, dry_run, display, size),
        body=lambda session: run_steps(session, loaded),
        out=out or default_run_dir(task.name),
        dry_run=dry_run,
        display_size=size,
        redactor=Redactor(loaded.secrets),
        load=lambda: open_model(task),
        policy=ConfirmPolicy(task.confirm, ask),
        max_steps=task.max_steps,
        timeout=task.timeout,
        on_step=on_step,
        on_ready=on_ready,
        locate=locate,
        locate_order=tuple(task.locate),
    )


def execute(
    env_section: EnvSection,
    *,
    settle: float,
    info: Callable[[str | None], RunInfo],
    body: Callable[[Session], None],
    out: str | Path,
    dry_run: bool,
    display_size: str | None,
    redactor: Redactor,
    load: Callable[[], Any] | None,
    policy: ConfirmPolicy,
    max_steps: int | None = None,
    timeout: float | None = None,
    check_env: Callable[[Any], None] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_ready: Callable[[Path], None] | None = None,
    locate: LocateCache | None = None,
    locate_order: tuple[str, ...] = LOCATORS,
) -> RunResult:
    """Open display, model and env; run `body` on a recorded session; always finish the folder.

    Everything that can fail on bad input happens before the run folder exists.
    """
    started = time.monotonic()
    platform = env_section.platform
    with ExitStack() as stack:
        stack.enter_context(redacted_logging(redactor))
        model = load() if load is not None else None
        if model is not None:
            stack.callback(model.close)
        options = env_section.options
        if platform == "desktop":  # DesktopEnv starts (and stops) the Xvfb
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
            locate_order=locate_order,
        )


def record_run(
    env: Env,
    model: Any,
    *,
    info: RunInfo,
    body: Callable[[Session], None],
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
    for `agent run`, the MCP server passes the screen it already holds.
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
    _final_screenshot(env, writer)
    writer.info = writer.info.model_copy(
        update={"model_calls": session.model_calls, "cache": session.locate.summary()}
    )
    writer.finish(status, message, code)
    report = _write_report(writer.dir)
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


def _final_screenshot(env: Any, writer: RunWriter) -> None:
    try:
        writer.set_final_screenshot(writer.save_screenshot(env.observe().image, "final"))
    except Exception as exc:  # the screen may be gone (device unplugged, Ctrl-C)
        log.warning("no final screenshot: %s", exc)


def _write_report(run_dir: Path) -> Path | None:
    from agent.report import write_report

    try:
        return write_report(run_dir)
    except Exception as exc:  # the trajectory is what matters; the report can be rebuilt
        log.warning("could not write the report (rebuild with: agent report %s): %s", run_dir, exc)
        return None
