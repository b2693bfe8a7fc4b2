"""Replay a run folder: perform its recorded actions again, at the recorded coordinates.

No model is asked: clicks go where the recorded run clicked, keys and text are
sent again, launches start the same command, and ``wait_for`` / ``assert``
steps wait for the same text again (OCR), which keeps a replay in step with
an app that starts slower this time. Steps that failed or were refused are
skipped.

A run folder is untrusted input (it may come from someone else):

* ``${VAR}`` in a recorded template is never expanded on its own: typed
  secrets were recorded as ``***``, and only the variables the user names
  (``agent replay --secret VAR``) are read from the environment again; a step
  that typed any other variable refuses the replay.
* A recorded launch (or a phone's open_app) runs only with the user's yes or
  ``--allow-launch`` (`launches` lists them for the question).
* Files are read only inside the folder (`agent.trajectory.read_run`).
* The environment (display, fail-safe, adb server and serial, XWayland) comes
  from the caller's options and defaults only, never from run.json
  (`replay`'s `target`); a folder may not choose the environment
  (`agent.provenance`); only the size of a recorded virtual display is read
  back, checked.
* Recorded waits and text timeouts must be numbers of seconds within the task
  file's bounds; waits are capped as a model's are, and the replay has a time
  budget.
* A folder that cannot be reproduced exactly is refused: a step whose answer
  held several actions but recorded only the last (older folders).

Everything is checked before the first action: the records, the variables,
and that the screen has the size the run was recorded at.

`replay(run_dir, ReplayOptions(...))` is the whole of it as one library call
(plan, launch approval, display, budget, run folder and report through
`agent.engine`); ``agent replay`` only translates its options and prints.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from actions.project_errors import InputError
from actions.types import Action, OpenApp, Terminate, Type, Wait
from actions.vocabulary import PLATFORMS
from agent.engine import RunResult, execute
from agent.provenance import Provenance
from agent.safety import Ask, ConfirmMode, ConfirmPolicy
from agent.secrets import MASK, Redactor
from agent.trajectory import (
    LaunchRecord,
    RecordedAction,
    RunFolder,
    RunInfo,
    StepRecord,
    read_run,
)
from env.base import Env
from env.factory import AndroidOptions, DesktopOptions, EnvOptions

_RECORDED: TypeAdapter[Any] = TypeAdapter(RecordedAction)

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TEXT_VERBS = ("wait_for", "assert")
REPLAYED_STATUS = ("ok", "dry_run")
MAX_RECORDED_SECONDS = 3600.0
"""The longest wait or text timeout a record may hold (the task file's own bound)."""
DEFAULT_TEXT_TIMEOUT = 20.0
MAX_TEXT_TIMEOUT = 60.0
"""A recorded wait_for timeout is used up to this long (the replay's budget bounds all)."""


class ReplayStep(BaseModel):
    """One thing to do again."""

    index: int = 0
    kind: str  # action | launch | text
    action: Action | None = None
    target: str | list[str] | None = None
    text: str | None = None
    verb: str = ""
    template: str | None = None
    shown: str = ""
    context: str = ""
    """The recorded words for the action (instruction, or the model's answer), judged with it:
    a dry run's screen lacks the app, but the words still say what a click would do."""
    """The recorded instruction, for the progress line (``click 'the Submit button'``)."""
    timeout: float | None = None


def _expand(template: str, index: int, allowed: Collection[str]) -> tuple[str, set[str]]:
    secrets: set[str] = set()

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name not in allowed:
            raise InputError(
                f"step {index} typed ${{{name}}}, recorded as {MASK}: pass --secret {name} "
                "to type it again from the environment"
            )
        if name not in os.environ:
            raise InputError(f"step {index}: environment variable {name} is not set")
        secrets.add(os.environ[name])
        return os.environ[name]

    return _VAR.sub(sub, template), secrets


def plan_replay(
    run: RunFolder, secrets_from_env: Collection[str] = ()
) -> tuple[list[ReplayStep], set[str]]:
    """The steps to perform and the secrets they use; `InputError` if one cannot be replayed.

    Args:
        secrets_from_env: names of the variables whose recorded ``${NAME}`` may be
            read from the environment again (``--secret NAME``); no other is.
    """
    plan: list[ReplayStep] = []
    secrets: set[str] = set()
    for step in run.steps:
        if step.status not in REPLAYED_STATUS:
            continue
        if step.model is not None and step.model.error is not None:
            continue  # a dry run's miss: its point is only a stand-in
        plan.extend(_plan_record(step, secrets, secrets_from_env))
    if not plan:
        raise InputError(f"{run.path}: nothing to replay (no recorded step succeeded)")
    return plan, secrets


def launches(plan: list[ReplayStep]) -> list[str]:
    """What the plan would start (commands, apps), shown to the user before it may."""
    started: list[str] = []
    for item in plan:
        if item.kind == "launch":
            target = item.target
            started.append(target if isinstance(target, str) else " ".join(target or []))
        elif isinstance(item.action, OpenApp):
            started.append(f"open_app {item.action.app}")
    return started


def seconds(value: Any, index: int, what: str) -> float:
    """A recorded number of seconds, refused unless finite and within the task file's bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"step {index}: recorded {what} {value!r} is not a number of seconds")
    if not math.isfinite(value) or not 0 <= value <= MAX_RECORDED_SECONDS:
        raise InputError(
            f"step {index}: recorded {what} of {value!r} s is outside 0..{MAX_RECORDED_SECONDS:g} s"
        )
    return float(value)


def _plan_record(step: StepRecord, secrets: set[str], allowed: Collection[str]) -> list[ReplayStep]:
    """The replay steps of one record: several when one answer held several actions."""
    if step.actions is None and step.note and "actions; all were performed" in step.note:
        raise InputError(
            f"step {step.index}: one answer held several actions but only the last was recorded "
            "(an older run folder); it cannot be replayed exactly"
        )
    written = [step.action] if step.actions is None else step.actions
    planned = [_plan_step(step, _typed(step, data), secrets, allowed) for data in written]
    return [item for item in planned if item is not None]


def _typed(step: StepRecord, data: Any) -> RecordedAction | None:
    """A recorded action typed (None: the step recorded none); one this version cannot
    read (a format-1 folder's) refuses the replay in one line."""
    if data is None:
        return None
    try:  # strict: a folder's "10" is not ten seconds
        return _RECORDED.validate_python(data, strict=True)  # type: ignore[no-any-return]
    except ValidationError as exc:
        error = exc.errors()[0]
        what = " ".join(str(part) for part in error["loc"])  # e.g. "wait seconds"
        raise InputError(
            f"step {step.index}: recorded {what or 'action'}: {error['msg']}"
            if len(error["loc"]) > 1
            else f"step {step.index}: unreadable action: {error['msg']}"
        ) from None


def _shown(step: StepRecord) -> str:
    """The recorded instruction of a scripted step (goal steps show their action's point)."""
    return step.instruction if step.source == "script" and step.instruction else ""


def _plan_step(
    step: StepRecord, action: RecordedAction | None, secrets: set[str], allowed: Collection[str]
) -> ReplayStep | None:
    if step.verb in TEXT_VERBS and step.instruction:
        timeout = step.timeout
        if timeout is not None:
            timeout = min(seconds(timeout, step.index, "timeout"), MAX_TEXT_TIMEOUT)
        return ReplayStep(index=step.index, kind="text", verb=step.verb, text=step.instruction,
                          shown=step.instruction, timeout=timeout)  # fmt: skip
    if action is None or isinstance(action, Terminate):
        return None
    if isinstance(action, LaunchRecord):
        target = action.target
        shown = target if isinstance(target, str) else " ".join(target)
        return ReplayStep(index=step.index, kind="launch", target=target, shown=shown)
    if isinstance(action, Wait):  # bounded by its type (0..3600 s, the task file's own)
        return ReplayStep(index=step.index, kind="action", action=action,
                          verb="wait", shown=f"{action.seconds:g} s")  # fmt: skip
    if isinstance(action, Type) and MASK in action.text:
        if not step.template:
            raise InputError(
                f"step {step.index} typed a secret that was not recorded; it cannot be replayed"
            )
        text, found = _expand(step.template, step.index, allowed)
        secrets |= found
        try:  # the expanded text is checked as the type's own bounds say
            action = Type.model_validate({**action.model_dump(), "text": text})
        except ValidationError as exc:
            raise InputError(
                f"step {step.index}: unreadable action: {exc.errors()[0]['msg']}"
            ) from None
    return ReplayStep(
        index=step.index,
        kind="action",
        action=action,
        verb=step.verb,
        template=step.template if isinstance(action, Type) else None,
        shown=_shown(step),
        context=_shown(step) or (step.model.raw if step.model is not None else ""),
    )


def recorded_size(run: RunFolder) -> tuple[int, int] | None:
    """The screen size the run's actions were recorded at (first step with a screenshot)."""
    for step in run.steps:
        if step.geometry:
            return int(step.geometry["width"]), int(step.geometry["height"])
    return None


def replay_steps(
    session: Any, plan: list[ReplayStep], *, wait_timeout: float = DEFAULT_TEXT_TIMEOUT
) -> None:
    """Perform a replay plan through a `Session` (budgets, records, dry run all apply).

    Waits go through the session as a folder's actions, so they are capped
    (`agent.provenance`) and cut to the time budget left.
    """
    for item in plan:
        shown = item.shown or None
        if item.kind == "launch":
            assert item.target is not None
            # approved by the user before the replay began (--allow-launch or its question)
            session.launch(item.target, provenance=Provenance.USER)
        elif item.kind == "text":
            assert item.text is not None
            default = wait_timeout if item.verb == "wait_for" else 2.0
            timeout = item.timeout if item.timeout is not None else default
            session.find_text_step(item.verb, item.text, timeout=timeout)
        else:
            assert item.action is not None
            session.perform(
                item.action,
                verb=item.verb,
                instruction=shown,
                template=item.template,
                provenance=Provenance.FOLDER,
                context=item.context,
            )


def default_replay_dir(run_dir: Path) -> Path:
    from agent.trajectory import default_run_dir

    return default_run_dir(f"replay-{Path(run_dir).name}")


# -- the whole replay, as one call --------------------------------------------------------
class ReplayOptions(BaseModel):
    """What the user chose for a replay (`agent replay`'s options); never read from a folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run: bool = False
    out: Path | None = Field(None, description="the replay's run folder (default runs/...)")
    virtual_display: str | None = Field(
        None, description="Xvfb size WxH, or 'off' for the current DISPLAY; None: as recorded"
    )
    secrets: tuple[str, ...] = Field((), description="variables whose ${VAR} may be typed again")
    allow_launch: bool = False
    confirm: ConfirmMode = "risky"
    timeout: float = Field(600.0, ge=1, le=86_400, description="time budget, seconds")


class PreparedReplay(BaseModel):
    """A run folder checked and planned, its launches approved: ready to `replay`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run: RunFolder
    plan: list[ReplayStep]
    secrets: set[str]
    display: str | None = Field(None, description="the Xvfb size to start, None: none")


def prepare_replay(
    run_dir: Path,
    options: ReplayOptions,
    *,
    approve_launches: Callable[[list[str]], bool] | None = None,
) -> PreparedReplay:
    """Read and plan `run_dir`, approve its launches, choose the display; nothing is opened.

    Launches run only with ``options.allow_launch`` or `approve_launches`'s yes (shown
    the commands); with neither, `InputError` names them.
    """
    run = read_run(run_dir)
    plan, secrets = plan_replay(run, options.secrets)
    started = launches(plan)
    if started and not options.dry_run and not options.allow_launch:
        shown = "; ".join(started)
        if approve_launches is None:
            raise InputError(
                f"{run_dir} would start: {shown}; check the commands and pass --allow-launch "
                "to run them"
            )
        if not approve_launches(started):
            raise InputError("replay cancelled: its launches were not allowed")
    if run.info.platform not in PLATFORMS:
        raise InputError(f"{run_dir}/run.json: unknown platform {run.info.platform!r}")
    display = None
    if run.info.platform == "desktop":
        if options.virtual_display is None:
            # a private Xvfb of the recorded screen size, if the run had one: it reaches
            # nothing of the user's session, and only its size comes from the folder
            display = _recorded_virtual(run.info.env.get("virtual_display"), run_dir)
        elif options.virtual_display.lower() not in ("off", "no", "none"):
            display = _size_text(options.virtual_display)
    return PreparedReplay(run=run, plan=plan, secrets=secrets, display=display)


def replay(
    run_dir: Path | PreparedReplay,
    options: ReplayOptions | None = None,
    *,
    target: Callable[[str], EnvOptions] | None = None,
    ask: Ask | None = None,
    approve_launches: Callable[[list[str]], bool] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> RunResult:
    """Perform a run folder's recorded actions again; the replay's own run folder and report.

    Args:
        run_dir: the folder, or one already `prepare_replay`d with the same options.
        target: the environment for the run's platform (``"desktop"`` / ``"android"``);
            default: this machine's screen, or adb's default phone. A folder sets none of it.
        ask: who answers the confirm policy's questions (None: risky steps are refused).
    Raises:
        InputError: the folder cannot be replayed, or the screen is not its size.
    """
    options = options or ReplayOptions()
    ready = (
        run_dir
        if isinstance(run_dir, PreparedReplay)
        else prepare_replay(run_dir, options, approve_launches=approve_launches)
    )
    run = ready.run
    platform = run.info.platform
    env_options = target(platform) if target is not None else _default_target(platform)
    size = recorded_size(run)

    def check_env(env: Env) -> None:
        actual = env.size  # type: ignore[attr-defined]
        if size is not None and tuple(actual) != tuple(size):
            raise InputError(
                f"the screen is {actual[0]}x{actual[1]} but the run was recorded at "
                f"{size[0]}x{size[1]}; recorded coordinates would miss"
            )

    def info(display_name: str | None) -> RunInfo:
        env = {**env_options.model_dump(mode="json"), "display": display_name}
        if platform == "desktop":
            env["virtual_display"] = ready.display
        return RunInfo(
            name=f"replay of {run.info.name}",
            task_file=run.info.task_file,
            platform=platform,
            env=env,
            model={"replay_of": str(run.path)},
            dry_run=options.dry_run,
        )

    return execute(
        env_options,
        settle=1.0,
        info=info,
        body=lambda session: replay_steps(session, ready.plan),
        out=options.out or default_replay_dir(run.path),
        dry_run=options.dry_run,
        display_size=ready.display,
        redactor=Redactor(ready.secrets),
        load=None,
        policy=ConfirmPolicy(options.confirm, ask),
        timeout=options.timeout,
        check_env=check_env,
        on_step=on_step,
    )


def _default_target(platform: str) -> EnvOptions:
    return AndroidOptions() if platform == "android" else DesktopOptions()


def _size_text(value: str) -> str:
    from env.virtual_display import parse_size

    width, height = parse_size(value)
    return f"{width}x{height}"


def _recorded_virtual(value: object, run_dir: Path) -> str | None:
    """run.json's virtual display size (WxH), checked; None when the run had none."""
    if value is None:
        return None
    try:
        return _size_text(str(value))
    except InputError as exc:
        raise InputError(f"{run_dir}/run.json: env.virtual_display: {exc}") from None
