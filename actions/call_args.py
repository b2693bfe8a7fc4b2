"""Reading and writing the arguments of a model's tool call, in model space.

The action vocabulary (`actions.vocabulary`) declares per action type which verbs
produce it and how it is written back; this module holds what those declarations
share: `CallArgs` reads one call's arguments (points mapped from model space to
screenshot pixels through the frame, numbers checked), and the writers' helpers
map screenshot pixels back to the model's points.
"""

from __future__ import annotations

import math
import re
from typing import Any

from actions.frames import CoordinateFrame

Point = tuple[float, float]
MAX_SCROLL = 200
MAX_SCROLL_PIXELS = 100_000


class UnknownVerb(Exception):
    """The tool call names an action this toolkit does not know."""


def read_point(value: Any, what: str) -> Point:
    """A model's point, as a list, an {x, y} object or a string of two numbers."""
    if isinstance(value, dict):
        value = [value.get("x"), value.get("y")]
    if isinstance(value, str):
        value = [float(v) for v in re.findall(r"[-+]?\d+(?:\.\d+)?", value)]
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        return float(value[0]), float(value[1])
    raise UnknownVerb(f"{what} must be [x, y], got {value!r}")


def read_number(value: Any, what: str, default: float | None = None) -> float:
    """A finite number (a numeric string counts); `default` when absent."""
    if value is None and default is not None:
        return default
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise UnknownVerb(f"{what} must be a number, got {value!r}")


def nonzero(value: float, limit: int) -> int:
    """`value` rounded into -limit..limit, and never 0 (a scroll always moves)."""
    whole = int(max(-limit, min(limit, round(value))))
    return whole if whole else (1 if value > 0 else -1)


class CallArgs:
    """One tool call's arguments, read for the action its verb names.

    Every point read with `at` is kept (model space) in `points`, for the caller's record.
    """

    def __init__(self, verb: str, args: dict[str, Any], frame: CoordinateFrame) -> None:
        self.verb, self.args, self.frame = verb, args, frame
        self.points: list[Point] = []

    def has(self, key: str) -> bool:
        return key in self.args

    def get(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)

    def at(self, key: str = "coordinate") -> Point:
        """The point under `key`, in screenshot pixels."""
        if key not in self.args:
            raise UnknownVerb(f"{self.verb} needs {key}")
        point = read_point(self.args[key], key)
        self.points.append(point)
        return self.frame.model_to_image(*point)

    def number(self, key: str, default: float | None = None) -> float:
        return read_number(self.args.get(key), key, default)


def model_point(frame: CoordinateFrame, x: float, y: float) -> list[int]:
    """Screenshot pixels to the model's whole-number point."""
    mx, my = frame.image_to_model(x, y)
    return [round(mx), round(my)]


def uitars_point(frame: CoordinateFrame, x: float, y: float) -> str:
    """UI-TARS' ``<point>x y</point>``, in the model's (resized) pixels."""
    mx, my = frame.image_to_model(x, y)
    return f"<point>{round(mx)} {round(my)}</point>"


def uitars_escape(text: str) -> str:
    """Text inside UI-TARS' single-quoted arguments."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
