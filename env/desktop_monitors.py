"""Monitors as mss reports them, and the geometry of a capture of one.

mss lists ``monitors[0]`` = the union of all displays (left/top may be negative)
and ``monitors[1..]`` = single displays, where ``monitors[1]`` is *not* always the
primary one. Monitor rectangles are in the input (pointer) coordinate space;
the captured image can be larger on HiDPI (macOS Retina: 2x), so the scale is
measured from a real grab: ``scale = captured width / monitor width``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from actions.project_errors import InputError
from env.base import ScreenGeometry

log = logging.getLogger(__name__)

MonitorChoice = int | str
"""A monitor index (0 = all monitors together) or ``"primary"``."""


class MonitorInfo(BaseModel):
    """One entry of mss's monitor list, as `agent devices` shows it."""

    model_config = ConfigDict(frozen=True)

    index: int
    left: int
    top: int
    width: int
    height: int
    primary: bool = False
    name: str | None = None
    scale: float | None = None

    @property
    def geometry_text(self) -> str:
        return f"{self.width}x{self.height}{self.left:+d}{self.top:+d}"


def parse_monitor(value: MonitorChoice | None) -> MonitorChoice:
    """Normalize a user's monitor choice: ``"primary"``, ``"all"`` (= 0) or an index >= 0."""
    if value is None:
        return "primary"
    if isinstance(value, bool):
        raise InputError(f"invalid monitor {value!r}: give an index or 'primary'")
    if isinstance(value, int):
        if value < 0:
            raise InputError(f"invalid monitor {value}: indexes start at 0 (0 = all monitors)")
        return value
    text = str(value).strip().lower()
    if text in ("primary", ""):
        return "primary"
    if text == "all":
        return 0
    if text.isdigit():
        return int(text)
    raise InputError(f"invalid monitor {value!r}: give an index (0 = all monitors) or 'primary'")


def primary_index(monitors: Sequence[Mapping[str, Any]]) -> int:
    """Index of the primary monitor: the one flagged ``is_primary``, else 1."""
    if len(monitors) < 2:
        raise InputError("the display reports no monitor")
    for index, monitor in enumerate(monitors[1:], start=1):
        if monitor.get("is_primary"):
            return index
    return 1


def select_monitor(
    monitors: Sequence[Mapping[str, Any]], choice: MonitorChoice
) -> tuple[int, Mapping[str, Any]]:
    """The (index, monitor dict) a choice names; a one-line error for a missing one."""
    choice = parse_monitor(choice)
    if choice == "primary":
        index = primary_index(monitors)
    else:
        index = int(choice)
        if index >= len(monitors):
            last = len(monitors) - 1
            raise InputError(
                f"monitor {index} does not exist: this display has monitors 0..{last} "
                "(0 = all together)"
            )
    return index, monitors[index]


def monitor_infos(monitors: Sequence[Mapping[str, Any]]) -> list[MonitorInfo]:
    """Every monitor, the union (index 0) first."""
    primary = primary_index(monitors) if len(monitors) > 1 else -1
    return [
        MonitorInfo(
            index=i,
            left=int(m["left"]),
            top=int(m["top"]),
            width=int(m["width"]),
            height=int(m["height"]),
            primary=i == primary,
            name=m.get("name") or m.get("output"),
        )
        for i, m in enumerate(monitors)
    ]


def geometry_for(
    index: int, monitor: Mapping[str, Any], captured: tuple[int, int]
) -> ScreenGeometry:
    """The geometry of a capture of `monitor` whose image came back `captured` in size.

    input = (left, top) + pixel / scale. The scale is measured per axis and must
    agree (a non-uniform scale means the grab was not of this monitor).
    """
    width, height = int(monitor["width"]), int(monitor["height"])
    if width <= 0 or height <= 0:
        raise InputError(f"monitor {index} has no area ({width}x{height})")
    scale_x = captured[0] / width
    scale_y = captured[1] / height
    if abs(scale_x - scale_y) > 0.01 * max(scale_x, scale_y):
        raise InputError(
            f"monitor {index}: capture {captured[0]}x{captured[1]} does not scale uniformly "
            f"from {width}x{height}"
        )
    return ScreenGeometry(
        width=captured[0],
        height=captured[1],
        scale=round(scale_x, 6),
        offset=(float(monitor["left"]), float(monitor["top"])),
        display=index,
    )
