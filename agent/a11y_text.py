"""wait_for / assert answered from the accessibility tree, before any OCR pass.

An element shows a text when its name or description contains it as whole
words (anywhere, for scripts written without spaces), compared in OCR's
normalised form (`agent.models.ocr_match.normalize`) but with no edit allowed:
the tree's text is exact, so every sign and digit must be there (``-7`` never
passes on a button named ``7``). Only elements the app says are visible and
showing, with their centre on the screenshot, count. A miss proves nothing
(many texts are drawn, not named): the caller then reads the screen with OCR.
"""

from __future__ import annotations

import time
import unicodedata
from typing import Any

from agent.models.ocr_match import TextMatch, normalize
from env.a11y import DEFAULT_BUDGET, Element, Located
from env.base import Observation


def _says(value: str, goal: str) -> bool:
    """`value` contains `goal` (both normalised) as whole words; CJK: as a substring."""
    norm = normalize(value)
    if not norm:
        return False
    if any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in goal):
        return goal in norm
    return f" {goal} " in f" {norm} "


def _shown(element: Element, size: tuple[int, int]) -> bool:
    """Visible (AT-SPI: and showing), with a box whose centre is on the screenshot."""
    states = set(element.states)
    if not ({"visible", "showing"} if element.source == "atspi" else {"visible"}) <= states:
        return False
    box = element.box
    if box is None or box[2] <= box[0] or box[3] <= box[1]:
        return False
    x, y = element.center
    return 0 <= x < size[0] and 0 <= y < size[1]


def text_in_tree(
    env: Any, obs: Observation, text: str, *, budget: float = DEFAULT_BUDGET
) -> tuple[TextMatch | None, Located | None, str]:
    """The text `text` as a shown element names it (match, where it was found) or why not.

    Time-boxed by `budget`; any element will do (a text on screen twice is still on screen):
    the topmost, then leftmost, is reported.
    """
    from env.a11y_read import read_elements

    goal = normalize(text)
    if not goal:
        return None, None, "a11y: nothing to look for"
    start = time.perf_counter()
    found, why = read_elements(
        env, obs.geometry, budget=budget,
        keep=lambda e: _says(e.name, goal) or _says(e.description, goal),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    shown = [e for e in found if _shown(e, obs.geometry.size)]
    if not shown:
        return None, None, why or f"a11y: no shown element says {text!r}"
    element = min(shown, key=lambda e: (e.box[1], e.box[0]) if e.box else (0, 0))
    assert element.box is not None  # _shown checked it
    said = element.name if _says(element.name, goal) else element.description
    match = TextMatch(
        target=text, text=goal, box=tuple(float(v) for v in element.box),  # type: ignore[arg-type]
        similarity=1.0, edits=0, line=said, ocr_score=1.0, whole_line=normalize(said) == goal,
    )  # fmt: skip
    located = Located(by="a11y", role=element.role, name=element.name,
                      description=element.description, box=element.box,
                      seconds=seconds)  # fmt: skip
    return match, located, ""
