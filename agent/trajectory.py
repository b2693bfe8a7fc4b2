"""Run folders: one JSON line per step, the screenshots, and the run's summary.

Layout of a run folder::

    run.json          what ran (task, env, model, dry run) and how it ended
    steps.jsonl       one `StepRecord` per line, appended and flushed as steps finish
    screens/          step-001.png ... : the screenshot each step looked at
    report.html       built from the above by `agent.report` (``agent report DIR``)

Every record carries the frames it was computed in (observation size, HiDPI
scale and monitor offset, the size the model saw) so that a wrong click can be
explained afterwards, and every string in it passes through the run's
`Redactor`, so secrets never reach the disk. Screenshots may show a secret
too (text typed into a visible field): the writer runs no model, so the session
hands it screenshots already made safe (`agent.screen_mask.RunScreens`: the
screen text that may show a secret blacked out, inside longer words too, and
the band where one was typed; without OCR, or when OCR reads nothing on a
screen after a secret was typed, a grey frame saying why). The masking time is
in each step's ``timings.mask``.

A run folder read back (`read_run`) is untrusted input: its records may name
files only inside the folder itself.

Format (run.json ``format``, `RUN_FORMAT`): 2 since typed step records - every
step's ``action`` / ``actions`` reads back as the `actions.types.Action` union
(or a `LaunchRecord`): `read_run` refuses a type it does not know, and readers use
`StepRecord.typed_action()` rather than the dict's string keys. A folder
without ``format`` is format 1 (written before): it still reads, an action it
cannot type is left as written (``typed_action()`` is None). A newer format is
refused in one line.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Union

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from actions.project_errors import InputError
from actions.types import ACTION_TYPES
from agent.provenance import Provenance
from agent.secrets import Redactor
from env.a11y import Located

log = logging.getLogger(__name__)

StepStatus = Literal["ok", "failed", "dry_run", "denied", "stopped"]
RunStatus = Literal["running", "success", "failed", "interrupted", "error"]
Box = tuple[float, float, float, float]
RUN_FORMAT = 2
"""The run-folder format this version writes (see the module docstring)."""


class LaunchRecord(BaseModel):
    """A launch step's record: the command line (desktop) or app (phone) started.

    Not an input action (a launch is the session's, never a model's verb), but
    recorded in a step's ``action`` like one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["launch"] = "launch"
    target: str | Annotated[list[str], Field(min_length=1)]


RecordedAction = Annotated[Union[(*ACTION_TYPES, LaunchRecord)], Field(discriminator="type")]  # noqa: UP007
"""What a step's ``action`` holds, typed: any `actions.types` action, or a launch."""
_RECORDED: TypeAdapter[Any] = TypeAdapter(RecordedAction)
RECORDED_TYPES = frozenset(
    cls.model_fields["type"].default for cls in (*ACTION_TYPES, LaunchRecord)
)


def parse_recorded(data: Any) -> Any:
    """A recorded action dict as its typed `RecordedAction`; `ValidationError` if it is not one."""
    return _RECORDED.validate_python(data)


def _typed_or_none(data: Any) -> Any:
    if not isinstance(data, dict):
        return None
    try:
        return parse_recorded(data)
    except ValidationError:  # an older folder's action this version does not know
        return None


class Timings(BaseModel):
    """Seconds spent in each phase of a step."""

    capture: float = 0.0
    model: float = 0.0
    act: float = 0.0
    settle: float = 0.0
    cache: float = 0.0
    mask: float = Field(0.0, description="blacking out secrets in the screenshot (OCR)")
    total: float = 0.0


class ModelCall(BaseModel):
    """What the model was asked and answered, and how the answer was read."""

    instruction: str
    raw: str = ""
    attempts: list[str] = Field(default_factory=list, description="earlier unusable answers")
    image_size: tuple[int, int] | None = None
    model_size: tuple[int, int] | None = None
    family: str | None = None
    profile: str | None = Field(None, description="the model profile that answered")
    model_xy: tuple[float, float] | None = None
    box: Box | None = Field(None, description="grounded box, screenshot pixels")
    visual_tokens: int | None = None
    error: str | None = None
    two_stage: dict[str, Any] | None = Field(
        None, description="two-stage grounding's passes and confidence (agent.two_stage)"
    )


class CacheUse(BaseModel):
    """What the locate cache (agent.cache) did for a step that names a target."""

    status: Literal["hit", "relocated", "miss", "off"]
    score: float | None = Field(None, description="grey-level correlation, 1 = identical")
    changed: float | None = Field(None, description="share of pixels whose colour changed")
    moved: tuple[float, float] | None = Field(None, description="relocated by (dx, dy) pixels")
    box: Box | None = Field(None, description="the cached box where it was used, screenshot pixels")
    entry: str | None = Field(None, description="the entry's crop file")
    stored: bool = Field(False, description="the cache was updated after this step")
    note: str | None = None

    def describe(self) -> str:
        """``hit 1.000``, ``relocated (+260, +210) 0.998``, ``miss: ...``, ``off``."""
        text = self.status
        if self.moved is not None:
            text += f" ({self.moved[0]:+.0f}, {self.moved[1]:+.0f})"
        if self.score is not None and self.status != "off":
            text += f" {self.score:.3f}"
        if self.note and self.status != "hit":
            text += f": {self.note}"
        return text


class StepRecord(BaseModel):
    """One step of a run, as written to steps.jsonl."""

    model_config = ConfigDict(extra="allow")

    index: int = Field(description="1-based, in the order steps ran")
    verb: str = Field(description="click, type, wait_for, ... or the action type in goal mode")
    source: Literal["script", "goal"] = "script"
    provenance: Provenance = Provenance.USER
    """Where the step's action came from (`agent.provenance`); older folders lack it."""
    line: int | None = Field(None, description="line of the step in the task file")
    instruction: str | None = None
    status: StepStatus = "ok"
    error: str | None = None
    note: str | None = None
    screenshot: str | None = Field(None, description="path relative to the run folder")
    geometry: dict[str, Any] | None = Field(None, description="observation size, scale, offset")
    model: ModelCall | None = None
    cache: CacheUse | None = None
    located: Located | None = Field(
        None, description="where a target's point came from: a11y tree, cache or model"
    )
    action: dict[str, Any] | None = Field(None, description="screenshot pixels")
    screen_points: list[tuple[float, float]] = Field(
        default_factory=list, description="input coordinates the action was sent to"
    )
    scroll: dict[str, Any] | None = Field(
        None, description="a scroll's requested pixels or notches and what was sent (ScrollSent)"
    )
    sent: bool = False
    template: str | None = Field(None, description="typed text as written, ${VAR} unexpanded")
    actions: list[dict[str, Any]] | None = Field(
        None, description="every action of a multi-action answer, in order (`action` is the last)"
    )
    secret: bool | None = Field(None, description="a secret was typed (None: an older folder)")
    timeout: float | None = Field(None, description="a wait_for / assert step's timeout, seconds")
    timings: Timings = Field(default_factory=Timings)
    started: float = Field(default_factory=time.time)

    def typed_action(self) -> RecordedAction | None:
        """`action` typed (screenshot pixels); None without one, or one this version cannot
        read (only in a format-1 folder: `read_run` checks newer ones)."""
        return _typed_or_none(self.action)

    def typed_actions(self) -> list[RecordedAction]:
        """Every action of the step, typed, in order: `actions` when the answer held several,
        else `action` alone; ones this version cannot read are left out (format 1 only)."""
        written = self.actions if self.actions is not None else [self.action]
        typed = (_typed_or_none(data) for data in written)
        return [action for action in typed if action is not None]


class RunInfo(BaseModel):
    """run.json: what ran and how it ended."""

    model_config = ConfigDict(extra="allow")

    name: str
    task_file: str | None = None
    platform: str
    env: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    goal: str | None = None
    dry_run: bool = False
    timeout: float | None = Field(None, description="the task's time budget, seconds")
    settle: float | None = Field(None, description="the task's settle time, seconds")
    started: float = Field(default_factory=time.time)
    finished: float | None = None
    status: RunStatus = "running"
    message: str | None = None
    exit_code: int | None = None
    steps: int = 0
    final_screenshot: str | None = None
    model_calls: int | None = Field(None, description="requests the model answered")
    cache: dict[str, Any] | None = Field(None, description="the locate cache: folder, mode, counts")
    version: str = ""
    format: int = Field(1, ge=1, description="the run-folder format (1: written before typing)")


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<name>`` (the name made safe for a folder)."""
    safe = re.sub(r"[^\w.-]+", "-", name).strip("-") or "run"
    return Path(root) / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{safe}"


class RunWriter:
    """Creates a run folder and writes steps and screenshots as the run goes."""

    def __init__(
        self,
        out_dir: str | Path,
        info: RunInfo,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        self.dir = Path(out_dir)
        self.redactor = redactor if redactor is not None else Redactor()
        if self.dir.exists() and any(self.dir.iterdir()):
            raise InputError(f"run folder {self.dir} already exists and is not empty")
        (self.dir / "screens").mkdir(parents=True, exist_ok=True)
        self.info = info.model_copy(update={"format": RUN_FORMAT})
        self.count = 0
        self._steps = (self.dir / "steps.jsonl").open("a", encoding="utf-8")
        self._write_info()

    def next_index(self) -> int:
        return self.count + 1

    def save_screenshot(self, image: Image.Image, name: str) -> str:
        """Save a PNG under screens/ as given and return its relative path.

        The writer runs no model: a screenshot that may show a secret comes
        already blacked out (`agent.screen_mask.RunScreens`, run by the session).
        """
        rel = f"screens/{name}.png"
        image.save(self.dir / rel, format="PNG", optimize=False, compress_level=6)
        return rel

    def write_step(self, record: StepRecord) -> StepRecord:
        """Append one step (redacted) to steps.jsonl and flush it."""
        self.count += 1
        data = self.redactor(record.model_dump(mode="json"))
        self._steps.write(json.dumps(data, ensure_ascii=False) + "\n")
        self._steps.flush()
        return StepRecord.model_validate(data)

    def finish(self, status: RunStatus, message: str | None, exit_code: int) -> RunInfo:
        """Record how the run ended; the steps file is closed."""
        self.info = self.info.model_copy(
            update={
                "finished": time.time(),
                "status": status,
                "message": message,
                "exit_code": exit_code,
                "steps": self.count,
            }
        )
        self._write_info()
        if not self._steps.closed:
            self._steps.close()
        return self.info

    def set_final_screenshot(self, rel: str) -> None:
        self.info = self.info.model_copy(update={"final_screenshot": rel})

    def _write_info(self) -> None:
        data = self.redactor(self.info.model_dump(mode="json"))
        tmp = self.dir / "run.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(self.dir / "run.json")


def inside(folder: Path, rel: str) -> Path:
    """`rel` as a path inside `folder`: no absolute path, no ``..``, no symlink out.

    Raises:
        InputError: `rel` would lead outside the run folder.
    """
    posix, windows = PurePosixPath(rel), PureWindowsPath(rel)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in windows.parts:
        raise InputError(f"{rel!r} is not a path inside the run folder")
    path = folder / posix
    if (path.exists() or path.is_symlink()) and not path.resolve().is_relative_to(folder.resolve()):
        raise InputError(f"{rel!r} leads outside the run folder (a symbolic link)")
    return path


class RunFolder(BaseModel):
    """A run folder read back: its summary and steps (every path checked by `inside`)."""

    path: Path
    info: RunInfo
    steps: list[StepRecord]

    def file(self, rel: str) -> Path | None:
        """The run folder's file `rel`, or None when it is missing or leads outside."""
        try:
            path = inside(self.path, rel)
        except InputError:
            return None
        return path if path.is_file() else None


def _checked(folder: Path, rel: str | None, where: str) -> None:
    if rel is not None:
        try:
            inside(folder, rel)
        except InputError as exc:
            raise InputError(f"{where}: screenshot {exc}") from None


def read_run(path: str | Path) -> RunFolder:
    """Read run.json and steps.jsonl; a one-line error names what is missing or broken.

    A run folder is untrusted input: it is only ever read inside itself, so a
    record naming a file elsewhere (``../``, an absolute path, a symbolic link
    out) is refused.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: run folder not found")
    info_file = inside(folder, "run.json")
    if not info_file.is_file():
        raise InputError(f"{folder}: not a run folder (no run.json)")
    try:
        info = RunInfo.model_validate_json(info_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{info_file}: unreadable: {str(exc).splitlines()[0]}") from None
    if info.format > RUN_FORMAT:
        raise InputError(
            f"{info_file}: run-folder format {info.format} is newer than this version reads "
            f"({RUN_FORMAT}); update screenpilot"
        )
    _checked(folder, info.final_screenshot, str(info_file))
    steps: list[StepRecord] = []
    steps_file = inside(folder, "steps.jsonl")
    if steps_file.is_file():
        for number, line in enumerate(steps_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                step = StepRecord.model_validate_json(line)
            except ValueError as exc:
                raise InputError(
                    f"{steps_file}:{number}: unreadable step: {str(exc).splitlines()[0]}"
                ) from None
            _checked(folder, step.screenshot, f"{steps_file}:{number}")
            if info.format >= 2:
                _check_actions(step, f"{steps_file}:{number}")
            steps.append(step)
    return RunFolder(path=folder, info=info, steps=steps)


def _check_actions(step: StepRecord, where: str) -> None:
    """A typed folder names only action types this version knows (the format's promise); a
    value out of an action's bounds (an API caller's long wait) leaves `typed_action` None."""
    written = ([step.action] if step.action is not None else []) + list(step.actions or [])
    for data in written:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in RECORDED_TYPES:
            raise InputError(f"{where}: unreadable action: unknown type {kind!r}")


def total_seconds(value: Any) -> float:
    """A model call's time from its ``seconds`` (a number, or parts with an optional total)."""
    if isinstance(value, dict):
        if "total" in value:
            return float(value["total"])
        return float(sum(v for v in value.values() if isinstance(v, (int, float))))
    return float(value or 0.0)
