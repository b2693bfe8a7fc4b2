"""How touches and key presses reach a phone: the transport, apart from the gesture maths.

`AndroidEnv` works out every gesture in input pixels (clamped to the screen, scroll
swipes through the point, long presses as zero-length swipes) and hands the result to
its transport. The one here sends ``input`` commands over ``adb shell``; a second one
(scrcpy's control socket, an accessibility service) implements `AndroidTransport` and
is passed to `AndroidEnv(transport=...)`. Typing (IME switching) and app launching
stay adb work of the env for now.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Protocol

from env.android_text import input_prefix

Shell = Callable[..., str]
"""`AndroidEnv.shell`: run one device command line (checked), return its stdout."""
RunAll = Callable[[list[str]], None]
"""`AndroidEnv._run_all`: several command lines, batched per shell request."""


class AndroidTransport(Protocol):
    """Sends touches and keys; coordinates are whole input pixels, already on the screen."""

    def tap(self, x: int, y: int, *, count: int = 1) -> None:
        """Tap `count` times (2 = a double tap) at (x, y)."""

    def swipe(self, x1: int, y1: int, x2: int, y2: int, *, ms: int) -> None:
        """Touch at (x1, y1), slide to (x2, y2) over `ms` milliseconds, lift."""

    def keys(self, codes: list[str]) -> None:
        """Press one key (``KEYCODE_*``), or several together as a combo."""


class AdbShellInput:
    """`AndroidTransport` over ``adb shell input`` (every word `shlex.quote`-d)."""

    def __init__(self, shell: Shell, run_all: RunAll, display: int | None = None) -> None:
        self._shell, self._run_all, self.display = shell, run_all, display

    def command(self, *words: object) -> str:
        """An ``input`` command line from already-validated words."""
        return " ".join([input_prefix(self.display), *(shlex.quote(str(w)) for w in words)])

    def tap(self, x: int, y: int, *, count: int = 1) -> None:
        self._run_all([self.command("tap", x, y)] * count)

    def swipe(self, x1: int, y1: int, x2: int, y2: int, *, ms: int) -> None:
        self._shell(self.command("swipe", x1, y1, x2, y2, ms))

    def keys(self, codes: list[str]) -> None:
        verb = "keyevent" if len(codes) == 1 else "keycombination"
        self._shell(self.command(verb, *codes))
