"""`agent compile RUN_DIR -o task.yaml`: turn a finished run into a scripted task file.

Each successful step becomes a task step: launches, waits, text checks, keys
and typed text as they were (a secret typed from ``${VAR}`` stays ``${VAR}``),
scripted clicks with their instruction, and every click the model chose (goal
mode) a ``click: "<text>"`` step named after the text OCR reads at its point
(the model's own words when it gave a label; screen coordinates when there is
no text to name it by). The locate cache beside the new task file is seeded
from the run's screenshots, so the compiled task replays with no model call
and asks the model again only where the screen has changed.

The run folder is untrusted input (`agent.provenance`: a folder may not
choose the environment or the model's address, and its actions stay judged):

* only files inside it are read (no ``..``, no absolute paths, no symbolic links);
* a click seeds the cache only when its recorded screenshot shows the
  instruction's text at its point (`tasks.compile_check`); otherwise the step
  is model-grounded and compile says so, one line per step;
* steps the run did not take from the user (a model's answer, a client's or a
  folder's action, every step that could have been confirmed) keep
  ``provenance: model``, so ``--confirm risky`` still judges them;
* recorded launches are written commented out unless ``--allow-launch``;
* the env section comes from the user's options and defaults (only the screen
  size of a private virtual display is kept), the model section without a
  base URL or API key variable (``--base-url`` gives one);
* every text is escaped (``$`` as ``$$``; comments hold no line break);
* everything is checked before anything is written, the cache first and the
  task file last (atomically), so a failed compile leaves no task file.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.project_errors import InputError
from actions.types import Click, LongPress, OpenApp, Scroll, Type
from actions.vocabulary import compiled_step
from agent.cache import LocateCache, LocateStore, model_identity
from agent.cache.fingerprint import crop_rect, distinct
from agent.cache.identity import ScreenIdentity
from agent.cache.policy import SecretAreas
from agent.cache.store import CropRef, Entry, crop_digest, crop_file
from agent.models.spec import ModelSpec
from agent.provenance import Provenance
from agent.secrets import MASK
from agent.trajectory import LaunchRecord, RecordedAction, RunFolder, StepRecord, inside, read_run
from tasks.compile_check import describe_point, label_from_answer, mismatch
from tasks.compile_render import CompiledStep, comment_text, render_task, task_name
from tasks.runner import cache_folder
from tasks.schema import CacheSettings, Task

log = logging.getLogger(__name__)

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # as the loader reads them
POINT_VERBS = {"click", "double_click", "right_click", "long_press"}
PIXELS_PER_NOTCH = 90.0
"""A pixel scroll recorded without its notches becomes this many pixels per notch (X11's)."""
DEFAULT_TEXT_TIMEOUT = 30.0
"""A wait_for recorded by an older version, which did not keep its timeout."""


class Compiled(BaseModel):
    """What `compile_run` made: the task's YAML, and the entries that seed its cache."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str
    task: Task
    entries: list[Entry] = Field(default_factory=list)
    crops: dict[str, Any] = Field(default_factory=dict)
    named: int = 0
    coordinates: int = 0
    launches: int = Field(0, description="recorded launches written commented out")
    notes: list[str] = Field(default_factory=list)


# -- reading the run folder ------------------------------------------------------------
def run_file(folder: Path, relative: str, what: str) -> Path:
    """A file named in a run folder's records, refused unless it lies inside the folder."""
    try:
        path = inside(folder, relative)
    except InputError as exc:
        raise InputError(f"{folder}: {what}: {exc}") from None
    if not relative or not path.is_file():
        raise InputError(f"{folder}: {what}: {relative!r} is missing")
    return path


def _screenshot(run: RunFolder, step: StepRecord) -> Image.Image:
    what = f"step {step.index} screenshot"
    if not step.screenshot:
        raise InputError(f"{run.path}: {what}: none was recorded")
    path = run_file(run.path, step.screenshot, what)
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None


def _spec(run: RunFolder) -> ModelSpec:
    """The run's model as a spec (every field run.json recorded that a spec knows)."""
    recorded = run.info.model or {}
    if "replay_of" in recorded:
        raise InputError(f"{run.path}: a replay has no model; compile the run it replayed")
    if not recorded or recorded.get("backend") == "ocr":
        return ModelSpec(backend="ocr")
    # the folder may not choose where screenshots and the user's key go (`agent.provenance`)
    chosen = ModelSpec.model_fields.keys() - {"base_url", "api_key_env", "api_key"}
    known = {k: v for k, v in recorded.items() if k in chosen and v is not None}
    try:
        return ModelSpec(**known)
    except ValidationError as exc:
        raise InputError(f"{run.path}/run.json: model: {exc.errors()[0]['msg']}") from None


# -- steps -----------------------------------------------------------------------------
def _point_verb(action: Click | LongPress, index: int) -> str:
    if isinstance(action, LongPress):
        return "long_press"
    count, button = action.count, action.button
    verb = {(1, "left"): "click", (2, "left"): "double_click", (1, "right"): "right_click"}.get(
        (count, button)
    )
    if verb is None:
        raise InputError(f"step {index}: a {button} click x{count} has no task-file step")
    return verb


def _judged(step: StepRecord) -> Provenance | None:
    """The provenance a compiled step keeps: any but the user's own scripted step's."""
    if step.source == "goal":
        return Provenance.MODEL
    return step.provenance if step.provenance != Provenance.USER else None


def _compile_record(
    run: RunFolder, step: StepRecord, allow_launch: bool, variables: Collection[str]
) -> list[CompiledStep]:
    """The compiled steps of one run step: several when one answer held several actions."""
    if step.actions is None and step.note and "actions; all were performed" in step.note:
        raise InputError(f"step {step.index}: one answer held several actions and only the last "
                         "was recorded (an older run folder); it cannot be compiled")  # fmt: skip
    out: list[CompiledStep] = []
    for number, action in enumerate(_typed(step)):
        # only the first action of an answer saw the recorded screenshot as it was
        item = _compile_step(run, step, action, seed=number == 0, allow_launch=allow_launch,
                             variables=variables)  # fmt: skip
        if item is not None:
            item.provenance = item.provenance or _judged(step)
            out.append(item)
    return out


def _typed(step: StepRecord) -> list[RecordedAction | None]:
    """The step's actions typed (None: it recorded none); one this version cannot read
    (a format-1 folder's) refuses the compile."""
    written = step.actions if step.actions is not None else [step.action]
    typed = step.typed_actions()
    if step.action is None and step.actions is None:
        return [None]
    if len(typed) != len(written):
        raise InputError(f"step {step.index}: an action this version cannot read "
                         "has no task-file step; it cannot be compiled")  # fmt: skip
    return list(typed)


def _text_step(step: StepRecord) -> CompiledStep:
    timeout = step.timeout
    if timeout is not None and not (isinstance(timeout, (int, float)) and math.isfinite(timeout)
                                    and 0 <= timeout <= 3600):  # fmt: skip
        raise InputError(f"step {step.index}: recorded timeout {timeout!r} is not 0..3600 s")
    text = step.instruction or ""
    if step.verb == "wait_for":
        value: Any = {"text": text, "timeout": DEFAULT_TEXT_TIMEOUT if timeout is None else timeout}
    else:
        value = {"text": text, "timeout": timeout} if timeout else text
    return CompiledStep(step={step.verb: value}, source=step.index)


def _launch(action: LaunchRecord | OpenApp, index: int, allow: bool) -> CompiledStep:
    target = action.target if isinstance(action, LaunchRecord) else action.app
    if isinstance(target, list) and target:
        argv = list(target)
        if argv[0] == sys.executable or re.fullmatch(r"/\S*/python[\d.]*", argv[0]):
            argv[0] = "python3"  # not the recording machine's interpreter path
        target = argv
    elif not isinstance(target, str) or not target:
        raise InputError(f"step {index}: unreadable launch target {target!r}")
    comment = "" if allow else "a recorded launch: check it, then remove the '#' to allow it"
    return CompiledStep(step={"launch": target}, source=index, comment=comment, disabled=not allow)


def _scroll(step: StepRecord, action: Scroll) -> CompiledStep:
    amount = action.amount
    if amount is None:  # a pixel scroll (Qwen's computer_use): the notches it was sent as
        sent = (step.scroll or {}).get("notches")
        pixels = action.pixels
        if isinstance(sent, int) and sent:
            amount = sent
        elif isinstance(pixels, (int, float)) and math.isfinite(pixels) and pixels:
            amount = int(math.copysign(max(1, round(abs(pixels) / PIXELS_PER_NOTCH)), pixels))
        else:
            raise InputError(f"step {step.index}: a scroll with neither amount nor pixels")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InputError(f"step {step.index}: unreadable scroll amount {amount!r}")
    amount = max(-200, min(200, amount))
    where: dict[str, Any] = {}
    if step.source == "script" and step.instruction and step.model is not None:
        where = {"target": step.instruction}
    elif action.x is not None:
        where = {"x": action.x, "y": action.y}
    axis = action.axis
    return CompiledStep(step={"scroll": {**where, "amount": amount, "axis": axis}},
                        source=step.index)  # fmt: skip


def _template(step: StepRecord, variables: Collection[str]) -> str:
    """A recorded ``${VAR}`` template, kept only when the user named each of its variables:
    else the compiled task would type whatever the user's ${VAR} holds where the folder said."""
    assert step.template is not None
    for name in _VAR.findall(step.template):
        if name and name not in variables:
            raise InputError(
                f"step {step.index} typed ${{{name}}}, recorded as {MASK}: pass --secret {name} "
                "to keep it as a variable of the compiled task"
            )
    return step.template


def _compile_step(
    run: RunFolder,
    step: StepRecord,
    action: RecordedAction | None,
    *,
    seed: bool,
    allow_launch: bool,
    variables: Collection[str],
) -> CompiledStep | None:
    i = step.index
    if step.verb in ("wait_for", "assert") and step.instruction:
        return _text_step(step)
    kind = action.type if action is not None else None  # the kinds whose step needs the run
    if kind is None or kind == "terminate":
        return None
    if isinstance(action, (LaunchRecord, OpenApp)):
        return _launch(action, i, allow_launch)
    if isinstance(action, Type):
        if step.template and "${" in step.template:
            return CompiledStep(step={"type": _template(step, variables)}, source=i,
                                comment="secret", template=True)  # fmt: skip
        if MASK in action.text and step.secret is not False:
            raise InputError(f"step {i} typed a secret that was not recorded as ${{VAR}}; "
                             "it cannot be compiled")  # fmt: skip
        return CompiledStep(step={"type": action.text}, source=i)  # a literal "***" stays literal
    if kind == "scroll":
        return _scroll(step, action)  # type: ignore[arg-type]
    if kind in ("click", "long_press"):
        return _compile_point(run, step, action, seed=seed)  # type: ignore[arg-type]
    declared = compiled_step(action)  # the step its vocabulary entry declares (key, hold_key)
    if declared is not None:
        return CompiledStep(step=declared, source=i)
    raise InputError(
        f"step {i}: a {action.type} action has no task-file step; it cannot be compiled"
    )


def _compile_point(
    run: RunFolder, step: StepRecord, action: Click | LongPress, *, seed: bool
) -> CompiledStep:
    verb = _point_verb(action, step.index)
    point = (action.x, action.y)
    coordinates = {verb: {"x": round(point[0], 1), "y": round(point[1], 1)}}
    grounded = step.model is not None or (step.cache is not None and step.cache.status != "off")
    if step.source == "script":
        if not (grounded and step.instruction):
            return CompiledStep(step=coordinates, source=step.index)
        item = CompiledStep(step={verb: step.instruction}, source=step.index)
        why = mismatch(_screenshot(run, step), step.instruction, *point)
        if why is not None:
            item.comment = f"model-grounded (not cached): {why}"
            return item
        box = step.model.box if step.model is not None else step.cache.box  # type: ignore[union-attr]
        item.seed = (step.instruction, point, box)
        return item
    label = label_from_answer(step.model.raw) if step.model is not None else None
    image = _screenshot(run, step)
    found = describe_point(image, *point)
    if label is None and found is not None:
        label = found[0]
    if label is None:
        return CompiledStep(step=coordinates, source=step.index,
                            comment="no text at this point to name it by")  # fmt: skip
    item = CompiledStep(step={verb: label}, source=step.index, comment="chosen by the model")
    why = mismatch(image, label, *point) if seed else "after another action of the same answer"
    if why is not None:
        item.comment += f"; model-grounded (not cached): {why}"
        return item
    item.seed = (label, point, found[1] if found is not None else None)
    return item


# -- the whole compilation -------------------------------------------------------------
def compile_run(
    run_dir: str | Path,
    *,
    name: str | None = None,
    allow_launch: bool = False,
    virtual_display: str | None = None,
    base_url: str | None = None,
    secrets: Collection[str] = (),
) -> Compiled:
    """Compile a run folder; nothing is written (see `write_compiled`).

    Args:
        allow_launch: write the recorded launches as steps (else commented out).
        virtual_display: the env's virtual display (WxH), instead of the run's size.
        base_url: the model's endpoint (a folder's own is never taken).
        secrets: the variables whose recorded ``${NAME}`` may stay in the task
            (``--secret NAME``); a template with any other refuses the compile.

    Raises:
        InputError: the folder is not a usable run (dry run, an action with no
            task-file step, a secret that was not a ${VAR}, a file outside it).
    """
    run = read_run(run_dir)
    if run.info.dry_run:
        raise InputError(f"{run.path}: a dry run sent nothing; compile a real run")
    spec = _spec(run)
    if base_url is not None:
        spec = spec.model_copy(update={"base_url": base_url})
    steps: list[CompiledStep] = []
    typed_at = SecretAreas()
    seeds: list[tuple[CompiledStep, StepRecord, SecretAreas]] = []
    for record in run.steps:
        if record.status != "ok":
            continue
        for item in _compile_record(run, record, allow_launch, secrets):
            steps.append(item)
            if item.seed is not None:  # where secrets were typed so far
                seeds.append((item, record, copy.deepcopy(typed_at)))
        scale = float((record.geometry or {}).get("scale", 1.0))
        for action in record.typed_actions():
            if isinstance(action, LaunchRecord):
                continue
            secret = isinstance(action, Type) and (
                record.secret if record.secret is not None else MASK in action.text
            )
            typed_at.note_action(action, bool(secret), scale)
    if not any(not s.disabled for s in steps):
        more = ", and its launches need --allow-launch" if steps else ""
        raise InputError(f"{run.path}: nothing to compile (no recorded step succeeded{more})")
    text = render_task(run, name or task_name(run), spec, steps, virtual_display=virtual_display)
    try:
        task = Task.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise InputError(f"{run.path}: the compiled task is invalid: {loc}: {err['msg']}") from None
    compiled = Compiled(text=text, task=task, launches=sum(1 for s in steps if s.disabled))
    identity = model_identity(task.model)
    for item in steps:
        if item.seed is None and item.comment and "not cached" in item.comment:
            ((verb, value),) = item.step.items()
            why = item.comment.split("not cached): ", 1)[-1]
            compiled.notes.append(
                comment_text(
                    f"run step {item.source}: {verb} {value!r} is model-grounded, not cached: {why}"
                )  # fmt: skip
            )
    for item, record, typed in seeds:
        entry, pixels, reason = _seed(run, record, item, identity, typed)
        if entry is None:
            compiled.notes.append(f"run step {record.index}: not cached ({reason})")
            continue
        compiled.entries.append(entry)
        compiled.crops[entry.crop.sha256] = pixels
    compiled.named = sum(1 for s in steps if s.seed is not None)
    compiled.coordinates = sum(
        1 for s in steps if any(v in s.step and isinstance(s.step[v], dict) for v in POINT_VERBS)
    )
    return compiled


def _seed(
    run: RunFolder, record: StepRecord, item: CompiledStep, identity: Any, typed: SecretAreas
) -> tuple[Entry | None, np.ndarray | None, str]:
    """A cache entry for a compiled click, from the screenshot its run step looked at."""
    assert item.seed is not None
    instruction, point, box = item.seed
    geometry = record.geometry or {}
    image = _screenshot(run, record)
    scale = float(geometry.get("scale", 1.0))
    screen = ScreenIdentity(width=image.width, height=image.height, scale=scale)
    x, y, w, h = crop_rect(point, box, image.size, scale)
    if typed.overlaps((x, y, w, h)):
        return None, None, "near where a secret was typed"
    pixels = np.asarray(image.crop((x, y, x + w, y + h))).copy()
    if not distinct(pixels):
        return None, None, "the area is too plain to recognise again"
    sha = crop_digest(pixels)
    entry = Entry(
        instruction=instruction.strip(),
        verb=next(iter(item.step)),
        model=identity,
        platform=run.info.platform,  # type: ignore[arg-type]
        screen=screen,
        point=(round(point[0], 2), round(point[1], 2)),
        box=tuple(round(v, 2) for v in box) if box is not None else None,  # type: ignore[arg-type]
        crop=CropRef(file=crop_file(sha), x=x, y=y, width=w, height=h, sha256=sha),
        source="compile",
    )
    return entry, pixels, ""


def write_compiled(compiled: Compiled, out: str | Path, *, force: bool = False) -> Path | None:
    """Seed the locate cache, then write the task file (atomically); the cache folder, if any.

    The task file comes last: if seeding fails, no task file is left behind.
    """
    path = Path(out)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a task file name such as task.yaml")
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError(f"{path} already exists (use --force to overwrite it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = cache_folder(path, CacheSettings())
    if folder is not None and compiled.entries:
        cache = LocateCache(LocateStore(folder), model_identity(compiled.task.model), "read-write")
        cache.add(compiled.entries, compiled.crops)
    else:
        folder = None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(compiled.text, encoding="utf-8")
        os.replace(tmp, path)  # replaces a link itself, never writes through it
    finally:
        tmp.unlink(missing_ok=True)
    return folder
