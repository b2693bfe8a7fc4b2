"""Pointer and keyboard where there is no X server (macOS, Windows): pyautogui.

Untested on this project's machines (Linux only); kept so that those platforms
work in principle. On X11 the env uses XTest instead (env/desktop_pointer.py,
env/desktop_keyboard.py) and never imports pyautogui.

pyautogui is imported lazily, on the first action. Its module-global settings
are left alone: every call passes ``_pause=False`` (its default PAUSE sleeps
0.1 s after each call) and the fail-safe is checked here, before an action,
with the same corner rule as on X11. Only ``--no-failsafe`` sets its global
FAILSAFE off, so that pyautogui's own check does not stop what the user allowed.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType

from actions.project_errors import InputError, require
from env.desktop_keys import check_combo, check_text, pyautogui_name, text_lines
from env.desktop_pointer import Button, FailSafeError, corner_message, failsafe_message, px
from env.desktop_wheel import WHEEL_SCALES, wheel_platform

log = logging.getLogger(__name__)


def load_pyautogui() -> ModuleType:
    """Import pyautogui; a one-line error naming the extra when it is missing or fails."""
    try:
        return require("pyautogui", "desktop", package="PyAutoGUI")
    except InputError:
        raise
    except Exception as exc:  # platform back-ends fail in their own ways at import
        raise InputError(f"pyautogui cannot drive this desktop: {exc}") from None


class PyautoguiPointer:
    """Mouse moves, clicks, drags and wheel notches in input coordinates, via pyautogui."""

    def __init__(self, *, failsafe: bool = True) -> None:
        self._pg = load_pyautogui()
        self.failsafe = failsafe
        if not failsafe:
            self._pg.FAILSAFE = False
        self._units = WHEEL_SCALES[wheel_platform()].units_per_notch

    @property
    def position(self) -> tuple[int, int]:
        x, y = self._pg.position()
        return int(x), int(y)

    def corners(self) -> set[tuple[int, int]]:
        width, height = self._pg.size()
        return {(0, 0), (0, height - 1), (width - 1, 0), (width - 1, height - 1)}

    def check_failsafe(self) -> None:
        """Raise `FailSafeError` when the fail-safe is on and the pointer is in a corner."""
        if not self.failsafe:
            return
        if self.position in self.corners():
            raise FailSafeError(failsafe_message(self.position))

    def refuse_corners(self, *points: tuple[float, float]) -> None:
        """Raise `InputError` when the fail-safe is on and a target point is a screen corner."""
        if not self.failsafe:
            return
        corners = self.corners()
        for x, y in points:
            if (px(x), px(y)) in corners:
                raise InputError(corner_message((px(x), px(y))))

    def move(self, x: float, y: float) -> None:
        """Move the pointer; from a corner too (the way out of a tripped fail-safe)."""
        self.refuse_corners((x, y))
        saved, self._pg.FAILSAFE = self._pg.FAILSAFE, False  # pyautogui would refuse the way out
        try:
            self._pg.moveTo(px(x), px(y), _pause=False)
        finally:
            self._pg.FAILSAFE = saved

    def click(self, x: float, y: float, *, button: Button = "left", count: int = 1) -> None:
        self.check_failsafe()
        self.refuse_corners((x, y))
        self._pg.click(px(x), px(y), clicks=count, interval=0.0, button=button, _pause=False)

    def drag(
        self,
        start: tuple[float, float] | None,
        end: tuple[float, float],
        *,
        button: Button = "left",
        duration: float = 0.3,
    ) -> None:
        """Press at `start` (or where the pointer is), glide to `end`, release."""
        self.check_failsafe()
        self.refuse_corners(end, *([start] if start is not None else []))
        if start is not None:
            self._pg.moveTo(px(start[0]), px(start[1]), _pause=False)
        self._pg.mouseDown(button=button, _pause=False)
        try:
            self._pg.moveTo(px(end[0]), px(end[1]), duration=duration, _pause=False)
        except self._pg.FailSafeException as exc:
            raise FailSafeError(f"fail-safe tripped during a drag: {exc}") from None
        finally:
            self._pg.mouseUp(button=button, _pause=False)

    def scroll(self, notches: int, x: float | None, y: float | None, *, horizontal: bool) -> None:
        """Turn the wheel `notches` times: positive = up (or right when horizontal)."""
        self.check_failsafe()
        if x is not None and y is not None:
            self.refuse_corners((x, y))
        at = {} if x is None or y is None else {"x": px(x), "y": px(y)}
        turn = self._pg.hscroll if horizontal else self._pg.scroll
        turn(notches * self._units, _pause=False, **at)

    def long_press(self, x: float, y: float, *, duration: float, button: Button = "left") -> None:
        self.check_failsafe()
        self.refuse_corners((x, y))
        self._pg.mouseDown(px(x), px(y), button=button, _pause=False)
        try:
            time.sleep(duration)
        finally:
            self._pg.mouseUp(px(x), px(y), button=button, _pause=False)


class PyautoguiKeyboard:
    """The keyboard where there is no X server (macOS, Windows): ASCII text only."""

    def __init__(self, pointer: PyautoguiPointer) -> None:
        self._pointer = pointer
        self._pg = load_pyautogui()

    def check_combo(self, keys: list[str]) -> None:
        check_combo(keys)
        for key in keys:
            pyautogui_name(key)

    def check_text(self, text: str) -> None:
        check_text(text)
        if not text.isascii():
            raise InputError("typing non-ASCII text needs an X11 desktop on this version")

    def press_combo(self, keys: list[str], *, hold: float = 0.0) -> None:
        self._pointer.check_failsafe()
        names = [pyautogui_name(k) for k in keys]
        if hold <= 0:
            self._pg.hotkey(*names, _pause=False)
            return
        held: list[str] = []
        try:
            for name in names:
                self._pg.keyDown(name, _pause=False)
                held.append(name)
            time.sleep(hold)
        finally:
            for name in reversed(held):
                self._pg.keyUp(name, _pause=False)

    def type_text(self, text: str) -> None:
        self._pointer.check_failsafe()
        for number, line in enumerate(text_lines(text)):
            if number:
                self._pg.press("enter", _pause=False)
            if line:
                self._pg.write(line, _pause=False)

    def close(self) -> None:
        """Nothing to release."""
