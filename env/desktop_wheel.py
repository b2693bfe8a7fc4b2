"""Scroll distances to mouse-wheel notches, with a stated scale per platform.

Qwen's computer_use tool asks for a scroll distance in *pixels* (``"pixels": -500``),
while a desktop only takes wheel notches, and how far one notch moves is up to the
app. Measured under Xvfb 1920x1080 (screenshot shift after 1, 2 and 3 notches;
linear in the count):

=======================================  ==============
Tk 8.6 text widget                       50 px / notch
Tk 8.6 listbox (5 lines of 18 px)        90 px / notch
GTK 3 text view (zenity), window 400 px  48 px / notch
... window 600 / 800 / 1000 px           66 / 81 / 95 (GTK: page size ** (2/3))
=======================================  ==============

X11 takes `X11_PIXELS_PER_NOTCH` = 90: no measured widget moves more than ~5 % past
the requested distance. Undershooting is the safe side: the model sees the result and
scrolls again, whereas content scrolled past unseen may hold the target.

Off X11 (untested here; pyautogui sends the wheel there):

* Windows: pyautogui passes its count straight to ``mouse_event(MOUSEEVENTF_WHEEL)``,
  whose unit is 1/120 of a notch (WHEEL_DELTA = 120); a notch scrolls
  SPI_GETWHEELSCROLLLINES lines, 3 by default: taken as the X11 figure.
* macOS: pyautogui posts line-unit scroll events (kCGScrollEventUnitLine), which Quartz
  turns into 10 pixels per line by default (CGEventSourceGetPixelsPerLine).

A scroll moves at most `MAX_SCREENS` screens' worth per action (capped, and recorded).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from env.base import ScreenGeometry, ScrollSent

X11_PIXELS_PER_NOTCH = 90.0
MAX_SCREENS = 2.0
"""Most a single scroll moves, in heights (widths when horizontal) of the captured screen."""


class WheelScale(NamedTuple):
    """One platform's wheel: input pixels per notch, and the backend's units per notch."""

    pixels_per_notch: float
    units_per_notch: int


WHEEL_SCALES: dict[str, WheelScale] = {
    "x11": WheelScale(X11_PIXELS_PER_NOTCH, 1),
    "win32": WheelScale(X11_PIXELS_PER_NOTCH, 120),
    "darwin": WheelScale(10.0, 1),
}


def wheel_platform() -> str:
    """The key of `WHEEL_SCALES` for this machine."""
    return sys.platform if sys.platform in ("win32", "darwin") else "x11"


def plan_wheel(
    geometry: ScreenGeometry,
    *,
    axis: str,
    amount: int | None = None,
    pixels: int | None = None,
    platform: str | None = None,
) -> ScrollSent:
    """The notches a scroll of `amount` notches or `pixels` screenshot pixels sends.

    Notches given are sent as they are; a distance is divided by the platform's pixels
    per notch (in input units: HiDPI screenshots have `scale` pixels per point), capped
    at `MAX_SCREENS` screens, and is at least one notch.
    """
    if pixels is None:
        if amount is None:
            raise ValueError("a scroll needs amount or pixels")
        return ScrollSent(requested_notches=amount, notches=amount)
    scale = WHEEL_SCALES[platform or wheel_platform()]
    side = geometry.width if axis == "horizontal" else geometry.height
    distance = abs(pixels) / geometry.scale
    limit = MAX_SCREENS * side / geometry.scale
    notches = max(1, round(min(distance, limit) / scale.pixels_per_notch))
    return ScrollSent(
        requested_pixels=pixels,
        notches=notches if pixels > 0 else -notches,
        capped=distance > limit,
    )
