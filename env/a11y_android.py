"""Read an Android screen's view hierarchy (``uiautomator dump``) as `Element`s.

No phone-side app: the dump is the platform's own ``uiautomator dump /dev/tty``,
run over adb with a deadline (a dump waits for the UI to be idle, which takes
seconds on an animating screen). Bounds are in device pixels of the current
rotation, i.e. the input frame of `env.android`; they are mapped to screenshot
pixels with the observation's geometry, as every other point is. A node with
text but no click handler stands for its nearest clickable ancestor (a settings
row), the smallest enclosing one by construction.

The XML comes from the device: it is parsed with the standard library's
expat-based parser, which never fetches external entities, and a document type
declaration is refused outright (uiautomator never writes one).
"""

from __future__ import annotations

import logging
import re
import socket
import xml.etree.ElementTree as ET
from typing import Any

from env.a11y import Element

log = logging.getLogger(__name__)

DUMP_COMMAND = "uiautomator dump /dev/tty"
_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")
_FLAGS = ("checkable", "checked", "clickable", "enabled", "focusable", "focused",
          "scrollable", "long-clickable", "password", "selected")  # fmt: skip


def parse_hierarchy(xml: str, to_pixels: Any = None) -> list[Element]:
    """Elements of a uiautomator dump (text after the closing tag is ignored).

    Args:
        xml: the dump (``<hierarchy rotation="..."><node .../></hierarchy>``).
        to_pixels: maps a device point (x, y) to screenshot pixels.
    Raises:
        ValueError: not a hierarchy dump.
    """
    start, end = xml.find("<hierarchy"), xml.rfind("</hierarchy>")
    if "<!DOCTYPE" in xml[: max(start, 0)] or start < 0:
        raise ValueError("not a uiautomator hierarchy dump")
    if end < 0:
        end = xml.rfind("/>") - len("</hierarchy>") + 2  # an empty <hierarchy .../>
    body = xml[start : end + len("</hierarchy>")]
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"unreadable hierarchy dump: {exc}") from None
    found: list[Element] = []
    _walk(root, None, to_pixels, found)
    return found


def _walk(node: ET.Element, clickable: Element | None, to_pixels: Any,
          found: list[Element]) -> None:  # fmt: skip
    for child in node:
        if child.tag != "node":
            continue
        element = _element(child, to_pixels)
        here = clickable
        if element is not None:
            if "clickable" in element.states or "long-clickable" in element.states:
                here = element
            elif clickable is not None and (element.name or element.description):
                element.target = clickable
            found.append(element)
        _walk(child, here, to_pixels, found)


def _element(node: ET.Element, to_pixels: Any) -> Element | None:
    a = node.attrib
    match = _BOUNDS.fullmatch(a.get("bounds", ""))
    if match is None:
        return None
    x1, y1, x2, y2 = (int(v) for v in match.groups())
    if to_pixels is not None:
        (x1, y1), (x2, y2) = (
            tuple(round(v) for v in to_pixels(x1, y1)),
            tuple(round(v) for v in to_pixels(x2, y2)),
        )
    text, desc = a.get("text", ""), a.get("content-desc", "")
    states = [flag for flag in _FLAGS if a.get(flag) == "true"]
    if a.get("visible-to-user", "true") == "true":
        states.append("visible")
    return Element(
        role=a.get("class", "").rsplit(".", 1)[-1].casefold() or "view",
        name=text or desc,
        description=desc if text else a.get("resource-id", ""),
        states=states,
        box=(x1, y1, x2, y2),
        source="android",
        app=a.get("package", ""),
    )


def read_elements(env: Any, budget: float, to_pixels: Any = None) -> tuple[list[Element], str]:
    """The elements on an `AndroidEnv`'s screen, and '' or why none could be read."""
    try:
        # env.run has no deadline; adbutils' shell2 does (a socket timeout: uiautomator
        # writes the whole dump at once, after the screen went idle, or never)
        result = env._device.shell2(DUMP_COMMAND, timeout=budget, encoding="utf-8", v2=True)
        xml = result.output or ""
    except Exception as exc:  # adbutils' AdbTimeout / AdbError, or OSError
        if isinstance(exc, (TimeoutError, socket.timeout)) or "Timeout" in type(exc).__name__:
            return [], f"a11y: the hierarchy was not dumped within {budget:g} s"
        return [], f"a11y: hierarchy dump failed ({type(exc).__name__}: {exc})"
    if getattr(result, "returncode", 0) != 0:
        said = ((getattr(result, "stderr", "") or "") + xml).strip().splitlines()
        return [], f"a11y: uiautomator dump failed ({said[0][:200] if said else 'no output'})"
    try:
        return parse_hierarchy(xml, to_pixels), ""
    except ValueError as exc:
        return [], f"a11y: {exc}"
