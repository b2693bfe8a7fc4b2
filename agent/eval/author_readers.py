"""Official readers for the profiles the ScreenSpot-Pro harness has no model file for.

Each follows the code the model's authors published to turn a raw answer into
a point (their ScreenSpot-Pro script where there is one, else their own answer
parser), read from the cited commit: facts, not copied code. Where that code
falls back to a click at (0, 0) on an answer it cannot read (UI-Venus-Ground,
GTA1, GUI-Owl-1.5), these readers return no point instead: the answer counts as
``wrong_format`` (issue 14: an unreadable answer is never repaired). Both count
as wrong; only a target box that contains the image's top-left corner would
score differently.

Where the authors' code uses Python's ``eval`` on the answer, these readers use
``ast.literal_eval`` on text already matched to a list of numbers (the same value
for every such text, and nothing is executed); UI-TARS' own parser uses
``ast.parse``, as here.

Sources (repository @ commit, file):
  UITARS   bytedance/UI-TARS @ 582f3a7ea5d285ee8ed9e2e84048d1ab01453c49
  GTA1     Yan98/GTA1 @ 81f0c4c2997cf6ad696d42f47c5480f4c856b73a
  VENUS    inclusionAI/UI-Venus (commits named per reader)
  MOBAG    X-PLUG/MobileAgent @ 11cea575561fb7800b5fb6b6cafa56f7a91de11f
  MAIUI    Tongyi-MAI/MAI-UI @ 4dd07b9e910a294f001452e888514d912b96cc41
  HAI      hcompai/hai-cookbook @ 2ba89619bdcfe729d31649d976bdaa7b9551e216
  INFIGUI  InfiXAI/InfiGUI-G1 @ 22208e4d4826626731292fa08bb73ec9fc6f9b15
"""

from __future__ import annotations

import ast
import json
import math
import re
import struct
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from actions.frames import CoordinateFrame
from agent.eval.harness_readers import Reading, by_resized_size, divide, is_number, validation_error

# Failures of Python's own literal and number parsing on arbitrary text.
_PARSE_ERRORS = (ValueError, SyntaxError, TypeError, OverflowError, MemoryError, RecursionError)


# -- UI-TARS-1.5 ---------------------------------------------------------------------------
# UITARS codes/ui_tars/action_parser.py parse_action_to_structure_output (model_type
# "qwen25vl") and parsing_response_to_pyautogui_code. The authors publish no ScreenSpot-Pro
# script; this is their parser for every answer. Facts:
# * the stripped answer has each <point>x y</point> (integers) replaced by (x,y), [EOS]
#   removed; then start_point= / end_point= / point= are renamed start_box= / end_box=;
# * "Action:" must occur; the text after the last "Action: " is split at ")\n\n" into
#   actions, each closed with ")" if it is not; a type(content='...') action is rebuilt with
#   its quotes escaped (no content='...' in it: the whole answer fails);
# * each action is parsed with ast (an expression that is a call, keyword values constant;
#   otherwise the whole answer fails); every non-empty keyword value must be a string;
# * a start_box / end_box value loses its parentheses, is split at commas and each part read
#   with float(): odd positions divided by the resized width, even ones by the height; two
#   numbers become the box (x, y, x, y);
# * the click is the centre of the 4-number start_box ((x1 + x2) / 2, (y1 + y2) / 2).
# Screenpilot's choices where their code stops at a list of actions: the first action's
# start_box is the point (a grounding answer holds one action); the pyautogui step's
# rounding of pixels to 3 decimals is not applied (fractions are judged).
_UITARS_POINT = re.compile(r"<point>(\d+)\s+(\d+)</point>")
_UITARS_TYPE = re.compile(r"type\(content='(.*?)'\)")
_UNESCAPED_QUOTE = re.compile(r"(?<!\\)'")


def _uitars_actions(text: str) -> list[str] | str:
    """The answer's action strings, as the parser splits them; or why it fails."""
    if "Action:" not in text:
        return "no 'Action:' in the answer"
    actions = []
    for piece in text.split("Action: ")[-1].split(")\n\n"):
        if "type(content" in piece:
            if not piece.strip().endswith(")"):
                piece = piece.strip() + ")"
            if not _UITARS_TYPE.search(piece):
                return "a type action without content='...'"
            content = _UITARS_TYPE.sub(lambda m: m.group(1), piece)
            piece = "type(content='" + _UNESCAPED_QUOTE.sub(r"\\'", content) + "')"
        if not piece.strip().endswith(")"):
            piece = piece.strip() + ")"
        actions.append(piece)
    return actions


def _uitars_call(action: str) -> dict[str | None, Any] | str:
    """The keyword arguments of one action call (constants only), parsed, never run."""
    try:
        node = ast.parse(action.replace("\n", "\\n").lstrip(), mode="eval")
    except _PARSE_ERRORS as exc:
        return f"action {action[:60]!r} does not parse ({type(exc).__name__})"
    if not isinstance(node.body, ast.Call):
        return f"action {action[:60]!r} is not a call"
    return {
        kw.arg: kw.value.value if isinstance(kw.value, ast.Constant) else None
        for kw in node.body.keywords
    }


def _uitars_box(value: Any, frame: CoordinateFrame) -> list[float] | str:
    if not isinstance(value, str):
        return f"a box value that is not a string: {value!r}"[:80]
    width, height = frame.model_size
    numbers = []
    for index, part in enumerate(value.lstrip().replace("(", "").replace(")", "").split(",")):
        try:
            number = float(part)
        except ValueError:
            return f"box {value!r} holds {part!r}, not a number"[:120]
        numbers.append(number / (height if index % 2 else width))
    return numbers * 2 if len(numbers) == 2 else numbers


def read_ui_tars(raw: str, frame: CoordinateFrame) -> Reading:
    """UITARS action_parser.py: the first action's start_box, in resized pixels."""
    text = raw.strip()
    if "<point>" in text:
        text = _UITARS_POINT.sub(lambda m: f"({int(m[1])},{int(m[2])})", text.replace("[EOS]", ""))
        text = text.strip()
    for old, new in (("start_point=", "start_box="), ("end_point=", "end_box="),
                     ("point=", "start_box=")):  # fmt: skip
        text = text.replace(old, new)
    actions = _uitars_actions(text)
    if isinstance(actions, str):
        return Reading(error=actions)
    boxes: list[dict[str, list[float]]] = []
    for action in actions:
        kwargs = _uitars_call(action)
        if isinstance(kwargs, str):
            return Reading(error=kwargs)
        found: dict[str, list[float]] = {}
        for name, value in kwargs.items():
            if value == "":
                continue
            if not isinstance(value, (str, bytes)) or name is None:
                return Reading(error=f"argument {name}={value!r} is not a string"[:120])
            if "start_box" in name or "end_box" in name:
                box = _uitars_box(value, frame)
                if isinstance(box, str):
                    return Reading(error=box)
                found[name.strip()] = box
        boxes.append(found)
    box = boxes[0].get("start_box")
    if box is None:
        return Reading(error="the first action has no start_box")
    if len(box) != 4:
        return Reading(error=f"start_box has {len(box)} numbers (2 or 4 are read)")
    width, height = frame.model_size
    point = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    return Reading(point=point, model_xy=(point[0] * width, point[1] * height))


# -- GTA1 ----------------------------------------------------------------------------------
# GTA1 README.md (inference example, extract_coordinates; no ScreenSpot-Pro script is
# published): the first match of \((-?\d*\.?\d+),\s*(-?\d*\.?\d+)\), both read with int()
# (a decimal fails); the point is in resized pixels (scaled by original / resized size).
_GTA1_POINT = re.compile(r"\((-?\d*\.?\d+),\s*(-?\d*\.?\d+)\)")


def read_gta1(raw: str, frame: CoordinateFrame) -> Reading:
    """GTA1 README: the first (x,y), two integers, in resized pixels."""
    found = _GTA1_POINT.findall(raw)
    if not found:
        return Reading(error="no (x,y) in the answer")
    try:
        x, y = int(found[0][0]), int(found[0][1])
    except ValueError:
        return Reading(error=f"the first (x,y) is ({found[0][0]},{found[0][1]}), not integers")
    return by_resized_size((x, y), frame)


# -- UI-Venus-Ground -----------------------------------------------------------------------
# VENUS @ fc7670d86e5fa84a4921512d3fc4a7068a5caa2a models/grounding/ui_venus_ground_7b.py:
# the whole answer is evaluated as a Python value; its items 0-3 are x1, y1, x2, y2 in
# resized pixels, each divided by the resized size, and the point is the centre of the
# divided box. The size is a torch int64 tensor: `number / tensor` is computed as
# `tensor.reciprocal() * number` in float32 (checked against torch on 30000 answers).
_INT64 = 2**63


def _f32(value: float) -> float:
    """`value` rounded to float32 (exact products of two float32 values round correctly)."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def read_ui_venus_ground(raw: str, frame: CoordinateFrame) -> Reading:
    """VENUS ui_venus_ground_7b.py: the answer as a [x1,y1,x2,y2] value; the box's centre."""
    try:
        value = ast.literal_eval(raw)
        corners = [value[0], value[1], value[2], value[3]]
    except (*_PARSE_ERRORS, KeyError, IndexError) as exc:
        return Reading(error=f"the answer is not a [x1,y1,x2,y2] value ({type(exc).__name__})")
    if not all(is_number(v) for v in corners):
        return Reading(error=f"the box holds a non-number: {corners!r}"[:120])
    if any(isinstance(v, int) and not -_INT64 <= v < _INT64 for v in corners):
        return Reading(error="coordinate too large")
    width, height = frame.model_size
    x1, y1, x2, y2 = (
        _f32(_f32(v) * _f32(1 / side)) for v, side in zip(corners, (width, height) * 2, strict=True)
    )
    point = ((x1 + x2) / 2, (y1 + y2) / 2)
    model_xy = ((corners[0] + corners[2]) / 2, (corners[1] + corners[3]) / 2)
    return Reading(point=point, model_xy=model_xy)


# -- UI-Venus-1.5 --------------------------------------------------------------------------
# VENUS @ c3a1442c3c4501af18c124458dbbddcbda5c2c6f models/grounding/eval_screenspot_pro.py
# UIVenusWrapper._parse_point (the default prompt, with the [-1,-1] refusal option). On the
# stripped answer: a whole [x1,y1,x2,y2] of integers -> its centre; a whole [x,y] -> the
# point; "[x1,y1],[x2,y2]" (spaces removed) -> the centre of the two; else the first
# "[...]" split at commas, each part read with int(). [-1,-1] (also a box whose centre it
# is) is the refusal, kept as the point (-1, -1) - not divided - so the script judges it
# wrong on a positive sample, not wrong_format. Otherwise divided by 1000.
_V15_INT = r"\s*-?\d+\s*"
_V15_BOX = re.compile(rf"\[{_V15_INT},{_V15_INT},{_V15_INT},{_V15_INT}\]")
_V15_POINT = re.compile(rf"\[{_V15_INT},{_V15_INT}\]")
_V15_TWO = re.compile(rf"\[{_V15_INT},{_V15_INT}\],\s*\[{_V15_INT},{_V15_INT}\]")


def _venus15_point(text: str) -> list[Any]:
    if _V15_BOX.fullmatch(text):
        box = ast.literal_eval(text)
        return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]
    if _V15_POINT.fullmatch(text):
        return list(ast.literal_eval(text))
    if _V15_TWO.fullmatch(text.replace(" ", "")):
        first, second = ast.literal_eval("[" + text + "]")
        return [(first[0] + second[0]) / 2, (first[1] + second[1]) / 2]
    return [int(part) for part in text.split("]")[0].split("[")[1].split(",")]


def read_ui_venus_1_5(raw: str, frame: CoordinateFrame) -> Reading:
    """VENUS eval_screenspot_pro.py: [x,y] (or a box's centre) in 0-1000; [-1,-1] refuses."""
    try:
        point = _venus15_point(raw.strip())
        if point == [-1, -1]:
            return Reading(point=(-1.0, -1.0), model_xy=(-1.0, -1.0), refused=True)
        return divide((point[0], point[1]), 1000, 1000)
    except (*_PARSE_ERRORS, IndexError) as exc:
        return Reading(error=f"no [x,y] in the answer ({type(exc).__name__})")


# -- GUI-Owl-1.5 ---------------------------------------------------------------------------
# MOBAG Mobile-Agent-v3.5/grounding_and_kb/eval_grounding_benchmarks.py ScreenSpotv2.evaluate
# (ScreenSpotPro inherits it; use_qwen3vl): every \((\d+),\s*(\d+)\) in the answer, or, when
# there is none, every \[(\d+), (\d+)\] (exactly one space); the last one counts, in 0-1000.
# (Its judge compares integers in 0-1000 against the box widened to whole units, floor/ceil;
# screenpilot judges every profile with the ScreenSpot-Pro harness's rule.)
_OWL_PAREN = re.compile(r"\((\d+),\s*(\d+)\)")
_OWL_BRACKET = re.compile(r"\[(\d+), (\d+)\]")


def read_gui_owl_1_5(raw: str, frame: CoordinateFrame) -> Reading:
    """MOBAG eval_grounding_benchmarks.py: the last (x, y), else the last [x, y]; 0-1000."""
    found = _OWL_PAREN.findall(raw) or _OWL_BRACKET.findall(raw)
    if not found:
        return Reading(error="no (x, y) or [x, y] of integers in the answer")
    x, y = found[-1]
    return divide((int(x), int(y)), 1000, 1000)


# -- MAI-UI --------------------------------------------------------------------------------
# MAIUI evaluation/grounding/eval_server.py parse_coordinates (the served evaluation that
# wrote the published output_server/SSPro.jsonl): the first \[(\d+),(\d+)\] anywhere in the
# answer (think block included; no spaces, no signs), divided by 1000; no match is
# wrong_format.
_MAI_POINT = re.compile(r"\[(\d+),(\d+)\]")


def read_mai_ui(raw: str, frame: CoordinateFrame) -> Reading:
    """MAIUI eval_server.py: the first [x,y] of integers, in 0-1000."""
    found = _MAI_POINT.findall(raw)
    if not found:
        return Reading(error="no [x,y] of integers (no spaces) in the answer")
    x, y = found[0]
    return divide((int(x), int(y)), 1000, 1000)


# -- Holo2 ---------------------------------------------------------------------------------
# HAI holo2/holo_2_localization_huggingface.ipynb (no ScreenSpot-Pro script is published):
# the content after the </think> that closes the chat template's empty think block (thinking
# off), newlines stripped, must validate as ClickCoordinates: {"x": int 0..1000, "y": int
# 0..1000} (pydantic model_validate_json); divided by 1000.
class _Holo2Click(BaseModel):
    x: int = Field(ge=0, le=1000)
    y: int = Field(ge=0, le=1000)


def read_holo2(raw: str, frame: CoordinateFrame) -> Reading:
    """HAI Holo2 notebook: one JSON object {"x", "y"} of integers in 0-1000."""
    try:
        click = _Holo2Click.model_validate_json(raw.strip("\n"))
    except ValidationError as exc:
        return Reading(error=f"not the {{x, y}} JSON object ({validation_error(exc)})")
    return divide((click.x, click.y), 1000, 1000)


# -- InfiGUI-G1 ----------------------------------------------------------------------------
# INFIGUI eval/prompts.py InfiguiG1Prompt.extract_coordinates and calculate_metrics (think
# mode, eval/eval.py's default): the text after the last </think>; from its first "[" to its
# last "]" parsed with json.loads; the first prediction's point_2d (its first two numbers)
# counts, in resized pixels. An empty list is the model's "not found" (no point).
def read_infigui_g1(raw: str, frame: CoordinateFrame) -> Reading:
    """INFIGUI prompts.py: the first point_2d of the JSON list after </think>; pixels."""
    text = raw.split("</think>")[-1]
    start, end = text.find("["), text.rfind("]")
    if start == -1 or end == -1 or start >= end:
        return Reading(error="no [...] list in the answer")
    try:
        predictions = json.loads(text[start : end + 1])
    except (ValueError, RecursionError) as exc:
        return Reading(error=f"the [...] list does not parse ({type(exc).__name__})")
    if not predictions:
        return Reading(error="an empty list: the model found nothing", refused=True)
    try:
        point = predictions[0]["point_2d"]
        x, y = point[0], point[1]
    except (KeyError, IndexError, TypeError):
        return Reading(error="the first prediction has no point_2d [x, y]")
    if not (is_number(x) and is_number(y)):
        return Reading(error=f"point_2d holds a non-number: {point!r}"[:120])
    return by_resized_size((x, y), frame)
