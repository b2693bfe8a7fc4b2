"""One entry point for the accessibility tree of whatever an `Env` shows.

Desktop (X11): the AT-SPI bus of the D-Bus session the env's apps are launched
into: the private display's own bus when the env started one (the
``DBUS_SESSION_BUS_ADDRESS`` of its virtual display's ``child_env()``), else the
user's session (``DBUS_SESSION_BUS_ADDRESS``). Android: the view hierarchy over
adb. Boxes come back in screenshot pixels of `geometry` (the latest observation's).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from env.a11y import DEFAULT_BUDGET, Element, name_matches, pick, split_target
from env.base import ScreenGeometry


def _to_pixels(geometry: ScreenGeometry) -> Callable[[float, float], tuple[float, float]]:
    """Input (screen / device) coordinates to screenshot pixels: inverse of `to_input`."""
    ox, oy = geometry.offset
    return lambda x, y: ((x - ox) * geometry.scale, (y - oy) * geometry.scale)


def session_bus_of(env: Any) -> str | None:
    """The D-Bus session `env` launches apps into (see the module docstring)."""
    child_env = getattr(getattr(env, "virtual_display", None), "child_env", None)
    if callable(child_env):
        address = child_env().get("DBUS_SESSION_BUS_ADDRESS")
        if address:
            return address
    return os.environ.get("DBUS_SESSION_BUS_ADDRESS")


def _atspi_reader(env: Any) -> Any:
    from env.a11y_atspi import AtspiReader

    reader = getattr(env, "_a11y_reader", None)
    bus = session_bus_of(env)
    display = getattr(env, "display_name", None)
    if reader is None or reader.session_bus != bus or reader.display != display:
        reader = AtspiReader(bus, display=display)
        env._a11y_reader = reader  # one connection per env, reused step after step
    return reader


def read_elements(
    env: Any,
    geometry: ScreenGeometry,
    *,
    budget: float = DEFAULT_BUDGET,
    keep: Callable[[Element], bool] | None = None,
) -> tuple[list[Element], str]:
    """The elements on `env`'s screen (those `keep` accepts) and '' or why none were read."""
    if env.platform == "android":
        from env.a11y_android import read_elements as read_android

        found, why = read_android(env, budget, _to_pixels(geometry))
        return ([e for e in found if keep(e)] if keep else found), why
    if os.name != "posix" or getattr(env, "display_name", None) is None:
        return [], "a11y: no AT-SPI here (X11 only)"
    reader = _atspi_reader(env)
    if not reader.session_bus and not reader.a11y_bus:
        return [], "a11y: no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)"
    return reader.elements(budget, to_pixels=_to_pixels(geometry), keep=keep)


def locate(
    env: Any, geometry: ScreenGeometry, target: str, *, budget: float = DEFAULT_BUDGET
) -> tuple[Element | None, str, float]:
    """The one element `target` names (or None and why), and the seconds it took."""
    start = time.perf_counter()
    text, _ = split_target(target)
    found, why = read_elements(env, geometry, budget=budget, keep=lambda e: name_matches(e, text))
    if why:
        return None, why, time.perf_counter() - start
    element, why = pick(found, target, geometry.size)
    return element, why, time.perf_counter() - start
