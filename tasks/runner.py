"""Run a loaded task: what its steps mean (`run_steps`) and what it asks the engine for.

The engine (`agent.engine`) opens the model, display and environment, the run
folder and the report; this module translates a task file into its inputs
(env options, display size, model loader, locate cache, confirm policy,
budgets, run.json) and supplies the step source: the scripted steps in order,
then the goal if the task has one. The task's own checks (packages a step
needs, a corrupt cache) run before anything is opened.

Display: a task whose ``env.desktop.virtual_display`` is set (or the CLI's
``--virtual-display WxH``) runs on a fresh Xvfb of that size. With neither,
the current DISPLAY is used, and when there is none on Linux a 1920x1080 Xvfb
is started automatically (``--virtual-display off`` refuses that fallback).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actions.project_errors import InputError, require
from actions.vocabulary import instruction
from agent.cache import LocateCache
from agent.engine import RunResult, execute, record_run
from agent.loop import run_goal
from agent.provenance import Provenance
from agent.safety import Ask, ConfirmPolicy
from agent.secrets import Redactor
from agent.session import Session
from agent.trajectory import RunInfo, StepRecord, default_run_dir
from tasks.loader import PYTHON_NAMES, LoadedTask, resolve_launch_argv
from tasks.schema import CacheSettings, Step, Task

log = logging.getLogger(__name__)

AUTO_DISPLAY_SIZE = "1920x1080"
DEFAULT_WAIT_FOR_TIMEOUT = 10.0


__all__ = ["RunResult", "execute", "record_run", "run_steps", "run_task"]
"""The engine's names stay importable from here for older callers."""


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
    action = step.action()
    if action is not None:  # a simple verb: its argument is the action (actions.verb_args)
        session.perform(action, verb=verb, instruction=instruction(action), line=line)
    elif verb == "launch":
        session.launch(_launch_target(step, task, loaded.base_dir), line=line)
    elif verb in ("click", "double_click", "right_click", "long_press"):
        session.point_step(verb, arg.target, x=arg.x, y=arg.y, line=line)
    elif verb == "type":
        session.type_text(arg, line=line, template=loaded.templates.get(index))
    elif verb == "key":
        session.key(arg, line=line)
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
        task.env.options,
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
