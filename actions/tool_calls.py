"""Turn one Qwen tool call (function name + arguments) into an action.

Covers the verbs of both tools (computer_use and mobile_use, plus Qwen3-VL's
additions) and the real-world variants: the verb given as the function name
(``{"name": "left_click", "arguments": {"coordinate": [x, y]}}``) and the
arguments given as a bare point (``"arguments": [x, y]``). Coordinates are
mapped from model space to screenshot pixels through the frame, clamped. Which verb
builds which action is declared in `actions.vocabulary` (`MODEL_VERBS`).
"""

from __future__ import annotations

from typing import Any

from actions.call_args import MAX_SCROLL, MAX_SCROLL_PIXELS, CallArgs, Point, UnknownVerb
from actions.frames import CoordinateFrame
from actions.types import Action
from actions.vocabulary import CLICK_VERBS, MODEL_VERBS

__all__ = ["CLICK_VERBS", "MAX_SCROLL", "MAX_SCROLL_PIXELS", "TOOL_NAMES", "UnknownVerb"]

TOOL_NAMES = ("computer_use", "mobile_use", "computer", "mobile")


def build_action(
    name: str, args: Any, frame: CoordinateFrame, *, mobile: bool = False
) -> tuple[Action, list[Point]]:
    """Build the action a tool call describes (the verbs: `actions.vocabulary`).

    Returns:
        The action (screenshot pixels) and its raw model-space points.
    """
    if isinstance(args, (list, tuple)):
        args = {"coordinate": list(args)}
    if not isinstance(args, dict):
        raise UnknownVerb(f"tool call arguments must be an object, got {args!r}")
    verb = args.get("action")
    if not verb:
        verb = name if name and name not in TOOL_NAMES else ("click" if mobile else "left_click")
    verb = str(verb).strip().lower()
    reader = MODEL_VERBS.get(verb)
    if reader is None:
        raise UnknownVerb(f"unknown action {verb!r}")
    call = CallArgs(verb, args, frame)
    return reader(call), call.points
