"""The X11 pointer: moves, clicks, drags and wheel notches through XTest, per display.

Sent on the environment's own python3-xlib connection (the one its keyboard uses),
so each `DesktopEnv` drives exactly its display and nothing is process-global.
pyautogui, used before, keeps one module-level connection bound to the display it
first saw, and global ``PAUSE`` and fail-safe settings: two environments on two
displays in one process interfered (issue 15).

Fail-safe (as pyautogui's): a pointer resting in a corner of the screen means a
person wants the automation to stop. It is checked before every action (a tripped
fail-safe sends nothing) and between the steps of a drag or a long press (the held
button is released, then it stops).

The pointer is never sent into a corner (`refuse_corners`: a one-line input error,
nothing sent): that would trip the fail-safe for every later command. A plain move
is the way out: it is let through while the pointer rests in a corner, so that
``agent do move X Y``, which the fail-safe message suggests, frees a stuck display.
"""

from __future__ import annotations

import time
from typing import Any

from actions.project_errors import InputError
from env.base import FailSafeError
from env.desktop_backends import Button

__all__ = ["Button", "FailSafeError", "X11Pointer"]
BUTTONS: dict[str, int] = {"left": 1, "middle": 2, "right": 3}
WHEEL_BUTTONS: dict[tuple[str, bool], int] = {
    ("vertical", True): 4,
    ("vertical", False): 5,
    ("horizontal", False): 6,
    ("horizontal", True): 7,
}
"""X's wheel buttons, keyed by (axis, positive): 4 up, 5 down, 6 left, 7 right."""
DRAG_STEP_SECONDS = 0.02
"""Time between the pointer moves of a drag: apps see it glide, not jump."""


def failsafe_message(position: tuple[int, int]) -> str:
    return (
        f"fail-safe: the pointer is in a screen corner {position}; nothing was sent "
        "(move it away to go on, or turn the fail-safe off with --no-failsafe)"
    )


def corner_message(point: tuple[int, int]) -> str:
    return (
        f"fail-safe: {point} is a screen corner, where the pointer would stop every later "
        "action; nothing was sent (aim at least one pixel inside the screen, or pass "
        "--no-failsafe)"
    )


def px(value: float) -> int:
    """Round half up: an input coordinate is a whole pixel (or point)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


class X11Pointer:
    """Mouse input in root-window coordinates through the XTEST extension.

    Args:
        connection: an open python3-xlib ``Display`` (not closed here).
        failsafe: stop when the pointer rests in a screen corner.
    """

    def __init__(self, connection: Any, *, failsafe: bool = True) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        if not connection.query_extension("XTEST").present:
            raise InputError("the X server has no XTEST extension: input cannot be sent")
        self._X = X
        self._fake_input = xtest.fake_input
        self._display = connection
        self._root = connection.screen().root
        self.failsafe = failsafe
        self._size: tuple[int, int] | None = None  # of the root window, for the corner test

    # -- where the pointer is --------------------------------------------------------------
    @property
    def position(self) -> tuple[int, int]:
        reply = self._root.query_pointer()
        return int(reply.root_x), int(reply.root_y)

    def corners(self) -> set[tuple[int, int]]:
        """The fail-safe points: the four corners of the screen (read now: RandR may resize)."""
        geometry = self._root.get_geometry()
        self._size = (geometry.width, geometry.height)
        right, bottom = geometry.width - 1, geometry.height - 1
        return {(0, 0), (0, bottom), (right, 0), (right, bottom)}

    def forget_screen(self) -> None:
        """The screen may have changed size: read it again at the next check."""
        self._size = None

    def in_corner(self, position: tuple[int, int]) -> bool:
        """Whether `position` is a corner of the screen. The server is asked for its size only
        when it is not known, cannot be right (the pointer is outside it), or a corner is
        seen (so that a trip is never on a stale size)."""
        x, y = position
        if self._size is not None and x < self._size[0] and y < self._size[1]:
            width, height = self._size
            if x not in (0, width - 1) or y not in (0, height - 1):
                return False
        return position in self.corners()

    def check_failsafe(self) -> None:
        """Raise `FailSafeError` when the fail-safe is on and the pointer is in a corner.

        One round trip (the pointer query): the screen size is kept between checks and read
        again after `forget_screen` (the env calls it when the layout changed).
        """
        if not self.failsafe:
            return
        position = self.position
        if self.in_corner(position):
            raise FailSafeError(failsafe_message(position))

    def refuse_corners(self, *points: tuple[float, float]) -> None:
        """Raise `InputError` when the fail-safe is on and a target point is a screen corner."""
        if not self.failsafe:
            return
        for x, y in points:
            point = (px(x), px(y))
            if self.in_corner(point):  # the kept size; a corner is confirmed on a fresh one
                raise InputError(corner_message(point))

    # -- sending -----------------------------------------------------------------------------
    def _motion(self, x: float, y: float) -> None:
        self._fake_input(self._display, self._X.MotionNotify, x=px(x), y=px(y))

    def _button(self, number: int, down: bool) -> None:
        kind = self._X.ButtonPress if down else self._X.ButtonRelease
        self._fake_input(self._display, kind, number)

    def move(self, x: float, y: float) -> None:
        """Move the pointer; from a corner too (the way out of a tripped fail-safe)."""
        self.refuse_corners((x, y))
        self._motion(x, y)
        self._display.sync()

    def click(self, x: float, y: float, *, button: Button = "left", count: int = 1) -> None:
        self.check_failsafe()
        self.refuse_corners((x, y))
        self._motion(x, y)
        for _ in range(count):
            self._button(BUTTONS[button], True)
            self._button(BUTTONS[button], False)
        # Sent in one write, without waiting for a reply: the server handles this
        # connection's requests in order, so the next action's pointer query comes after.
        self._display.flush()

    def drag(
        self,
        start: tuple[float, float] | None,
        end: tuple[float, float],
        *,
        button: Button = "left",
        duration: float = 0.3,
    ) -> None:
        """Press at `start` (or where the pointer is), glide to `end` over `duration`, release."""
        self.check_failsafe()
        self.refuse_corners(end, *([start] if start is not None else []))
        if start is not None:
            self._motion(*start)
            self._display.sync()
        x0, y0 = start if start is not None else self.position
        steps = max(2, int(duration / DRAG_STEP_SECONDS))
        self._button(BUTTONS[button], True)
        self._display.sync()
        try:
            for step in range(1, steps + 1):
                time.sleep(duration / steps)
                self._check_during((x0, y0), step, steps, end)
                t = step / steps
                self._motion(x0 + (end[0] - x0) * t, y0 + (end[1] - y0) * t)
                self._display.sync()
        finally:
            self._button(BUTTONS[button], False)
            self._display.sync()

    def _check_during(
        self, start: tuple[float, float], step: int, steps: int, end: tuple[float, float]
    ) -> None:
        """Between drag steps: a pointer a person moved into a corner stops the drag."""
        if not self.failsafe:
            return
        t = (step - 1) / steps
        expected = (px(start[0] + (end[0] - start[0]) * t), px(start[1] + (end[1] - start[1]) * t))
        position = self.position
        if position != expected and self.in_corner(position):
            raise FailSafeError(f"fail-safe tripped during a drag at {position}; released")

    def scroll(self, notches: int, x: float | None, y: float | None, *, horizontal: bool) -> None:
        """Turn the wheel `notches` times: positive = up (or right when horizontal)."""
        self.check_failsafe()
        if x is not None and y is not None:
            self.refuse_corners((x, y))
            self._motion(x, y)
        number = WHEEL_BUTTONS[("horizontal" if horizontal else "vertical", notches > 0)]
        for _ in range(abs(notches)):
            self._button(number, True)
            self._button(number, False)
        self._display.sync()

    def long_press(self, x: float, y: float, *, duration: float, button: Button = "left") -> None:
        self.check_failsafe()
        self.refuse_corners((x, y))
        self._motion(x, y)
        self._button(BUTTONS[button], True)
        self._display.sync()
        try:
            time.sleep(duration)
        finally:
            self._button(BUTTONS[button], False)
            self._display.sync()
