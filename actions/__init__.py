"""The action space, coordinate frames and model-output parsing."""

from actions.frames import CoordinateFrame, ModelFamily, smart_resize
from actions.project_errors import InputError, ModelOutputError, ScreenpilotError
from actions.types import (
    Action,
    Click,
    Drag,
    HoldKey,
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
    parse_action,
)

__all__ = [
    "Action",
    "Click",
    "CoordinateFrame",
    "Drag",
    "HoldKey",
    "InputError",
    "Key",
    "LongPress",
    "ModelFamily",
    "ModelOutputError",
    "Move",
    "OpenApp",
    "ScreenpilotError",
    "Scroll",
    "Swipe",
    "SystemButton",
    "Terminate",
    "Type",
    "Wait",
    "parse_action",
    "smart_resize",
]
