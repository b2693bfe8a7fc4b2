"""Qwen2.5-VL's `computer_use` and `mobile_use` tools, generated from the action types.

The text reproduces what the model was trained on (the Qwen2.5-VL cookbooks'
tool descriptions, wrapped the way qwen-agent's Nous function-calling prompt
wraps them). The screen size announced is the smart_resized size of the
screenshot, because that is the pixel space the model answers in.

Each verb of the two tools is listed once below, in the cookbooks' words, with the
action type it produces; which verb builds which action, and how `to_tool_call` renders
an action back into the model's own words (step history, training data), is declared
per action type in `actions.vocabulary`.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from actions.frames import CoordinateFrame
from actions.types import (
    Action,
    Click,
    Drag,
    Key,
    LongPress,
    Move,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    Type,
    Wait,
)
from actions.vocabulary import tool_call_args

SYSTEM_PREAMBLE = "You are a helpful assistant."

_TOOLS_HEADER = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
_TOOLS_FOOTER = (
    "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)


class Verb(NamedTuple):
    """One value of the tool's `action` enum and the action type it stands for."""

    name: str
    description: str
    produces: tuple[type, ...]


COMPUTER_VERBS: tuple[Verb, ...] = (
    Verb(
        "key",
        "Performs key down presses on the arguments passed in order, then performs key "
        "releases in reverse order.",
        (Key,),
    ),
    Verb("type", "Type a string of text on the keyboard.", (Type,)),
    Verb(
        "mouse_move",
        "Move the cursor to a specified (x, y) pixel coordinate on the screen.",
        (Move,),
    ),
    Verb("left_click", "Click the left mouse button.", (Click,)),
    Verb(
        "left_click_drag",
        "Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.",
        (Drag,),
    ),
    Verb("right_click", "Click the right mouse button.", (Click,)),
    Verb("middle_click", "Click the middle mouse button.", (Click,)),
    Verb("double_click", "Double-click the left mouse button.", (Click,)),
    Verb("scroll", "Performs a scroll of the mouse scroll wheel.", (Scroll,)),
    Verb("wait", "Wait specified seconds for the change to happen.", (Wait,)),
    Verb("terminate", "Terminate the current task and report its completion status.", (Terminate,)),
)

MOBILE_VERBS: tuple[Verb, ...] = (
    Verb(
        "key",
        "Perform a key event on the mobile device.\n"
        "    - This supports adb's `keyevent` syntax.\n"
        '    - Examples: "volume_up", "volume_down", "power", "camera", "clear".',
        (Key,),
    ),
    Verb("click", "Click the point on the screen with coordinate (x, y).", (Click,)),
    Verb(
        "long_press",
        "Press the point on the screen with coordinate (x, y) for specified seconds.",
        (LongPress,),
    ),
    Verb(
        "swipe",
        "Swipe from the starting point with coordinate (x, y) to the end point with "
        "coordinates2 (x2, y2).",
        (Swipe,),
    ),
    Verb("type", "Input the specified text into the activated input box.", (Type,)),
    Verb("system_button", "Press the system button.", (SystemButton,)),
    Verb("open", "Open an app on the device.", (OpenApp,)),
    Verb("wait", "Wait specified seconds for the change to happen.", (Wait,)),
    Verb("terminate", "Terminate the current task and report its completion status.", (Terminate,)),
)

_COORD_DESC = (
    "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates "
    "to move the mouse to."
)


def _computer_description(width: int, height: int) -> str:
    return (
        "Use a mouse and keyboard to interact with a computer, and take screenshots.\n"
        "* This is an interface to a desktop GUI. You do not have access to a terminal or "
        "applications menu. You must click on desktop icons to start applications.\n"
        "* Some applications may take time to start or process actions, so you may need to wait "
        "and take successive screenshots to see the results of your actions. E.g. if you click "
        "on Firefox and a window doesn't open, try wait and taking another screenshot.\n"
        f"* The screen's resolution is {width}x{height}.\n"
        "* Whenever you intend to move the cursor to click on an element like an icon, you "
        "should consult a screenshot to determine the coordinates of the element before moving "
        "the cursor.\n"
        "* If you tried clicking on a program or link but it failed to load, even after waiting, "
        "try adjusting your cursor position so that the tip of the cursor visually falls on the "
        "element that you want to click.\n"
        "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center "
        "of the element. Don't click boxes on their edges unless asked."
    )


def _mobile_description(width: int, height: int) -> str:
    return (
        "Use a touchscreen to interact with a mobile device, and take screenshots.\n"
        "* This is an interface to a mobile device with touchscreen. You can perform actions "
        "like clicking, typing, swiping, etc.\n"
        "* Some applications may take time to start or process actions, so you may need to wait "
        "and take successive screenshots to see the results of your actions.\n"
        f"* The screen's resolution is {width}x{height}.\n"
        "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center "
        "of the element. Don't click boxes on their edges unless asked."
    )


def _computer_parameters() -> dict[str, Any]:
    verbs = "\n".join(f"* `{v.name}`: {v.description}" for v in COMPUTER_VERBS)
    return {
        "properties": {
            "action": {
                "description": f"The action to perform. The available actions are:\n{verbs}",
                "enum": [v.name for v in COMPUTER_VERBS],
                "type": "string",
            },
            "keys": {"description": "Required only by `action=key`.", "type": "array"},
            "text": {"description": "Required only by `action=type`.", "type": "string"},
            "coordinate": {
                "description": f"{_COORD_DESC} Required only by `action=mouse_move` and "
                "`action=left_click_drag`.",
                "type": "array",
            },
            "pixels": {
                "description": "The amount of scrolling to perform. Positive values scroll up, "
                "negative values scroll down. Required only by `action=scroll`.",
                "type": "number",
            },
            "time": {
                "description": "The seconds to wait. Required only by `action=wait`.",
                "type": "number",
            },
            "status": {
                "description": "The status of the task. Required only by `action=terminate`.",
                "type": "string",
                "enum": ["success", "failure"],
            },
        },
        "required": ["action"],
        "type": "object",
    }


def _mobile_parameters() -> dict[str, Any]:
    verbs = "\n".join(f"* `{v.name}`: {v.description}" for v in MOBILE_VERBS)
    return {
        "properties": {
            "action": {
                "description": f"The action to perform. The available actions are:\n{verbs}",
                "enum": [v.name for v in MOBILE_VERBS],
                "type": "string",
            },
            "coordinate": {
                "description": f"{_COORD_DESC} Required only by `action=click`, "
                "`action=long_press`, and `action=swipe`.",
                "type": "array",
            },
            "coordinate2": {
                "description": f"{_COORD_DESC} Required only by `action=swipe`.",
                "type": "array",
            },
            "text": {
                "description": "Required only by `action=key`, `action=type`, and `action=open`.",
                "type": "string",
            },
            "time": {
                "description": "The seconds to wait. Required only by `action=long_press` and "
                "`action=wait`.",
                "type": "number",
            },
            "button": {
                "description": "Back means returning to the previous interface, Home means "
                "returning to the desktop, Menu means opening the application background menu, "
                "and Enter means pressing the enter. Required only by `action=system_button`",
                "enum": ["Back", "Home", "Menu", "Enter"],
                "type": "string",
            },
            "status": {
                "description": "The status of the task. Required only by `action=terminate`.",
                "type": "string",
                "enum": ["success", "failure"],
            },
        },
        "required": ["action"],
        "type": "object",
    }


def tool_name(*, mobile: bool) -> str:
    """``mobile_use`` or ``computer_use``."""
    return "mobile_use" if mobile else "computer_use"


def tool_spec(model_size: tuple[int, int], *, mobile: bool = False) -> dict[str, Any]:
    """The tool's function description as qwen-agent renders it into the system prompt."""
    width, height = model_size
    name = tool_name(mobile=mobile)
    describe = _mobile_description if mobile else _computer_description
    parameters = _mobile_parameters() if mobile else _computer_parameters()
    return {
        "type": "function",
        "function": {
            "name_for_human": name,
            "name": name,
            "description": describe(width, height),
            "parameters": parameters,
            "args_format": "Format the arguments as a JSON object.",
        },
    }


def system_prompt(model_size: tuple[int, int], *, mobile: bool = False) -> str:
    """The full system message of the cookbooks' agent mode for a screen of `model_size`."""
    tool = json.dumps(tool_spec(model_size, mobile=mobile), ensure_ascii=False)
    return f"{SYSTEM_PREAMBLE}\n\n{_TOOLS_HEADER}{tool}{_TOOLS_FOOTER}"


def to_tool_call(action: Action, frame: CoordinateFrame, *, mobile: bool = False) -> str:
    """Render an action (screenshot pixels) as the model writes it, in model-space coordinates."""
    args = tool_call_args(action, frame, mobile=mobile)
    call = {"name": tool_name(mobile=mobile), "arguments": args}
    return f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"
