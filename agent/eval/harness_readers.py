"""Official readers from the ScreenSpot-Pro harness, and how a raw answer becomes a point.

Two parsers, chosen with ``agent eval screenspot --parser`` (`agent.eval.protocol`
picks the reader for a run):

* **official** (default): one strict reader per profile, each following the code
  that produced the figures published for that model: the ScreenSpot-Pro harness
  (likaixin2000/ScreenSpot-Pro-GUI-Grounding) where it has a model file (this
  module), else the model authors' own evaluation code (`agent.eval.author_readers`).
  An answer that code cannot read has no point (``wrong_format``): nothing is
  repaired, and a reader never falls back to a click at (0, 0).
* **robust**: the lenient parser the agent uses for its steps, in the profile's
  answer format (`actions.answer_formats.parse_model_answer`: think blocks, answer tags,
  repaired braces, many shapes). Results judged with it are labelled non-official.

Either way the point comes back as fractions of the image's width and height,
exactly as the authors' code keeps it (``point / resized size`` or ``point /
1000``): never clamped, so a point off the image stays off it and is judged wrong.
Facts taken from the harness (read, not copied; SSP = likaixin2000/ScreenSpot-Pro-
GUI-Grounding @ bd8bbbb470fbc4fda2a4fa9ec90bd2572507794e):

* SSP ``models/qwen2_5vl.py``: the reply (prefill included) is cut after its last
  ``}``; the text between the first ``<tool_call>\\n`` and the next
  ``\\n</tool_call>`` must be one JSON object (``json.loads``: an extra or a
  missing brace fails); ``arguments.coordinate`` of 2 numbers is the point, of
  4 numbers a box whose centre ``((x1 + x2) / 2, (y1 + y2) / 2)`` is the point;
  the point is divided by the resized image's width and height.
* ``models/qwen3vl.py`` (upstream commit 573b40ef, read in the fork
  anaicalledsolaris/ScreenSpot-Pro-GUI-Grounding): the JSON is the text between
  the last ``<tool_call>\\n`` and the ``\\n</tool_call>`` that follows it (no cut,
  no prefill); the same 2-or-4 rule; divided by 1000.
* SSP ``models/qwen2vl.py``: with both ``<|box_start|>`` and ``<|box_end|>`` in the
  answer, the last ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` with integer
  coordinates and no spaces gives the centre of ``coordinate / 1000``; without
  the tokens, every number in the text (``-?\\d+\\.?\\d*``) counts: 2 are the
  point, 4 a box, any other count no point; divided by 1000.
* SSP ``models/holo1_5.py``: the stripped answer must validate as the JSON object
  ``{"action": "click_absolute" (optional), "x": int, "y": int}`` (pydantic
  ``model_validate_json``, extra keys ignored); divided by the resized size. The
  harness resamples once at temperature 1 when that fails; screenpilot decodes
  greedily only, so such an answer stays ``wrong_format``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from actions.answer_formats import AnswerFormat, parse_model_answer
from actions.frames import SPACE_UNITS, CoordinateFrame

ParserName = Literal["official", "robust"]
Fraction = tuple[float, float]


class Reading(BaseModel):
    """What a parser read from one answer."""

    model_config = ConfigDict(frozen=True)

    point: Fraction | None = None  # fractions of the image's width, height; None: wrong_format
    model_xy: tuple[float, float] | None = None  # the point as the model wrote it
    error: str | None = None
    refused: bool = False  # the model said the target is not there ([-1,-1])


Reader = Callable[[str, CoordinateFrame], Reading]


def is_number(value: Any) -> bool:
    """An int, float or bool, as Python's arithmetic (and so the authors' code) takes it."""
    return isinstance(value, (int, float))


def divide(point: tuple[float, float], width: float, height: float) -> Reading:
    """The model point as fractions of `width` x `height` (the resized size, or 1000)."""
    try:
        return Reading(point=(point[0] / width, point[1] / height), model_xy=point)
    except OverflowError:  # an integer too large for a float: the authors' code would crash
        return Reading(error="coordinate too large")


def by_resized_size(point: tuple[float, float], frame: CoordinateFrame) -> Reading:
    """Divided by the size of the image the model saw (absolute-pixel models)."""
    width, height = frame.model_size
    return divide(point, width, height)


def _coordinate(call: Any) -> tuple[float, float] | str:
    """The point of a parsed tool call: 2 numbers, or the centre of 4; else why not."""
    args = call.get("arguments") if isinstance(call, dict) else None
    if not isinstance(args, dict) or "coordinate" not in args:
        return "the tool call has no arguments.coordinate"
    value = args["coordinate"]
    if not isinstance(value, list) or not all(is_number(v) for v in value):
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


def read_qwen2_5_vl(raw: str, frame: CoordinateFrame) -> Reading:
    """SSP models/qwen2_5vl.py: the first tool call, cut after the last brace."""
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
    return by_resized_size(point, frame)


def read_qwen3_vl(raw: str, frame: CoordinateFrame) -> Reading:
    """SSP models/qwen3vl.py: the last tool call, closed by ``\\n</tool_call>``."""
    pieces = raw.split("<tool_call>\n")[-1].split("\n</tool_call>")
    if len(pieces) < 2:
        return Reading(error="the last tool call is not closed by '\\n</tool_call>'")
    call = _load_call(pieces[-2])
    if isinstance(call, str):
        return Reading(error=call)
    point = _coordinate(call)
    if isinstance(point, str):
        return Reading(error=point)
    return divide(point, 1000, 1000)


_QWEN2_BOX = re.compile(r"<\|box_start\|>\((\d+),(\d+)\),\((\d+),(\d+)\)<\|box_end\|>")
_QWEN2_NUMBER = re.compile(r"-?\d+\.?\d*")


def read_qwen2_vl(raw: str, frame: CoordinateFrame) -> Reading:
    """SSP models/qwen2vl.py: the last box-token box, else the answer's numbers."""
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
    return divide(point, 1000, 1000)


class _ClickAbsolute(BaseModel):
    """The answer SSP models/holo1_5.py validates (its ClickAbsoluteAction's fields)."""

    action: Literal["click_absolute"] = "click_absolute"
    x: int
    y: int


def validation_error(exc: ValidationError) -> str:
    """One line for the first problem pydantic found in an answer."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
    return f"{where}: {first.get('msg', 'invalid')}"


def read_holo1_5(raw: str, frame: CoordinateFrame) -> Reading:
    """SSP models/holo1_5.py: one JSON click_absolute object, in resized pixels."""
    try:
        click = _ClickAbsolute.model_validate_json(raw.strip())
    except ValidationError as exc:
        return Reading(error=f"not the click_absolute JSON object ({validation_error(exc)})")
    return by_resized_size((click.x, click.y), frame)


def read_robust(raw: str, frame: CoordinateFrame, fmt: AnswerFormat | None = None) -> Reading:
    """The agent's lenient parser in the profile's answer format `fmt`; its model-space
    point, unclamped, as image fractions."""
    parsed = parse_model_answer(raw, frame, fmt, grounding=True)
    # An answer whose only fault is a point far outside the frame is a miss, not a format error.
    far_outside = parsed.error is not None and bool(parsed.model_points)
    if not parsed.ok and not far_outside:
        return Reading(error=parsed.error or "no action in the answer", refused=parsed.refused)
    if parsed.model_box is not None:
        x1, y1, x2, y2 = parsed.model_box
        model_xy = ((x1 + x2) / 2, (y1 + y2) / 2)
    elif parsed.model_points:
        model_xy = parsed.model_points[0]
    else:
        return Reading(error=f"the answer has no point (a {parsed.actions[0].type} action)")
    units = SPACE_UNITS[frame.space]
    if units is None:
        return by_resized_size(model_xy, frame)
    return divide(model_xy, units, units)


def to_pixels(point: Fraction | None, img_size: tuple[int, int]) -> list[float] | None:
    """The point in the original image's pixels, as the harness writes ``pred``."""
    if point is None:
        return None
    return [point[0] * img_size[0], point[1] * img_size[1]]
