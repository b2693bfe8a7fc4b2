"""`agent compile RUN_DIR -o task.yaml`: turn a finished run into a scripted task file.

Each successful step becomes a task step: launches, waits, text checks, keys
and typed text as they were (a secret typed from ``${VAR}`` stays ``${VAR}``),
scripted clicks with their instruction, and every click the model chose (goal
mode) a ``click: "<text>"`` step named after the text OCR reads at its point
(the model's own words when it gave a label; screen coordinates when there is
no text to name it by). The locate cache beside the new task file is seeded
from the run's screenshots, so the compiled task replays with no model call
and asks the model again only where the screen has changed.

The run folder is untrusted input: only files inside it are read (no ``..``,
no absolute paths, no symbolic links), and everything is checked before the
task file or the cache is written.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.errors import InputError
from actions.types import parse_action
from actions.vocabulary import compiled_step
from agent.cache import LocateCache, LocateStore, model_identity
from agent.cache.fingerprint import crop_rect, distinct
from agent.cache.identity import ScreenIdentity
from agent.cache.policy import SecretAreas
from agent.cache.store import CropRef, Entry, crop_digest, crop_file
from agent.models.spec import ModelSpec
from agent.secrets import MASK
from agent.trajectory import RunFolder, StepRecord, inside, read_run
from tasks.runner import cache_folder
from tasks.schema import CacheSettings, Task

log = logging.getLogger(__name__)

POINT_VERBS = {"click", "double_click", "right_click", "long_press"}
LABEL_MARGIN = 4
"""Pixels around an OCR line's box that still count as clicking on it."""


class CompiledStep(BaseModel):
    """One step of the compiled task, the run step it came from, and its cache seed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    step: dict[str, Any]
    source: int = Field(description="index of the run step")
    comment: str = ""
    seed: tuple[str, tuple[float, float], tuple[float, float, float, float] | None] | None = None


class Compiled(BaseModel):
    """What `compile_run` made: the task's YAML, and the entries that seed its cache."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str
    task: Task
    entries: list[Entry] = Field(default_factory=list)
    crops: dict[str, Any] = Field(default_factory=dict)
    named: int = 0
    coordinates: int = 0
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
    known = {k: v for k, v in recorded.items() if k in ModelSpec.model_fields and v is not None}
    try:
        return ModelSpec(**known)
    except ValidationError as exc:
        raise InputError(f"{run.path}/run.json: model: {exc.errors()[0]['msg']}") from None


# -- naming a model-chosen click -------------------------------------------------------
def describe_point(image: Image.Image, x: float, y: float) -> tuple[str, tuple] | None:
    """The text OCR reads at (x, y) and its box, or None (no OCR, or no text there)."""
    try:
        from agent.models.ocr import read_text

        lines = read_text(image)
    except Exception as exc:  # no OCR extra: the click stays a coordinate
        log.info("cannot read the text at model-chosen clicks: %s", exc)
        return None
    m = LABEL_MARGIN
    hits = [
        ln
        for ln in lines
        if ln.text.strip()
        and ln.box[0] - m <= x <= ln.box[2] + m
        and ln.box[1] - m <= y <= ln.box[3] + m
    ]
    if not hits:
        return None
    line = min(hits, key=lambda ln: (ln.box[2] - ln.box[0]) * (ln.box[3] - ln.box[1]))
    return line.text.strip(), tuple(float(v) for v in line.box)


def _label_from_answer(raw: str) -> str | None:
    """A grounding answer's own ``"label"`` (Qwen's bbox JSON), if it gave one."""
    start = raw.find("[")
    try:
        items = json.loads(raw[start : raw.rfind("]") + 1]) if start >= 0 else None
    except ValueError:
        return None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        label = items[0].get("label")
        return label.strip() if isinstance(label, str) and label.strip() else None
    return None


# -- steps -----------------------------------------------------------------------------
def _literal(text: str) -> str:
    """Text for a task file: a ``$`` would start a ${VAR}, so it is written ``$$``."""
    return text.replace("$", "$$")


def _point_verb(action: dict[str, Any], index: int) -> str:
    kind = action.get("type")
    if kind == "long_press":
        return "long_press"
    count, button = int(action.get("count") or 1), action.get("button", "left")
    verb = {(1, "left"): "click", (2, "left"): "double_click", (1, "right"): "right_click"}.get(
        (count, button)
    )
    if verb is None:
        raise InputError(f"step {index}: a {button} click x{count} has no task-file step")
    return verb


def _compile_step(run: RunFolder, step: StepRecord) -> CompiledStep | None:
    action = step.action or {}
    kind = action.get("type")
    i = step.index
    if step.verb in ("wait_for", "assert") and step.instruction:
        arg = {"text": _literal(step.instruction), "timeout": 30} if step.verb == "wait_for" else (
            _literal(step.instruction))  # fmt: skip
        return CompiledStep(step={step.verb: arg}, source=i)
    if kind is None or kind == "terminate":
        return None
    if step.note and "actions; all were performed" in step.note:
        raise InputError(f"step {i}: one answer held several actions and only the last was "
                         "recorded; it cannot be compiled")  # fmt: skip
    if kind == "launch":
        return CompiledStep(step={"launch": action["target"]}, source=i)
    if kind == "open_app":
        return CompiledStep(step={"launch": action["app"]}, source=i)
    if kind == "wait":
        return CompiledStep(step={"wait": float(action.get("seconds", 0))}, source=i)
    if kind == "key":
        return CompiledStep(step={"key": "+".join(action.get("keys", []))}, source=i)
    if kind == "system_button":
        return CompiledStep(step={"key": action["button"]}, source=i)
    if kind == "type":
        text = str(action.get("text", ""))
        if MASK in text:
            if not step.template:
                raise InputError(f"step {i} typed a secret that was not recorded as ${{VAR}}; "
                                 "it cannot be compiled")  # fmt: skip
            return CompiledStep(step={"type": step.template}, source=i, comment="secret")
        return CompiledStep(step={"type": _literal(text)}, source=i)
    if kind == "swipe":
        keys = ("x", "y", "to_x", "to_y", "duration")
        return CompiledStep(step={"swipe": {k: action[k] for k in keys if k in action}}, source=i)
    if kind == "scroll":
        amount, axis = int(action["amount"]), action.get("axis", "vertical")
        where: dict[str, Any] = {}
        if step.source == "script" and step.instruction and step.model is not None:
            where = {"target": step.instruction}
        elif action.get("x") is not None:
            where = {"x": action["x"], "y": action["y"]}
        return CompiledStep(step={"scroll": {**where, "amount": amount, "axis": axis}}, source=i)
    if kind in ("click", "long_press"):
        return _compile_point(run, step, action)
    declared = _declared_step(action)
    if declared is not None:
        return CompiledStep(step=declared, source=i)
    raise InputError(f"step {i}: a {kind} action has no task-file step; it cannot be compiled")


def _declared_step(action: dict[str, Any]) -> dict[str, Any] | None:
    """The step `actions.vocabulary` declares for an action type (e.g. hold_key)."""
    try:
        return compiled_step(parse_action(action))
    except ValueError:  # not an action this version reads: the caller refuses it
        return None


def _compile_point(run: RunFolder, step: StepRecord, action: dict[str, Any]) -> CompiledStep:
    verb = _point_verb(action, step.index)
    point = (float(action["x"]), float(action["y"]))
    coordinates = {verb: {"x": round(point[0], 1), "y": round(point[1], 1)}}
    grounded = step.model is not None or (step.cache is not None and step.cache.status != "off")
    if step.source == "script":
        if not (grounded and step.instruction):
            return CompiledStep(step=coordinates, source=step.index)
        box = step.model.box if step.model is not None else step.cache.box  # type: ignore[union-attr]
        return CompiledStep(step={verb: step.instruction}, source=step.index,
                            seed=(step.instruction, point, box))  # fmt: skip
    label = _label_from_answer(step.model.raw) if step.model is not None else None
    found = describe_point(_screenshot(run, step), *point)
    if label is None and found is not None:
        label = found[0]
    if label is None:
        return CompiledStep(step=coordinates, source=step.index,
                            comment="no text at this point to name it by")  # fmt: skip
    box = found[1] if found is not None else None
    return CompiledStep(step={verb: label}, source=step.index, comment="chosen by the model",
                        seed=(label, point, box))  # fmt: skip


# -- the task file ---------------------------------------------------------------------
def _env(run: RunFolder) -> dict[str, Any]:
    env = {k: v for k, v in (run.info.env or {}).items() if k != "display" and v is not None}
    return {run.info.platform: env}


def _model_section(spec: ModelSpec) -> dict[str, Any]:
    if spec.backend == "ocr":
        return {"backend": "ocr"}
    section = spec.model_dump(mode="json", exclude_defaults=True, exclude={"api_key"})
    profile = spec.resolve().profile
    low, high = spec.pixel_limits(profile)
    # written out, so the task keeps the identity its cache was seeded under
    return {"backend": spec.backend, **section, "profile": profile.name, "min_pixels": low,
            "max_pixels": high}  # fmt: skip


def _yaml(value: Any) -> str:
    """One value as YAML on one line (flow style; text with line breaks double-quoted)."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML scalar
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=None, allow_unicode=True,
                          width=1_000_000)  # fmt: skip
    return text.strip().removesuffix("...").strip()


def render_task(run: RunFolder, name: str, spec: ModelSpec, steps: list[CompiledStep]) -> str:
    """The task file's text: header comments, then name, env, model, steps."""
    head = {
        "name": name,
        "env": _env(run),
        "model": _model_section(spec),
    }
    lines = [
        f"# Compiled by `agent compile` from the run folder {run.path}",
        f"# (run {run.info.name!r}, {run.info.status}). Clicks the model chose are named after",
        "# the text at their point; the locate cache beside this file holds where each one",
        "# was, so this task replays without model calls while the screen looks the same.",
        _yaml(head),
        "steps:",
    ]
    for item in steps:
        ((verb, value),) = item.step.items()
        body = f"{verb}: {_yaml(value)}"
        note = f"  # run step {item.source}" + (f": {item.comment}" if item.comment else "")
        lines.append(f"  - {body}{note}")
    lines.append(f"max_steps: {max(30, len(steps) + 10)}")
    return "\n".join(lines) + "\n"


def _task_name(run: RunFolder) -> str:
    name = re.sub(r"[^\w .,@+-]+", "-", run.info.name).strip() or "compiled"
    return name[:200]


# -- the whole compilation -------------------------------------------------------------
def compile_run(run_dir: str | Path, *, name: str | None = None) -> Compiled:
    """Compile a run folder; nothing is written (see `write_compiled`).

    Raises:
        InputError: the folder is not a usable run (dry run, an action with no
            task-file step, a secret that was not a ${VAR}, a file outside it).
    """
    run = read_run(run_dir)
    if run.info.dry_run:
        raise InputError(f"{run.path}: a dry run sent nothing; compile a real run")
    spec = _spec(run)
    steps: list[CompiledStep] = []
    secrets = SecretAreas()
    seeds: list[tuple[CompiledStep, StepRecord, SecretAreas]] = []
    for record in run.steps:
        if record.status != "ok":
            continue
        item = _compile_step(run, record)
        if item is not None:
            steps.append(item)
            if item.seed is not None:  # where secrets were typed so far
                seeds.append((item, record, copy.deepcopy(secrets)))
        if record.action:
            action = record.action
            secret = action.get("type") == "type" and MASK in str(action.get("text", ""))
            scale = float((record.geometry or {}).get("scale", 1.0))
            secrets.note_action(SimpleNamespace(**action), secret, scale)
    if not steps:
        raise InputError(f"{run.path}: nothing to compile (no recorded step succeeded)")
    text = render_task(run, name or _task_name(run), spec, steps)
    try:
        task = Task.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise InputError(f"{run.path}: the compiled task is invalid: {loc}: {err['msg']}") from None
    compiled = Compiled(text=text, task=task)
    identity = model_identity(task.model)
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
    """Write the task file (atomically) and seed its locate cache; the cache folder, if any."""
    path = Path(out)
    if path.exists() and not force:
        raise InputError(f"{path} already exists (use --force to overwrite it)")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a task file name such as task.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(compiled.text, encoding="utf-8")
    os.replace(tmp, path)
    folder = cache_folder(path, CacheSettings())
    if folder is None or not compiled.entries:
        return None
    cache = LocateCache(LocateStore(folder), model_identity(compiled.task.model), "read-write")
    cache.add(compiled.entries, compiled.crops)
    return folder
