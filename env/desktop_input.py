"""The pointer (pyautogui) and, off X11, the keyboard (pyautogui too).

pyautogui is imported lazily: on X11 it connects to $DISPLAY at import time
(KeyError without one) and stays bound to that display for the life of the
process, so a process that starts a second virtual display later must rebind
it (`load_pyautogui` does). ``PAUSE`` is set to 0 (its default sleeps 0.1 s
after every call); the caller waits for the screen to settle instead. The
fail-safe (pointer in a screen corner aborts) stays on unless turned off, and
is checked once *before* an action, so a tripped fail-safe sends nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Literal

from actions.errors import InputError, ScreenpilotError, require
from env.desktop_keys import check_combo, check_text, pyautogui_name, text_lines
from env.x11 import is_x11, quiet_xauth

log = logging.getLogger(__name__)

Button = Literal["left", "right", "middle"]


class FailSafeError(ScreenpilotError):
    """The pointer sits in a screen corner: pyautogui's emergency stop. Nothing was sent."""

    exit_code = 1


@contextlib.contextmanager
def _without_opencv() -> Iterator[None]:
    """Hide OpenCV while pyautogui loads: its pyscreeze imports cv2 (~0.45 s) for image
    search, which we never use. A real ``import cv2`` later still works."""
    if "cv2" in sys.modules:
        yield
        return
    sys.modules["cv2"] = None  # type: ignore[assignment]  # makes `import cv2` fail fast
    try:
        yield
    finally:
        if sys.modules.get("cv2", 0) is None:
            del sys.modules["cv2"]


def _bound_to(connection: object, display: str) -> bool:
    """True when pyautogui's Xlib connection is to `display` and still alive.

    Display numbers are reused: a connection to a stopped Xvfb ``:1`` looks bound to
    a new ``:1`` by name, so liveness is checked with a round trip.
    """
    try:
        if connection.get_display_name() != display:  # type: ignore[attr-defined]
            return False
        connection.screen().root.get_geometry()  # type: ignore[attr-defined]
        return True
    except Exception:  # python3-Xlib raises TypeError/OSError variants on a dead socket
        return False


@contextlib.contextmanager
def _display_env(display: str | None) -> Iterator[None]:
    """DISPLAY = `display` while pyautogui connects (it reads the variable at import)."""
    previous = os.environ.get("DISPLAY")
    if display:
        os.environ["DISPLAY"] = display
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous


def load_pyautogui(display: str | None = None) -> ModuleType:
    """Import pyautogui (PAUSE 0) bound to X display `display` (default: $DISPLAY)."""
    with quiet_xauth(), _without_opencv(), _display_env(display):
        try:
            pyautogui = require("pyautogui", "desktop", package="PyAutoGUI")
        except KeyError as exc:  # pyautogui reads os.environ["DISPLAY"] at import
            raise InputError(f"no display: {exc} is not set") from None
        except InputError:
            raise
        except Exception as exc:  # Xlib's "cannot connect" errors
            raise InputError(f"pyautogui cannot open the display: {exc}") from None
        x11 = sys.modules.get("pyautogui._pyautogui_x11")
        if is_x11() and display and x11 is not None and not _bound_to(x11._display, display):
            with contextlib.suppress(Exception):
                x11._display.close()
            importlib.reload(x11)
            log.debug("pyautogui rebound to %s", display)
    pyautogui.PAUSE = 0
    width, height = pyautogui.size()
    pyautogui.FAILSAFE_POINTS[:] = [
        (0, 0),
        (0, height - 1),
        (width - 1, 0),
        (width - 1, height - 1),
    ]
    return pyautogui


def _px(value: float) -> int:
    """Round half up: an input coordinate is a whole pixel (or point)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


class Pointer:
    """Mouse moves, clicks, drags and wheel turns in input coordinates."""

    def __init__(self, display: str | None = None, *, failsafe: bool = True) -> None:
        self._pg = load_pyautogui(display)
        self.failsafe = failsafe
        self._pg.FAILSAFE = failsafe

    @property
    def position(self) -> tuple[int, int]:
        x, y = self._pg.position()
        return int(x), int(y)

    def check_failsafe(self) -> None:
        """Raise `FailSafeError` when the fail-safe is on and the pointer is in a corner."""
        if not self.failsafe:
            return
        position = self.position
        if position in self._pg.FAILSAFE_POINTS:
            raise FailSafeError(
                f"fail-safe: the pointer is in a screen corner {position}; nothing was sent "
                "(move it away to go on, or turn the fail-safe off with --no-failsafe)"
            )

    def _guard(self) -> ModuleType:
        self.check_failsafe()
        # PAUSE is module-global: other code in the process may have set it back to 0.1 s.
        self._pg.PAUSE = 0
        return self._pg

    def move(self, x: float, y: float) -> None:
        self._call(lambda pg: pg.moveTo(_px(x), _px(y)))

    def click(self, x: float, y: float, *, button: Button = "left", count: int = 1) -> None:
        self._call(lambda pg: pg.click(_px(x), _px(y), clicks=count, interval=0.0, button=button))

    def drag(
        self,
        start: tuple[float, float] | None,
        end: tuple[float, float],
        *,
        button: Button = "left",
        duration: float = 0.3,
    ) -> None:
        """Press at `start` (or where the pointer is), glide to `end`, release."""

        def run(pg: ModuleType) -> None:
            if start is not None:
                pg.moveTo(_px(start[0]), _px(start[1]))
            pg.mouseDown(button=button)
            try:
                pg.moveTo(_px(end[0]), _px(end[1]), duration=duration)
            finally:
                pg.mouseUp(button=button)

        self._call(run)

    def scroll(self, amount: int, x: float | None, y: float | None, *, horizontal: bool) -> None:
        """Turn the wheel `amount` clicks: positive = up (or right when horizontal)."""
        px = None if x is None else _px(x)
        py = None if y is None else _px(y)
        if horizontal:
            self._call(lambda pg: pg.hscroll(amount, x=px, y=py))
        else:
            self._call(lambda pg: pg.scroll(amount, x=px, y=py))

    def long_press(self, x: float, y: float, *, duration: float, button: Button = "left") -> None:
        def run(pg: ModuleType) -> None:
            pg.mouseDown(_px(x), _px(y), button=button)
            try:
                time.sleep(duration)
            finally:
                pg.mouseUp(_px(x), _px(y), button=button)

        self._call(run)

    def _call(self, fn: object) -> None:
        pg = self._guard()
        try:
            fn(pg)  # type: ignore[operator]
        except pg.FailSafeException as exc:
            raise FailSafeError(f"fail-safe tripped during the action: {exc}") from None


class PyautoguiKeyboard:
    """The keyboard where there is no X server (macOS, Windows): ASCII text only."""

    def __init__(self, pointer: Pointer) -> None:
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

    def press_combo(self, keys: list[str]) -> None:
        self._pointer.check_failsafe()
        self._pg.hotkey(*[pyautogui_name(k) for k in keys])

    def type_text(self, text: str) -> None:
        self._pointer.check_failsafe()
        for number, line in enumerate(text_lines(text)):
            if number:
                self._pg.press("enter")
            if line:
                self._pg.write(line)

    def close(self) -> None:
        """Nothing to release."""
