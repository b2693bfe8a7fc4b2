"""What `agent compile` reads on a recorded screenshot: the text at a click, and whether it
matches the click's instruction.

A run folder may come from anyone, so a recorded click is not believed on its
own: before its point seeds the locate cache, the screenshot the step looked at
must show the instruction's text at that point (OCR). A click whose point shows
other text ("the Submit button" recorded on Clear), or whose screenshot cannot
be read, is compiled as a model-grounded step with no cache entry.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

LABEL_MARGIN = 4
"""Pixels around an OCR line's box that still count as clicking on it."""


def read_lines(image: Image.Image) -> list[Any] | None:
    """The OCR lines of `image`, or None when OCR is not available here."""
    try:
        from agent.models.ocr import read_text

        return read_text(image)
    except Exception as exc:  # no OCR extra: nothing can be named or verified
        log.info("cannot read the text of a recorded screenshot: %s", exc)
        return None


def lines_at(lines: list[Any], x: float, y: float) -> list[Any]:
    """The OCR lines whose box (plus `LABEL_MARGIN`) holds the point, smallest first."""
    m = LABEL_MARGIN
    hits = [
        ln
        for ln in lines
        if ln.text.strip()
        and ln.box[0] - m <= x <= ln.box[2] + m
        and ln.box[1] - m <= y <= ln.box[3] + m
    ]
    return sorted(hits, key=lambda ln: (ln.box[2] - ln.box[0]) * (ln.box[3] - ln.box[1]))


def describe_point(image: Image.Image, x: float, y: float) -> tuple[str, tuple] | None:
    """The text OCR reads at (x, y) and its box, or None (no OCR, or no text there)."""
    lines = read_lines(image)
    hits = lines_at(lines or [], x, y)
    if not hits:
        return None
    return hits[0].text.strip(), tuple(float(v) for v in hits[0].box)


def label_from_answer(raw: str) -> str | None:
    """A grounding answer's own ``"label"`` (Qwen's bbox JSON), if it gave one."""
    start = raw.find("[")
    try:
        items = json.loads(raw[start : raw.rfind("]") + 1]) if start >= 0 else None
    except ValueError:
        return None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        label = items[0].get("label")
        return label.strip() if isinstance(label, str) and label.strip() else None
    return None


def mismatch(image: Image.Image, instruction: str, x: float, y: float) -> str | None:
    """Why the point (x, y) of `image` is not `instruction`'s target, or None when it is.

    The target text (`ocr_match.target_text`: ``"the Submit button"`` -> ``Submit``)
    must be read at the point itself; the same text elsewhere on the screen
    does not count.
    """
    from agent.models.ocr_match import best_match, target_text

    lines = read_lines(image)
    if lines is None:
        return "OCR is not available to check it (pip install 'screenpilot[ocr]')"
    target = target_text(instruction)
    here = lines_at(lines, x, y)
    if best_match(here, target, strictness="ground") is not None:
        return None
    shown = f"{here[0].text.strip()!r}" if here else "no text"
    return f"the recorded point ({x:.0f}, {y:.0f}) shows {shown}, not {target!r}"
