"""A virtual X display (Xvfb) for machines with no screen: servers, CI.

Wraps PyVirtualDisplay (maintained, handles display-number allocation and
start-up races). Started displays are stopped on exit, on Ctrl-C (the
context manager unwinds) and at interpreter exit (atexit), so no stray Xvfb
is left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
from typing import Any

from actions.errors import InputError, require

log = logging.getLogger(__name__)

XVFB_HINT = "install it with: sudo apt-get install -y xvfb"

_RUNNING: set[str] = set()
"""DISPLAY names of the Xvfbs this process started and has not stopped yet."""


def started_here(name: str | None) -> bool:
    """True when `name` is an Xvfb this process started (a private display, in any session)."""
    return name is not None and name in _RUNNING


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"1920x1080"`` into ``(1920, 1080)``; a one-line error otherwise."""
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text or "")
    if not match:
        raise InputError(f"invalid screen size {text!r}: expected WIDTHxHEIGHT such as 1920x1080")
    width, height = int(match.group(1)), int(match.group(2))
    if not (64 <= width <= 16384 and 64 <= height <= 16384):
        raise InputError(f"invalid screen size {text!r}: each side must be 64..16384")
    return width, height


class VirtualDisplay:
    """An Xvfb display of a given size that the process's DISPLAY points at while open."""

    def __init__(self, size: tuple[int, int] | str = (1920, 1080), *, depth: int = 24) -> None:
        self.size = parse_size(size) if isinstance(size, str) else size
        self.depth = depth
        self._display: Any = None
        self._previous: str | None = None

    @property
    def name(self) -> str:
        """The DISPLAY value, e.g. ``:3``."""
        if self._display is None:
            raise InputError("virtual display is not started")
        return f":{self._display.display}"

    def start(self) -> VirtualDisplay:
        """Start Xvfb and point DISPLAY at it."""
        if shutil.which("Xvfb") is None:
            raise InputError(f"Xvfb is not installed; {XVFB_HINT}")
        pvd = require("pyvirtualdisplay", "desktop", package="PyVirtualDisplay")
        self._previous = os.environ.get("DISPLAY")
        self._display = pvd.Display(
            backend="xvfb",
            visible=False,
            size=self.size,
            color_depth=self.depth,
            manage_global_env=False,
            # -noreset: Xvfb otherwise resets (dropping RandR monitors and keymap changes)
            # whenever its last client disconnects.
            extra_args=["-noreset"],
        )
        # Registered before the start, so that a Ctrl-C during start-up still stops Xvfb.
        atexit.register(self.stop)
        try:
            self._display.start()
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        os.environ["DISPLAY"] = self.name
        _RUNNING.add(self.name)
        log.info("started Xvfb %s at %dx%d", self.name, *self.size)
        return self

    def stop(self) -> None:
        """Stop Xvfb and restore the previous DISPLAY; safe to call twice."""
        if self._display is None:
            return
        _RUNNING.discard(self.name)
        display, self._display = self._display, None
        try:
            display.stop()
        finally:
            if self._previous is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = self._previous
            atexit.unregister(self.stop)
            log.info("stopped Xvfb")

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_display(virtual: str | tuple[int, int] | None = None) -> VirtualDisplay | None:
    """Start a virtual display when asked to; otherwise check that a display exists.

    Returns:
        The started `VirtualDisplay` (the caller stops it), or None when the
        existing DISPLAY is used.
    """
    if virtual:
        return VirtualDisplay(virtual).start()
    if not os.environ.get("DISPLAY") and os.name == "posix" and not _is_macos():
        hint = "pass --virtual-display 1920x1080 to start one"
        if shutil.which("Xvfb") is None:
            hint += f" (Xvfb is not installed; {XVFB_HINT})"
        raise InputError(f"no display: DISPLAY is not set; {hint}")
    return None


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"
