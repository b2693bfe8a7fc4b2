"""Read a model's answer in the shape its profile says, then hand it to `actions.parse`.

Grounding models wrap their coordinates differently (REFERENCE 8): a
``<think>`` block first (InfiGUI-G1, Holo2), ``<grounding_think>`` then
``<answer>{"coordinate": [x, y]}</answer>`` (MAI-UI), ``[-1,-1]`` for "the
target is not on this screen" (UI-Venus-1.5), ``Click(x, y)`` (Holo1.5's
prompt), several points of which the first counts (InfiGUI-G1) or several
tool calls of which the last counts (the ScreenSpot-Pro reference for
Qwen3-VL, GUI-Owl-1.5). `AnswerFormat` describes these per profile;
`parse_model_answer` strips the wrappers, turns a refusal into a clear
"not found" error (never a click at 0,0), and parses the rest with
`actions.parse.parse_answer`. Like it, it never raises on any text.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actions.frames import CoordinateFrame, PointOutsideFrame
from actions.parse import ParsedAnswer, parse_answer
from actions.types import Click, Drag, Swipe

log = logging.getLogger(__name__)

_NUM = r"[-+]?\d+(?:\.\d+)?"
_REFUSAL = re.compile(r"^[\[\(]\s*-1(?:\.0+)?\s*,\s*-1(?:\.0+)?\s*[\]\)]$")
_CALL_POINT = re.compile(rf"\b[Cc]lick\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)")
_LOOSE_POINT = re.compile(rf"[\[\(]\s*({_NUM})\s*,\s*({_NUM})\s*[\]\)]")
_TAG_BLOCK = "<{tag}>(.*?)(?:</{tag}>|$)"
NOT_FOUND = "not found: the model says the target is not on this screen"


class AnswerFormat(BaseModel):
    """How one profile's answers are wrapped (all optional: the default reads any shape)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    think: bool = Field(False, description="the answer follows a <think>...</think> block")
    answer_tag: str | None = Field(None, description="the answer sits in <tag>...</tag>")
    point: Literal["first", "last"] = Field(
        "first", description="which point counts when the answer holds several"
    )
    loose_point: bool = Field(
        False, description="fall back to the first (x, y) or [x, y] anywhere in the text"
    )


DEFAULT_FORMAT = AnswerFormat()


def _strip_think(text: str) -> str:
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        return ""  # cut off while thinking: no answer yet
    return text


def _tag_body(text: str, tag: str) -> str | None:
    found = re.findall(_TAG_BLOCK.format(tag=re.escape(tag)), text, re.DOTALL)
    return found[-1] if found else None


def answer_body(text: str, fmt: AnswerFormat = DEFAULT_FORMAT) -> str:
    """The part of `text` that holds the answer, wrappers removed."""
    body = text
    if fmt.think or "</think>" in body:
        body = _strip_think(body)
    body = re.sub(r"<grounding_think>.*?(?:</grounding_think>|$)", "", body, flags=re.DOTALL)
    if fmt.answer_tag:
        inner = _tag_body(body, fmt.answer_tag)
        if inner is not None:
            body = inner
    return body.strip()


def is_refusal(body: str) -> bool:
    """Whether the answer is the "not on this screen" marker ``[-1,-1]``."""
    return bool(_REFUSAL.match(body.strip()))


def parse_model_answer(
    text: str,
    frame: CoordinateFrame,
    fmt: AnswerFormat | None = None,
    *,
    mobile: bool = False,
    grounding: bool = False,
) -> ParsedAnswer:
    """Read `text` as a model of format `fmt` writes it; never raises.

    With `grounding`, an answer of several actions keeps the one whose point
    counts (`AnswerFormat.point`). The returned `raw` is always the full text
    as the model wrote it.
    """
    raw = text if isinstance(text, str) else str(text)
    fmt = fmt or DEFAULT_FORMAT
    try:
        body = answer_body(raw, fmt)
    except Exception as exc:  # regular expressions on arbitrary text: keep the promise anyway
        log.warning("answer wrapper not readable: %s", exc, exc_info=True)
        body = raw
    if not body:
        reason = "the answer ended inside its <think> block" if "<think>" in raw else "empty answer"
        return ParsedAnswer(raw=raw, error=reason)
    if is_refusal(body):
        return ParsedAnswer(raw=raw, error=NOT_FOUND, refused=True, format="refusal")
    parsed = parse_answer(body, frame, mobile=mobile)
    if not parsed.ok:
        fallback = _point_call(body, frame, fmt)
        if fallback is not None:
            parsed = fallback
    if grounding and parsed.ok and fmt.point == "last" and len(parsed.actions) > 1:
        parsed = _last_point(parsed, frame)
    if parsed.ok and mobile:
        parsed = _drags_as_swipes(parsed)
    return parsed.model_copy(update={"raw": raw})


def _point_call(body: str, frame: CoordinateFrame, fmt: AnswerFormat) -> ParsedAnswer | None:
    match = _CALL_POINT.search(body)
    if match is None and fmt.loose_point:
        match = _LOOSE_POINT.search(body)
    if match is None:
        return None
    x, y = float(match.group(1)), float(match.group(2))
    if (x, y) == (-1.0, -1.0):
        return ParsedAnswer(raw=body, error=NOT_FOUND, refused=True, format="refusal")
    try:
        px, py = frame.model_to_image(x, y)
    except PointOutsideFrame as exc:  # unusable, never a click at the edge (as parse_answer)
        return ParsedAnswer(raw=body, error=str(exc), model_points=[exc.model_point])
    return ParsedAnswer(
        raw=body,
        actions=[Click(x=px, y=py)],
        model_points=[(x, y)],
        point=(px, py),
        format="point call" if "lick" in match.group(0) else "loose point",
    )


def _last_point(parsed: ParsedAnswer, frame: CoordinateFrame) -> ParsedAnswer:
    """Keep the last action that has a point (a mouse_move, then the left_click)."""
    for action in reversed(parsed.actions):
        points = action.points()
        if points:
            model = [frame.image_to_model(*p) for p in points]
            return parsed.model_copy(
                update={"actions": [action], "point": points[0], "model_points": model}
            )
    return parsed


def _drags_as_swipes(parsed: ParsedAnswer) -> ParsedAnswer:
    """A drag on a phone is a swipe (UI-TARS' mobile space writes drag)."""
    actions = [
        Swipe(x=a.x, y=a.y, to_x=a.to_x, to_y=a.to_y)
        if isinstance(a, Drag) and a.x is not None and a.y is not None
        else a
        for a in parsed.actions
    ]
    return parsed.model_copy(update={"actions": actions})
