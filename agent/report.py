"""report.html: a self-contained page showing every step of a run.

Each step shows the screenshot it looked at with what was done drawn over it
(an SVG layer in the screenshot's own pixel space, so markers stay in place
at any zoom): a ring with a magenta centre where a click, tap or press went,
a line with an arrowhead for a swipe or drag, the grounded box as a dashed
rectangle. Beside it: the instruction, the model's raw answer, the parsed
action, the frames and the timings. Screenshots are embedded as base64, so
the page can be mailed or attached to a bug report as a single file.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from actions.project_errors import InputError
from actions.types import Click, Scroll
from actions.vocabulary import caption
from agent.trajectory import LaunchRecord, RunFolder, StepRecord, read_run

log = logging.getLogger(__name__)

TEMPLATE = "run_report.html.j2"
MARKER_COLOR = "#ff00ff"


class Marker(BaseModel):
    """One shape to draw over a screenshot, in its pixels."""

    kind: str  # point | line | box
    x: float = 0
    y: float = 0
    x2: float = 0
    y2: float = 0
    label: str = ""


def step_markers(step: StepRecord) -> list[Marker]:
    """What to draw for a step: the grounded box, then the action's points."""
    markers: list[Marker] = []
    box = step.model.box if step.model is not None else None
    if box is None and step.cache is not None:
        box = step.cache.box  # a target found by the locate cache, not by the model
    if step.located is not None and step.located.by == "a11y":
        box = step.located.box  # the element's own box, as the app reported it
    if box is not None:
        x1, y1, x2, y2 = box
        markers.append(Marker(kind="box", x=x1, y=y1, x2=x2, y2=y2))
    action = step.typed_action()
    if action is None:  # none, or a format-1 folder's action this version cannot type
        raw = step.action or {}
        kind, x, y, to_x, to_y = raw.get("type"), raw.get("x"), raw.get("y"), None, None
    else:
        kind, x, y = action.type, getattr(action, "x", None), getattr(action, "y", None)
        to_x, to_y = getattr(action, "to_x", None), getattr(action, "to_y", None)
    if kind in ("swipe", "drag") and to_x is not None:
        if x is not None:
            markers.append(Marker(kind="line", x=x, y=y, x2=to_x, y2=to_y, label=kind))
        else:
            markers.append(Marker(kind="point", x=to_x, y=to_y, label=kind))
    elif x is not None and y is not None:
        markers.append(Marker(kind="point", x=x, y=y, label=_point_label(action, kind)))
    elif kind is None and step.model is not None and step.model.box is not None:
        x1, y1, x2, y2 = step.model.box  # wait_for / assert: where the text was found
        markers.append(Marker(kind="point", x=(x1 + x2) / 2, y=(y1 + y2) / 2, label="found"))
    if not any(m.kind in ("point", "line") for m in markers):
        caption = _caption(step)
        if caption:
            markers.append(Marker(kind="caption", label=caption))
    return markers


def _caption(step: StepRecord) -> str:
    """A banner for steps that have no point: what was typed, pressed, launched, waited."""
    action = step.typed_action()
    if isinstance(action, LaunchRecord):  # a launch step's record, not an action
        target = action.target
        shown = target if isinstance(target, str) else " ".join(target)
        return "launch " + shown.rsplit("/", 1)[-1][:60]
    if action is not None:
        return caption(action)
    kind = (step.action or {}).get("type")
    if kind is not None:  # a folder from another version: its type, as written
        return str(kind)
    if step.verb in ("wait_for", "assert"):
        return (
            f"{step.verb} {step.instruction!r}: {'found' if step.status == 'ok' else 'not found'}"
        )
    return ""


def _point_label(action: Any, kind: str | None) -> str:
    """``click``, ``right double-click``, ``scroll up 3``, or the action's type."""
    if isinstance(action, Click):
        text = {1: "click", 2: "double-click", 3: "triple-click"}.get(action.count, "click")
        return text if action.button == "left" else f"{action.button} {text}"
    if isinstance(action, Scroll):
        pixels = action.pixels
        amount = pixels if pixels is not None else action.amount or 0
        unit = " px" if pixels is not None else ""
        return f"scroll {'up' if amount > 0 else 'down'} {abs(amount)}{unit}"
    return kind or ""


def _data_uri(run: RunFolder, rel: str | None) -> str | None:
    """A screenshot of the run folder as a data URI; only files inside the folder are read."""
    path = run.file(rel) if rel else None
    if path is None:
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _image_size(step: StepRecord) -> tuple[int, int] | None:
    if step.geometry:
        return int(step.geometry["width"]), int(step.geometry["height"])
    if step.model is not None and step.model.image_size:
        return step.model.image_size
    return None


def _describe_action(action: dict[str, Any] | None) -> str:
    if not action:
        return ""
    fields = ", ".join(f"{k}={v!r}" for k, v in action.items() if k != "type" and v is not None)
    return f"{action.get('type', '?')}({fields})"


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def render_report(run: RunFolder) -> str:
    """The report page's HTML for a run folder that was read back."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    steps = []
    for step in run.steps:
        size = _image_size(step)
        image = _data_uri(run, step.screenshot)
        steps.append(
            {
                "record": step,
                "image": image,
                "size": size,
                "markers": step_markers(step) if size else [],
                "radius": max(6.0, (max(size) if size else 1000) * 0.012),
                "action_text": _describe_action(step.action),
                "cache_text": step.cache.describe() if step.cache is not None else "",
                "timings": step.timings.model_dump(),
                "json": json.dumps(step.model_dump(mode="json"), indent=2, ensure_ascii=False),
            }
        )
    info = run.info
    duration = (info.finished - info.started) if info.finished else None
    final = _data_uri(run, info.final_screenshot)
    return env.get_template(TEMPLATE).render(
        info=info,
        steps=steps,
        duration=duration,
        started=_fmt_time(info.started),
        final_image=final,
        marker_color=MARKER_COLOR,
        model_text=", ".join(f"{k}={v}" for k, v in info.model.items() if v is not None),
        env_text=", ".join(f"{k}={v}" for k, v in info.env.items() if v is not None),
    )


def write_report(run_dir: str | Path) -> Path:
    """(Re)build ``report.html`` in a run folder from its run.json, steps and screenshots."""
    run = read_run(run_dir)
    html = render_report(run)
    out = run.path / "report.html"
    tmp = run.path / "report.html.tmp"
    try:
        # a new file moved over the old name: a report.html that is a symbolic link to a
        # file elsewhere is replaced, never written through
        tmp.unlink(missing_ok=True)
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc}") from None
    log.info("wrote %s (%d steps)", out, len(run.steps))
    return out
