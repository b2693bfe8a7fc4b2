"""How a raw answer becomes the point a ScreenSpot sample is judged on.

Two parsers, chosen with ``agent eval screenspot --parser``:

* **official** (default): what the official ScreenSpot-Pro harness
  (likaixin2000/ScreenSpot-Pro-GUI-Grounding) does with a model's raw text, one
  reader per model family, each citing the harness file it follows. An answer
  that reader cannot read has no point (``wrong_format``): nothing is repaired.
* **robust**: the lenient parser the agent uses for its steps
  (`actions.parse.parse_answer`: repairs missing or extra braces, reads many
  formats). Results judged with it are labelled non-official.

Either way the point comes back as fractions of the image's width and height,
exactly as the harness keeps it (``point / resized size`` or ``point / 1000``):
never clamped, so a point off the image stays off it and is judged wrong.
Facts taken from the harness (read, not copied):

* ``models/qwen2_5vl.py``: the reply (prefill included) is cut after its last
  ``}``; the text between the first ``<tool_call>\\n`` and the next
  ``\\n</tool_call>`` must be one JSON object (``json.loads``: an extra or a
  missing brace fails); ``arguments.coordinate`` of 2 numbers is the point, of
  4 numbers a box whose centre ``((x1 + x2) / 2, (y1 + y2) / 2)`` is the point;
  the point is divided by the resized image's width and height.
* ``models/qwen3vl.py`` (upstream commit 573b40ef): the JSON is the text between
  the last ``<tool_call>\\n`` and the ``\\n</tool_call>`` that follows it (no cut,
  no prefill); the same 2-or-4 rule; divided by 1000.
* ``models/qwen2vl.py``: with both ``<|box_start|>`` and ``<|box_end|>`` in the
  answer, the last ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` with integer
  coordinates and no spaces gives the centre of ``coordinate / 1000``; without
  the tokens, every number in the text (``-?\\d+\\.?\\d*``) counts: 2 are the
  point, 4 a box, any other count no point; divided by 1000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from actions.errors import InputError
from actions.frames import CoordinateFrame, ModelFamily
from actions.parse import parse_answer

ParserName = Literal["official", "robust"]
Fraction = tuple[float, float]


class Reading(BaseModel):
    """What a parser read from one answer."""

    model_config = ConfigDict(frozen=True)

    point: Fraction | None = None  # fractions of the image's width, height; None: wrong_format
    model_xy: tuple[float, float] | None = None  # the point as the model wrote it
    error: str | None = None


def _number(value: Any) -> bool:
    # json gives int, float (NaN and Infinity included) or bool; Python's arithmetic takes
    # true/false as 1/0, and so does the harness.
    return isinstance(value, (int, float))


def _coordinate(call: Any) -> tuple[float, float] | str:
    """The point of a parsed tool call: 2 numbers, or the centre of 4; else why not."""
    args = call.get("arguments") if isinstance(call, dict) else None
    if not isinstance(args, dict) or "coordinate" not in args:
        return "the tool call has no arguments.coordinate"
    value = args["coordinate"]
    if not isinstance(value, list) or not all(_number(v) for v in value):
        return f"coordinate is not a list of numbers: {json.dumps(value)[:80]}"
    if len(value) == 2:
        return value[0], value[1]
    if len(value) == 4:
        return (value[0] + value[2]) / 2, (value[1] + value[3]) / 2
    return f"coordinate has {len(value)} numbers (2 or 4 are read)"


def _load_call(body: str) -> Any | str:
    try:
        return json.loads(body)
    except ValueError as exc:
        return f"tool call JSON does not parse ({exc.__class__.__name__}: {exc})"


def _divide(point: tuple[float, float], width: float, height: float) -> Reading:
    try:
        return Reading(point=(point[0] / width, point[1] / height), model_xy=point)
    except OverflowError:  # an integer too large for a float: the harness would crash
        return Reading(error="coordinate too large")


def read_qwen2_5_vl(raw: str, frame: CoordinateFrame) -> Reading:
    """ScreenSpot-Pro models/qwen2_5vl.py: the first tool call, cut after the last brace."""
    cut = raw.rfind("}")
    text = raw[: cut + 1] if cut != -1 else raw
    parts = text.split("<tool_call>\n")
    if len(parts) < 2:
        return Reading(error="no '<tool_call>' line in the answer")
    call = _load_call(parts[1].split("\n</tool_call>")[0])
    if isinstance(call, str):
        return Reading(error=call)
    point = _coordinate(call)
    if isinstance(point, str):
        return Reading(error=point)
    width, height = frame.model_size
    return _divide(point, width, height)


def read_qwen3_vl(raw: str, frame: CoordinateFrame) -> Reading:
    """ScreenSpot-Pro models/qwen3vl.py: the last tool call, closed by ``\\n</tool_call>``."""
    pieces = raw.split("<tool_call>\n")[-1].split("\n</tool_call>")
    if len(pieces) < 2:
        return Reading(error="the last tool call is not closed by '\\n</tool_call>'")
    call = _load_call(pieces[-2])
    if isinstance(call, str):
        return Reading(error=call)
    point = _coordinate(call)
    if isinstance(point, str):
        return Reading(error=point)
    return _divide(point, 1000, 1000)


_QWEN2_BOX = re.compile(r"<\|box_start\|>\((\d+),(\d+)\),\((\d+),(\d+)\)<\|box_end\|>")
_QWEN2_NUMBER = re.compile(r"-?\d+\.?\d*")


def read_qwen2_vl(raw: str, frame: CoordinateFrame) -> Reading:
    """ScreenSpot-Pro models/qwen2vl.py: the last box-token box, else the answer's numbers."""
    if "<|box_start|>" in raw and "<|box_end|>" in raw:
        boxes = _QWEN2_BOX.findall(raw)
        if not boxes:
            return Reading(error="no <|box_start|>(x1,y1),(x2,y2)<|box_end|> box")
        x1, y1, x2, y2 = (int(v) for v in boxes[-1])
        # Divided first, then averaged, as the harness does (the same bits in `pred`).
        point = ((x1 / 1000 + x2 / 1000) / 2, (y1 / 1000 + y2 / 1000) / 2)
        return Reading(point=point, model_xy=((x1 + x2) / 2, (y1 + y2) / 2))
    numbers = [float(v) for v in _QWEN2_NUMBER.findall(raw)]
    if len(numbers) == 2:
        point = (numbers[0], numbers[1])
    elif len(numbers) == 4:
        point = ((numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2)
    else:
        return Reading(error=f"{len(numbers)} numbers in the answer (2 or 4 are read)")
    return Reading(point=(point[0] / 1000, point[1] / 1000), model_xy=point)


Reader = Callable[[str, CoordinateFrame], Reading]


class OfficialReader(BaseModel):
    """One entry of the official readers: what it follows, and the function."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    source: str
    read: Reader


# One entry per model family the official harness has a model file for. Families without
# one (UI-TARS-1.5, 0-1 normalized) and the OCR backend have no official reader.
OFFICIAL_READERS: dict[ModelFamily, OfficialReader] = {
    ModelFamily.QWEN2_5_VL: OfficialReader(
        name="ssp-qwen2.5-vl", source="ScreenSpot-Pro models/qwen2_5vl.py", read=read_qwen2_5_vl
    ),
    ModelFamily.QWEN3_VL: OfficialReader(
        name="ssp-qwen3-vl", source="ScreenSpot-Pro models/qwen3vl.py", read=read_qwen3_vl
    ),
    ModelFamily.QWEN2_VL: OfficialReader(
        name="ssp-qwen2-vl", source="ScreenSpot-Pro models/qwen2vl.py", read=read_qwen2_vl
    ),
}


def read_robust(raw: str, frame: CoordinateFrame) -> Reading:
    """The agent's lenient parser; its model-space point, unclamped, as image fractions."""
    parsed = parse_answer(raw, frame)
    # An answer whose only fault is a point far outside the frame is a miss, not a format error.
    far_outside = parsed.error is not None and bool(parsed.model_points)
    if not parsed.ok and not far_outside:
        return Reading(error=parsed.error or "no action in the answer")
    if parsed.model_box is not None:
        x1, y1, x2, y2 = parsed.model_box
        model_xy = ((x1 + x2) / 2, (y1 + y2) / 2)
    elif parsed.model_points:
        model_xy = parsed.model_points[0]
    else:
        return Reading(error=f"the answer has no point (a {parsed.actions[0].type} action)")
    units = frame.spec.units
    width, height = frame.model_size if units is None else (units, units)
    return _divide(model_xy, width, height)


class AnswerParser(BaseModel):
    """The parser a run judges with, as the result file records it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    parser: ParserName
    reader: str
    source: str
    read: Reader

    @property
    def official(self) -> bool:
        return self.parser == "official"

    def describe(self) -> dict[str, str]:
        return {"parser": self.parser, "reader": self.reader, "source": self.source}


def answer_parser(parser: ParserName, family: ModelFamily, *, backend: str) -> AnswerParser:
    """The parser for a run; a one-line error when no official reader fits the model."""
    if parser == "robust":
        return AnswerParser(
            parser="robust",
            reader="lenient",
            source="actions.parse.parse_answer (the agent's parser)",
            read=read_robust,
        )
    entry = OFFICIAL_READERS.get(family) if backend != "ocr" else None
    if entry is None:
        what = "the OCR backend" if backend == "ocr" else f"model family {family.value}"
        known = ", ".join(f.value for f in OFFICIAL_READERS)
        raise InputError(
            f"--parser official: the ScreenSpot-Pro harness has no answer reader for {what} "
            f"(it has: {known}); pass --parser robust (results are labelled non-official)"
        )
    return AnswerParser(parser="official", reader=entry.name, source=entry.source, read=entry.read)


def to_pixels(point: Fraction | None, img_size: tuple[int, int]) -> list[float] | None:
    """The point in the original image's pixels, as the harness writes ``pred``."""
    if point is None:
        return None
    return [point[0] * img_size[0], point[1] * img_size[1]]
