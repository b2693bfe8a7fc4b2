"""Two-stage grounding: a cheap look at the whole screen, then a close look around its point.

Pass 1 grounds the screenshot scaled down to a small pixel budget
(`TwoStage.first_max_pixels`, e.g. 256 visual tokens instead of 1280), which
finds the region; pass 2 grounds a crop around that point at native resolution
(`crop_pixels`, by default the model's own max_pixels, so the crop is not
scaled at all) and its answer is mapped back to the screenshot. For a 4K
screen both passes together cost far fewer visual tokens than one pass at the
resolution small targets need (bench/two_stage.py).

The agreement of the two passes is the zoom-consistency router's signal
(REFERENCE 12): the distance of the pass-2 point from where pass 1 put the
target inside the crop (its centre, unless the crop was shifted to stay on the
screen). `confidence` = 1 - that distance / half the crop's shorter side,
floored at 0. With `min_confidence` set, a point below it is refused: the
result has no point and says why, so no click is sent.

The crop geometry is `agent.eval.zoom`'s (`zoom_window`), without its upscale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from actions.frames import model_size_for
from agent.models.base import Model
from agent.models.profile import TwoStage
from agent.models.resize import to_model_image

Point = tuple[float, float]
PROTOCOL = "two-stage (not an official protocol)"


class TwoStageRecord(BaseModel):
    """What each pass saw and said, and how far they agree."""

    model_config = ConfigDict(frozen=True)

    protocol: str = PROTOCOL
    first_size: tuple[int, int] = Field(description="the downscaled screenshot of pass 1")
    first_point: Point | None = Field(None, description="pass 1's point, screenshot pixels")
    first_raw: str = ""
    crop: tuple[int, int, int, int] | None = Field(None, description="left, top, right, bottom")
    distance_px: float | None = Field(None, description="pass 2 from pass 1, screenshot px")
    confidence: float | None = Field(None, ge=0, le=1)
    visual_tokens: list[int | None] = Field(default_factory=list, description="per pass")


def settings_of(model: Model) -> TwoStage | None:
    """The two-stage settings a model runs with: its spec's, else its profile's, else None."""
    spec = getattr(model, "spec", None)
    chosen = getattr(spec, "two_stage", None)
    if chosen is None:
        chosen = getattr(getattr(model, "profile", None), "two_stage", None)
    return chosen if isinstance(chosen, TwoStage) else None


def first_image(image: Image.Image, budget: int, factor: int) -> Image.Image:
    """The screenshot scaled down to at most `budget` pixels (sides multiples of `factor`)."""
    size = model_size_for(image.size, "qwen3-vl" if factor == 32 else "qwen2.5-vl",
                          min_pixels=factor * factor * 4, max_pixels=budget)  # fmt: skip
    return to_model_image(image, size)


def crop_size(image_size: tuple[int, int], area: int, factor: int) -> tuple[int, int]:
    """A crop of about `area` pixels with the screen's aspect, sides multiples of `factor`
    (so the model's own resize leaves it at native resolution), within the screen."""
    width, height = image_size
    side = math.sqrt(area * width / height)
    cw = max(factor, min(width, int(side) // factor * factor))
    ch = max(factor, min(height, int(area / cw) // factor * factor))
    return cw, ch


def model_max_pixels(model: Model) -> int:
    """The model's pixel budget per image (the crop's default area)."""
    high = getattr(model, "max_pixels", None)
    if isinstance(high, int):
        return high
    spec = getattr(model, "spec", None)
    if spec is not None:
        return spec.pixel_limits(getattr(model, "profile", None))[1]
    return 1280 * 28 * 28


def confidence(distance: float, crop: tuple[int, int]) -> float:
    """1 at the expected point, 0 at half the crop's shorter side or farther."""
    return max(0.0, 1.0 - distance / (min(crop) / 2))


def ground_two_stage(
    model: Model,
    image: Image.Image,
    settings: TwoStage,
    ground_one: Callable[[Image.Image], Any],
) -> Any:
    """Ground on `image` in two passes; the result is in `image`'s pixels.

    `ground_one(image)` is one pass (`agent.grounding`'s, which calls this module, so it is
    passed in rather than imported): a GroundingResult in that image's pixels.

    When pass 1 finds nothing its result is returned (there is nothing to look closer
    at); when pass 2 finds nothing, pass 1's point is kept with confidence 0.
    """
    from agent.eval.zoom import ZoomWindow, zoom_window

    profile = getattr(model, "profile", None)
    factor = getattr(profile, "factor", 28)
    width, height = image.size
    small = first_image(image, settings.first_max_pixels, factor)
    first = ground_one(small)
    sx, sy = width / small.width, height / small.height
    record = TwoStageRecord(first_size=small.size, first_raw=first.raw,
                            visual_tokens=[first.visual_tokens])  # fmt: skip
    if not first.ok or first.point is None:
        return first.model_copy(update={"image_size": image.size, "two_stage": _dump(record)})
    p1 = (first.point[0] * sx, first.point[1] * sy)
    size = crop_size(image.size, settings.crop_pixels or model_max_pixels(model), factor)
    window = zoom_window(image.size, p1, size)
    window = ZoomWindow(box=window.box, size=size)  # native resolution: no upscale
    left, top, right, bottom = window.box
    crop = image.crop(window.box)
    second = ground_one(crop)
    seconds = {k: first.seconds.get(k, 0.0) + second.seconds.get(k, 0.0)
               for k in {*first.seconds, *second.seconds}}  # fmt: skip
    tokens = [first.visual_tokens, second.visual_tokens]
    total = sum(t for t in tokens if t is not None) if any(tokens) else None
    record = record.model_copy(update={"first_point": p1, "crop": window.box,
                                       "visual_tokens": tokens})  # fmt: skip
    if not second.ok or second.point is None:
        record = record.model_copy(update={"confidence": 0.0})
        return first.model_copy(update={
            "point": p1, "bbox": _scaled(first.bbox, sx, sy), "image_size": image.size,
            "visual_tokens": total, "seconds": seconds, "confidence": 0.0,
            "two_stage": _dump(record),
        })  # fmt: skip
    p2 = window.to_image(second.point)
    distance = math.hypot(p2[0] - p1[0], p2[1] - p1[1])
    score = round(confidence(distance, size), 4)
    record = record.model_copy(update={"distance_px": round(distance, 2), "confidence": score})
    box = second.bbox
    bbox = None if box is None else (*window.to_image(box[:2]), *window.to_image(box[2:]))
    error = None
    if settings.min_confidence is not None and score < settings.min_confidence:
        error = (
            f"low confidence {score:.2f} < {settings.min_confidence:g}: the close look put "
            f"the target {distance:.0f} px from where the whole-screen pass did"
        )
    return second.model_copy(update={
        "point": None if error else p2, "bbox": bbox, "image_size": image.size,
        "visual_tokens": total, "seconds": seconds, "error": error, "confidence": score,
        "two_stage": _dump(record),
    })  # fmt: skip


def _scaled(box: tuple[float, ...] | None, sx: float, sy: float) -> tuple[float, ...] | None:
    return None if box is None else (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def _dump(record: TwoStageRecord) -> dict:
    return record.model_dump(mode="json")
