"""Parse what a model wrote into typed actions in screenshot pixels.

Formats understood (REFERENCE 2), tried in this order:

* Qwen tool calls: ``<tool_call>{"name": "computer_use", "arguments": {...}}</tool_call>``
  for computer_use and mobile_use, and the variants seen in real runs: the verb
  as the function name, ``"arguments": [x, y]``, an extra or missing closing
  brace, extra keys, text cut off after the coordinate.
* UI-TARS ``Action: click(start_box='(x,y)')`` lines (and ``<point>x y</point>``).
* Qwen2-VL ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` (the last complete box
  wins, as in the official ScreenSpot-Pro harness).
* XML ``<points x1=".." y1="..">`` / ``<point x=".." y="..">``.
* Grounding JSON: ``bbox_2d`` / ``point_2d`` objects, fenced or not; a
  truncated list is cut at its last complete object.
* A bare ``(x, y)``, ``[x, y]`` or ``[x1, y1, x2, y2]``.

A box yields its centre as the point. Model text is only ever read with
`json` and regular expressions, never evaluated. `parse_answer` never raises:
unusable text gives a `ParsedAnswer` whose `error` says why and whose `raw`
keeps the text.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.frames import CoordinateFrame
from actions.tool_calls import UnknownVerb, build_action
from actions.types import Action, Click

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
Point = tuple[float, float]

_END_TOKENS = re.compile(r"<\|(?:im_end|endoftext|end)\|>")
_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_QWEN2_BOX = re.compile(
    rf"<\|box_start\|>\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*,\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)"
    r"\s*<\|box_end\|>"
)
_XML_POINTS = re.compile(r"<points?\b([^>]*)>", re.IGNORECASE)
_XML_ATTR = re.compile(r"""(\w+)\s*=\s*["']([^"']*)["']""")
_BARE = re.compile(
    rf"^[\(\[]\s*({_NUM})\s*,\s*({_NUM})\s*(?:,\s*({_NUM})\s*,\s*({_NUM})\s*)?[\)\]]$"
)
_UITARS_ACTION = re.compile(r"Action\s*:\s*(.+)", re.DOTALL)
_UITARS_CALL = re.compile(r"([a-z_]+)\s*\((.*?)\)\s*(?=$|\n|[a-z_]+\s*\()", re.DOTALL)
_UITARS_ARG = re.compile(r"""(\w+)\s*=\s*(['"])((?:\\.|(?!\2).)*)\2""", re.DOTALL)
_GROUNDING_KEYS = ("bbox_2d", "point_2d", "bbox", "box", "point", "coordinate", "position")
UITARS_SCROLL_CLICKS = 5


class ParsedAnswer(BaseModel):
    """The actions read from one model answer, or why none could be read."""

    model_config = ConfigDict(frozen=True)

    raw: str
    actions: list[Action] = Field(default_factory=list)
    model_points: list[Point] = Field(default_factory=list)
    point: Point | None = Field(None, description="grounding point, screenshot pixels")
    box: Box | None = Field(None, description="box, screenshot pixels")
    model_box: Box | None = None
    format: str | None = Field(None, description="which answer format was recognised")
    error: str | None = None
    refused: bool = Field(False, description="the model said the target is not on the screen")

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.actions)


class _Unusable(Exception):
    """Internal: this text has the format but no usable content."""


def parse_answer(text: str, frame: CoordinateFrame, *, mobile: bool = False) -> ParsedAnswer:
    """Read the actions out of `text`, mapping model-space points through `frame`.

    Args:
        text: the model's raw answer (a prefilled reply start included).
        frame: the frame the model answered in (family, image and model size).
        mobile: read a bare tool call as mobile_use (``click``) rather than computer_use.
    """
    raw = text if isinstance(text, str) else str(text)
    try:
        return _parse(raw, frame, mobile)
    except _Unusable as exc:
        return ParsedAnswer(raw=raw, error=str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return ParsedAnswer(raw=raw, error=f"invalid action: {loc}: {first.get('msg')}")
    except Exception as exc:  # never let model text crash the caller
        log.warning("parser failed on model text: %s", exc, exc_info=True)
        return ParsedAnswer(raw=raw, error=f"unparseable answer ({type(exc).__name__})")


def _parse(raw: str, frame: CoordinateFrame, mobile: bool) -> ParsedAnswer:
    text = _END_TOKENS.sub("", raw).strip()
    if not text:
        raise _Unusable("empty answer")
    if "<tool_call>" in text or re.search(r'"name"\s*:\s*"[^"]+"\s*,\s*"arguments"', text):
        return _from_tool_calls(raw, text, frame, mobile)
    match = _UITARS_ACTION.search(text)
    if match and _UITARS_CALL.search(match.group(1).strip()):
        return _from_uitars(raw, match.group(1).strip(), frame)
    boxes = _QWEN2_BOX.findall(text)
    if boxes:
        return _grounding(raw, frame, box=tuple(float(v) for v in boxes[-1]), fmt="qwen2-vl box")
    if "<|box_start|>" in text:
        point = _point_in(text.split("<|box_start|>", 1)[1].split("<|box_end|>", 1)[0])
        if point:
            return _grounding(raw, frame, point=point, fmt="box-token point")
        raise _Unusable("no complete <|box_start|>(x1,y1),(x2,y2)<|box_end|> box in the answer")
    xml = _from_xml(text)
    if xml is not None:
        return _grounding(raw, frame, fmt="xml point", **xml)
    found = _from_json(text)
    if found is not None:
        return _grounding(raw, frame, fmt="grounding json", **found)
    bare = _BARE.match(text)
    if bare:
        values = [float(v) for v in bare.groups() if v is not None]
        if len(values) == 4:
            return _grounding(raw, frame, box=tuple(values), fmt="bare box")
        return _grounding(raw, frame, point=(values[0], values[1]), fmt="bare point")
    raise _Unusable("no coordinate or action found in the answer")


# -- grounding answers ------------------------------------------------------------------


def _finite(*values: float) -> None:
    if not all(math.isfinite(v) for v in values):
        raise _Unusable("coordinate is not a finite number")


def _grounding(
    raw: str,
    frame: CoordinateFrame,
    *,
    fmt: str,
    point: Point | None = None,
    box: Box | None = None,
) -> ParsedAnswer:
    model_box: Box | None = None
    image_box: Box | None = None
    if box is not None:
        _finite(*box)
        model_box = (
            min(box[0], box[2]),
            min(box[1], box[3]),
            max(box[0], box[2]),
            max(box[1], box[3]),
        )
        image_box = frame.model_box_to_image(model_box)
        point = ((model_box[0] + model_box[2]) / 2, (model_box[1] + model_box[3]) / 2)
    if point is None:
        raise _Unusable("no coordinate in the answer")
    _finite(*point)
    x, y = frame.model_to_image(*point)
    return ParsedAnswer(
        raw=raw,
        actions=[Click(x=x, y=y)],
        model_points=[(float(point[0]), float(point[1]))],
        point=(x, y),
        box=image_box,
        model_box=model_box,
        format=fmt,
    )


def _numbers(value: Any) -> list[float] | None:
    """A flat list of numbers from a JSON value such as [x, y] or "(x, y)"."""
    if isinstance(value, str):
        found = re.findall(_NUM, value)
        return [float(v) for v in found] if found else None
    if isinstance(value, (list, tuple)):
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        if flat and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            return [float(v) for v in flat]
    return None


def _point_in(text: str) -> Point | None:
    found = re.findall(_NUM, text)
    if len(found) == 2:
        return float(found[0]), float(found[1])
    return None


def _from_xml(text: str) -> dict[str, Any] | None:
    for match in _XML_POINTS.finditer(text):
        attrs = {k.lower(): v for k, v in _XML_ATTR.findall(match.group(1))}
        x = attrs.get("x1", attrs.get("x"))
        y = attrs.get("y1", attrs.get("y"))
        if x is not None and y is not None:
            try:
                return {"point": (float(x), float(y))}
            except ValueError:
                continue
    # UI-TARS style <point>x y</point>
    point = re.search(rf"<point>\s*({_NUM})[\s,]+({_NUM})\s*</point>", text)
    if point:
        return {"point": (float(point.group(1)), float(point.group(2)))}
    return None


def _json_objects(text: str) -> list[Any]:
    """Every complete JSON value that starts at a '{' or '[' (truncated ones are skipped)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    while index < len(text):
        starts = [i for i in (text.find("{", index), text.find("[", index)) if i != -1]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        values.append(value)
        index = end
    return values


def _grounding_from_value(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        for item in value:
            found = _grounding_from_value(item)
            if found is not None:
                return found
        return None
    if not isinstance(value, dict):
        return None
    # {"x": .., "y": ..}: Holo1.5's click_absolute and Holo2's answers.
    xy = _numbers([value.get("x"), value.get("y")]) if "x" in value and "y" in value else None
    if xy and len(xy) == 2:
        return {"point": (xy[0], xy[1])}
    for key in _GROUNDING_KEYS:
        if key in value:
            numbers = _numbers(value[key])
            if numbers and len(numbers) == 4:
                return {"box": tuple(numbers)}
            if numbers and len(numbers) == 2:
                return {"point": (numbers[0], numbers[1])}
    return None


def _from_json(text: str) -> dict[str, Any] | None:
    fenced = re.search(r"```(?:json)?\s*(.*?)(?:```|$)", text, re.DOTALL)
    body = fenced.group(1) if fenced else text
    for value in _json_objects(body):
        found = _grounding_from_value(value)
        if found is not None:
            return found
    return None


# -- tool calls -------------------------------------------------------------------------


def _action_answer(
    raw: str, actions: list[Action], model_points: list[Point], fmt: str
) -> ParsedAnswer:
    """An answer made of actions; its grounding point is the first action's first point."""
    first = actions[0].points()
    return ParsedAnswer(
        raw=raw,
        actions=actions,
        model_points=model_points,
        point=first[0] if first else None,
        format=fmt,
    )


def _close_truncated(fragment: str) -> str | None:
    """Close the brackets of a JSON object cut off after a complete value, else None."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in fragment:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack:
                break
            stack.pop()
    if in_string or not stack:
        return None
    tail = fragment.rstrip()
    # Cut inside a number or after a separator: the last value may be incomplete.
    if not tail or tail[-1] not in ']}"' and not tail.endswith(("true", "false", "null")):
        return None
    return tail + "".join(reversed(stack))


def _load_call(block: str) -> Any:
    start = block.find("{")
    if start == -1:
        raise _Unusable("tool call without a JSON object")
    decoder = json.JSONDecoder()
    try:
        # raw_decode ignores anything after the first complete object (an extra "}").
        return decoder.raw_decode(block, start)[0]
    except ValueError:
        pass
    closed = _close_truncated(block[start:])
    if closed is not None:
        try:
            return json.loads(closed)
        except ValueError:
            pass
    import json_repair

    if block.rstrip().endswith("}"):
        repaired = json_repair.loads(block[start:])
        if isinstance(repaired, dict) and repaired:
            return repaired
    raise _Unusable("tool call JSON is malformed or cut off")


def _tool_blocks(text: str) -> list[str]:
    if "<tool_call>" not in text:
        return [text]
    blocks = []
    for part in text.split("<tool_call>")[1:]:
        blocks.append(part.split("</tool_call>", 1)[0])
    return blocks


def _from_tool_calls(raw: str, text: str, frame: CoordinateFrame, mobile: bool) -> ParsedAnswer:
    actions: list[Action] = []
    model_points: list[Point] = []
    errors: list[str] = []
    for block in _tool_blocks(text):
        try:
            call = _load_call(block)
            if not isinstance(call, dict):
                raise _Unusable("tool call is not a JSON object")
            name = str(call.get("name", ""))
            args = call.get("arguments", call.get("parameters", {}))
            if isinstance(args, str):
                args = _load_call(args) if "{" in args else {"coordinate": args}
            action, points = build_action(name, args, frame, mobile=mobile)
        except (_Unusable, UnknownVerb) as exc:
            errors.append(str(exc))
            continue
        actions.append(action)
        model_points.extend(points)
    if not actions:
        raise _Unusable(errors[0] if errors else "no tool call found")
    return _action_answer(raw, actions, model_points, "tool call")


# -- UI-TARS ----------------------------------------------------------------------------


def _uitars_point(args: dict[str, str], *names: str) -> Point | None:
    for name in names:
        if name in args:
            numbers = re.findall(_NUM, args[name])
            if len(numbers) == 2:
                return float(numbers[0]), float(numbers[1])
            if len(numbers) == 4:
                v = [float(n) for n in numbers]
                return (v[0] + v[2]) / 2, (v[1] + v[3]) / 2
    return None


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")


def _from_uitars(raw: str, body: str, frame: CoordinateFrame) -> ParsedAnswer:
    actions: list[Action] = []
    model_points: list[Point] = []
    for match in _UITARS_CALL.finditer(body):
        verb = match.group(1)
        args = {k: _unescape(v) for k, _, v in _UITARS_ARG.findall(match.group(2))}
        start = _uitars_point(args, "start_box", "point", "start_point")
        end = _uitars_point(args, "end_box", "end_point")
        qwen_args: dict[str, Any]
        if verb in ("click", "left_single", "left_double", "right_single", "long_press", "hover"):
            if start is None:
                raise _Unusable(f"UI-TARS {verb} without a point")
            name = {
                "click": "left_click",
                "left_single": "left_click",
                "left_double": "double_click",
                "right_single": "right_click",
                "long_press": "long_press",
                "hover": "mouse_move",
            }[verb]
            qwen_args = {"action": name, "coordinate": list(start)}
        elif verb in ("drag", "select", "swipe"):
            if start is None or end is None:
                raise _Unusable(f"UI-TARS {verb} needs a start and an end point")
            qwen_args = {
                "action": "swipe" if verb == "swipe" else "left_click_drag",
                "coordinate": list(start),
                "coordinate2": list(end),
            }
        elif verb == "hotkey":
            qwen_args = {"action": "key", "keys": args.get("key", args.get("hotkey", ""))}
        elif verb == "type":
            qwen_args = {"action": "type", "text": args.get("content", "")}
        elif verb == "scroll":
            direction = args.get("direction", "down").strip().lower()
            amount = UITARS_SCROLL_CLICKS if direction in ("up", "right") else -UITARS_SCROLL_CLICKS
            qwen_args = {
                "action": "hscroll" if direction in ("left", "right") else "scroll",
                "pixels": amount,
            }
            if start is not None:
                qwen_args["coordinate"] = list(start)
        elif verb == "wait":
            qwen_args = {"action": "wait", "time": 5}
        elif verb in ("finished", "call_user"):
            qwen_args = {
                "action": "terminate",
                "status": "success" if verb == "finished" else "failure",
                "answer": args.get("content"),
            }
        elif verb == "open_app":
            qwen_args = {"action": "open", "text": args.get("app_name", "")}
        elif verb in ("press_home", "press_back", "press_enter"):
            qwen_args = {"action": "system_button", "button": verb.split("_", 1)[1]}
        else:
            raise _Unusable(f"unknown UI-TARS action {verb!r}")
        action, points = build_action("computer_use", qwen_args, frame, mobile=False)
        actions.append(action)
        model_points.extend(points)
    if not actions:
        raise _Unusable("no UI-TARS action found")
    return _action_answer(raw, actions, model_points, "ui-tars")
