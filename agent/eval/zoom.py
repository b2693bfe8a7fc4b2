"""Zoom-in refinement: ground on the whole screenshot, then again inside a crop around the guess.

High-resolution screens (ScreenSpot-Pro's 4K shots) hold targets a few dozen
pixels wide; a model that sees the screen downscaled to its pixel budget
often lands near the target but not on it. The second pass crops a window
around the first guess, scales the crop up to the size of the full
screenshot (so the model sees the region at a higher effective resolution),
grounds the instruction again and maps the answer back. When the first pass
gives no point at all (nothing matched, an unparseable answer, or the model's
"not on this screen" refusal), the four quadrants are searched at the zoomed
resolution instead and the first one that yields a point wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict

from actions.project_errors import InputError
from agent.eval.harness_readers import Reading

Point = tuple[float, float]


class ZoomWindow(BaseModel):
    """Where a crop came from, and how much it was scaled before the second pass."""

    model_config = ConfigDict(frozen=True)

    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive) in image pixels
    size: tuple[int, int]  # the zoomed crop's size, as the second pass sees it

    @property
    def scale(self) -> float:
        """Zoomed pixels per original pixel (horizontal)."""
        return self.size[0] / (self.box[2] - self.box[0])

    def to_image(self, point: Point) -> Point:
        """A point on the zoomed crop in the original screenshot's pixels (never clamped:
        a point off the crop stays off it, as a first-pass point off the image does)."""
        left, top, right, bottom = self.box
        x = left + point[0] * (right - left) / self.size[0]
        y = top + point[1] * (bottom - top) / self.size[1]
        return x, y


def parse_zoom_size(text: str | None) -> tuple[float, float] | tuple[int, int] | None:
    """``"0.5"`` (a fraction of each side), ``"960x540"`` or ``"1024"`` (pixels); None: default."""
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if re.fullmatch(r"0?\.\d+", value):
        fraction = float(value)
        if not 0.05 <= fraction < 1:
            raise InputError(f"--zoom-size {text!r}: a fraction must be within 0.05..0.99")
        return (fraction, fraction)
    match = re.fullmatch(r"(\d{2,5})(?:x(\d{2,5}))?", value)
    if not match:
        raise InputError(f"--zoom-size {text!r}: expected a fraction (0.5), N or WIDTHxHEIGHT")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    return (width, height)


def crop_size(
    image_size: tuple[int, int], size: tuple[float, float] | tuple[int, int] | None
) -> tuple[int, int]:
    """The crop's pixel size for an image: default half of each side."""
    width, height = image_size
    if size is None:
        size = (0.5, 0.5)
    if isinstance(size[0], float):
        w, h = round(width * size[0]), round(height * size[1])
    else:
        w, h = int(size[0]), int(size[1])
    return max(28, min(w, width)), max(28, min(h, height))


def zoom_window(
    image_size: tuple[int, int], point: Point, size: tuple[float, float] | tuple[int, int] | None
) -> ZoomWindow:
    """The crop centred on `point` (shifted to stay on the image) and its upscale factor."""
    width, height = image_size
    cw, ch = crop_size(image_size, size)
    left = int(round(point[0] - cw / 2))
    top = int(round(point[1] - ch / 2))
    left = min(max(left, 0), width - cw)
    top = min(max(top, 0), height - ch)
    scale = max(1.0, min(width / cw, height / ch))
    size = (round(cw * scale), round(ch * scale))
    return ZoomWindow(box=(left, top, left + cw, top + ch), size=size)


def zoomed_image(image: Image.Image, window: ZoomWindow) -> Image.Image:
    """The crop, scaled up by the window's factor (bicubic, as the model's own resize)."""
    crop = image.crop(window.box)
    if crop.size == window.size:
        return crop
    return crop.resize(window.size, Image.Resampling.BICUBIC)


def tile_windows(
    image_size: tuple[int, int], size: tuple[float, float] | tuple[int, int] | None
) -> list[ZoomWindow]:
    """Four windows centred on the image's quadrants, in reading order.

    Used when the first pass found nothing (no point to zoom on): each
    quadrant is searched at the zoomed resolution instead.
    """
    width, height = image_size
    centres = [(width * fx, height * fy) for fy in (0.25, 0.75) for fx in (0.25, 0.75)]
    return [zoom_window(image_size, centre, size) for centre in centres]


class SecondPass(BaseModel):
    """The refinement chosen for one sample: its window, the answer and what was read."""

    model_config = ConfigDict(frozen=True)

    window: ZoomWindow
    raw: str
    reading: Reading


def _found(reading: Reading) -> bool:
    """A point that says where the target is (a "not on this screen" refusal does not)."""
    return reading.point is not None and not reading.refused


def second_pass(
    originals: Sequence[Image.Image],
    instructions: Sequence[str],
    firsts: Sequence[Sequence[float] | None],
    size: tuple[float, float] | tuple[int, int] | None,
    *,
    ground: Callable[[list[Image.Image], list[str]], list[Any]],
    read: Callable[[Any], Reading],
) -> dict[int, SecondPass]:
    """Ground every sample again on a crop around its first point (pixels of the original),
    or on the four quadrants when it has none; the first quadrant with a point wins.

    Returns the refinement per sample index.
    """
    todo: list[tuple[int, ZoomWindow]] = []
    for i, image in enumerate(originals):
        first = firsts[i]
        if first is not None and all(math.isfinite(v) for v in first):
            todo.append((i, zoom_window(image.size, (first[0], first[1]), size)))
        else:  # nothing to zoom on: search the quadrants at the zoomed resolution
            todo.extend((i, w) for w in tile_windows(image.size, size))
    chosen: dict[int, SecondPass] = {}
    if not todo:
        return chosen
    crops = [zoomed_image(originals[i], w) for i, w in todo]
    results = ground(crops, [instructions[i] for i, _ in todo])
    for (i, window), result in zip(todo, results, strict=True):
        reading = read(result)
        if i not in chosen or (not _found(chosen[i].reading) and _found(reading)):
            chosen[i] = SecondPass(window=window, raw=result.raw, reading=reading)
    return chosen
