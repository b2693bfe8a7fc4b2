"""Coordinate frames: model space -> screenshot pixels -> input coordinates.

Three frames meet in every step, and mixing them up is the most common bug
of GUI agents:

* **model space**: what the model writes (`CoordinateSpace`). Qwen2.5-VL and
  UI-TARS-1.5 answer in absolute pixels of the image they were fed (after
  `smart_resize`), Qwen2-VL, Qwen3-VL and the grounders built on it in 0-1000
  units (x/1000 of the side; the Qwen3-VL mobile_agent cookbook announces a
  999x999 screen, x/999), ShowUI-style models in 0-1 floats. A model profile
  (`agent.models.profiles`) says which; `ModelFamily` is the older, coarser
  name for the same choice (``--family``).
* **screenshot pixels**: the observation image. Actions live here.
* **input coordinates**: what the OS or device takes; HiDPI scale and monitor
  offset apply (input = offset + pixel / scale).
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actions.project_errors import InputError

PATCH_FACTOR = 28
QWEN_MIN_PIXELS = 4 * 28 * 28
QWEN_MAX_PIXELS = 16384 * 28 * 28
MAX_ASPECT_RATIO = 200

EDGE_MARGIN = 2.0
"""Input units (points on HiDPI) kept between an action point and the edge of the screenshot.
A point on the outermost pixel row can be a screen corner, which is exactly where the
fail-safe looks (env/desktop_pointer.py): the *next* action would stop the run and blame
the user. Two units also survive rounding to whole input pixels at any scale."""

OVERSHOOT_TOLERANCE = 0.05
"""How far outside its frame a model point may be, as a fraction of the frame's side, and
still count as aiming at the edge (pulled inside by `EDGE_MARGIN`): Qwen-style models write
coordinates a few units past the border for targets on it (1-2 % of the side is common).
Farther out the answer is unusable (`PointOutsideFrame`), not a click at the edge: a point
at 1.46x the frame is what a model answering in the original screenshot's pixels writes."""


class CoordinateSpace(str, Enum):
    """What the numbers a model writes are measured in."""

    PIXELS = "pixels"  # absolute pixels of the resized image the model saw
    REL1000 = "rel1000"  # 0-1000 of each side
    REL999 = "rel999"  # 0-999 of each side (a 999x999 screen was announced)
    REL1 = "rel1"  # 0-1 floats


# The value that stands for a full side (None: the resized image's own size).
SPACE_UNITS: dict[CoordinateSpace, float | None] = {
    CoordinateSpace.PIXELS: None,
    CoordinateSpace.REL1000: 1000.0,
    CoordinateSpace.REL999: 999.0,
    CoordinateSpace.REL1: 1.0,
}


class ModelFamily(str, Enum):
    """How a model family writes coordinates."""

    QWEN2_5_VL = "qwen2.5-vl"
    QWEN2_VL = "qwen2-vl"
    QWEN3_VL = "qwen3-vl"
    UI_TARS_1_5 = "ui-tars-1.5"
    NORMALIZED = "normalized"


class FamilySpec(NamedTuple):
    """Resize rule and coordinate convention of one family.

    `units` is None for absolute pixels of the resized image, otherwise the
    value that stands for the full side (1000 for thousandths, 1 for 0-1).
    """

    factor: int
    min_pixels: int
    max_pixels: int
    units: float | None
    max_value: float | None


FAMILIES: dict[ModelFamily, FamilySpec] = {
    ModelFamily.QWEN2_5_VL: FamilySpec(28, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS, None, None),
    ModelFamily.UI_TARS_1_5: FamilySpec(28, 100 * 28 * 28, QWEN_MAX_PIXELS, None, None),
    ModelFamily.QWEN2_VL: FamilySpec(28, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS, 1000.0, 1000.0),
    ModelFamily.QWEN3_VL: FamilySpec(32, 64 * 32 * 32, 16384 * 32 * 32, 1000.0, 999.0),
    ModelFamily.NORMALIZED: FamilySpec(28, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS, 1.0, 1.0),
}


def space_of_family(family: ModelFamily | str) -> CoordinateSpace:
    """The coordinate space a family writes in."""
    units = FAMILIES[family_of(family)].units
    if units is None:
        return CoordinateSpace.PIXELS
    return CoordinateSpace.REL1 if units == 1.0 else CoordinateSpace.REL1000


def family_of_space(space: CoordinateSpace, factor: int = PATCH_FACTOR) -> ModelFamily:
    """The family label closest to a coordinate space (for records and `--family`)."""
    if space is CoordinateSpace.PIXELS:
        return ModelFamily.QWEN2_5_VL
    if space is CoordinateSpace.REL1:
        return ModelFamily.NORMALIZED
    return ModelFamily.QWEN3_VL if factor == 32 else ModelFamily.QWEN2_VL


def family_of(name: str | ModelFamily) -> ModelFamily:
    """Parse a family name such as ``qwen2.5-vl``; a one-line error lists the valid ones."""
    if isinstance(name, ModelFamily):
        return name
    key = name.strip().lower().replace("_", "-")
    aliases = {"qwen25-vl": "qwen2.5-vl", "qwen2.5vl": "qwen2.5-vl", "ui-tars": "ui-tars-1.5"}
    key = aliases.get(key, key)
    try:
        return ModelFamily(key)
    except ValueError:
        valid = ", ".join(f.value for f in ModelFamily)
        raise InputError(f"unknown model family {name!r} (choose one of: {valid})") from None


def smart_resize(
    width: int,
    height: int,
    *,
    factor: int = PATCH_FACTOR,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> tuple[int, int]:
    """The size Qwen-VL's processor resizes a `width` x `height` image to.

    Each side is rounded to the nearest multiple of `factor`; if the area is
    then above `max_pixels` both sides shrink by the same ratio and are
    floored, if below `min_pixels` they grow and are ceiled.

    Returns:
        ``(width, height)`` of the image the model sees.
    """
    if width <= 0 or height <= 0:
        raise InputError(f"image size must be positive, got {width}x{height}")
    if min_pixels > max_pixels:
        raise InputError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise InputError(
            f"aspect ratio of {width}x{height} is above {MAX_ASPECT_RATIO}, which Qwen-VL rejects"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def visual_tokens(model_size: tuple[int, int], factor: int = PATCH_FACTOR) -> int:
    """Image tokens the language model sees for an image of `model_size` (markers excluded)."""
    return (model_size[0] // factor) * (model_size[1] // factor)


def model_size_for(
    image_size: tuple[int, int],
    family: ModelFamily | str = ModelFamily.QWEN2_5_VL,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> tuple[int, int]:
    """`smart_resize` with the family's own factor and pixel limits as defaults."""
    spec = FAMILIES[family_of(family)]
    return smart_resize(
        image_size[0],
        image_size[1],
        factor=spec.factor,
        min_pixels=spec.min_pixels if min_pixels is None else min_pixels,
        max_pixels=spec.max_pixels if max_pixels is None else max_pixels,
    )


class PointOutsideFrame(ValueError):
    """A model point far outside the frame it answered in: an unusable answer."""

    def __init__(self, message: str, model_point: tuple[float, float]) -> None:
        super().__init__(message)
        self.model_point = model_point


def _clamp(value: float, low: float, high: float) -> float:
    if math.isnan(value):
        return low
    return min(max(value, low), high)


class CoordinateFrame(BaseModel):
    """Maps points between model space, screenshot pixels and input coordinates.

    Recorded with every step so that a wrong click can be explained later.
    `space` and `factor` default to the family's; a model profile sets them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: ModelFamily = ModelFamily.QWEN2_5_VL
    image_size: tuple[int, int] = Field(description="screenshot width, height in pixels")
    model_size: tuple[int, int] = Field(description="width, height of the image the model saw")
    scale: float = Field(1.0, gt=0, description="screenshot pixels per input unit (HiDPI)")
    offset: tuple[float, float] = Field((0.0, 0.0), description="monitor origin, input units")
    space: CoordinateSpace = Field(
        CoordinateSpace.PIXELS, description="what the model's numbers are measured in"
    )
    factor: int = Field(PATCH_FACTOR, gt=0, description="pixels per visual token side")

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, data: Any) -> Any:
        # Frames written before profiles existed name only a family: derive the rest from it.
        if isinstance(data, dict) and ("space" not in data or "factor" not in data):
            family = family_of(data.get("family") or ModelFamily.QWEN2_5_VL)
            data = {
                "space": space_of_family(family),
                "factor": FAMILIES[family].factor,
                **data,
            }
        return data

    @classmethod
    def for_image(
        cls,
        image_size: tuple[int, int],
        family: ModelFamily | str = ModelFamily.QWEN2_5_VL,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        scale: float = 1.0,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> CoordinateFrame:
        """The frame of a screenshot of `image_size` fed to a model of `family`."""
        fam = family_of(family)
        size = model_size_for(image_size, fam, min_pixels=min_pixels, max_pixels=max_pixels)
        return cls(family=fam, image_size=image_size, model_size=size, scale=scale, offset=offset)

    @property
    def spec(self) -> FamilySpec:
        return FAMILIES[self.family]

    def _extent(self) -> tuple[float, float]:
        units = SPACE_UNITS[self.space]
        if units is None:
            return float(self.model_size[0]), float(self.model_size[1])
        return units, units

    def model_to_image(self, x: float, y: float) -> tuple[float, float]:
        """A model-space point in screenshot pixels, at least `EDGE_MARGIN` inside the edges.

        Raises:
            PointOutsideFrame: the point lies more than `OVERSHOOT_TOLERANCE` of the
                frame's side outside it (or is not a number).
        """
        ext_w, ext_h = self._extent()
        slack_w, slack_h = OVERSHOOT_TOLERANCE * ext_w, OVERSHOOT_TOLERANCE * ext_h
        if not (-slack_w <= x <= ext_w + slack_w and -slack_h <= y <= ext_h + slack_h):
            raise PointOutsideFrame(
                f"point ({x:g}, {y:g}) is far outside the model's {ext_w:g}x{ext_h:g} frame "
                f"(more than {OVERSHOOT_TOLERANCE:.0%} of a side)",
                (x, y),
            )
        w, h = self.image_size
        margin_x = min(EDGE_MARGIN * self.scale, (w - 1) / 2)
        margin_y = min(EDGE_MARGIN * self.scale, (h - 1) / 2)
        return (
            _clamp(x * w / ext_w, margin_x, w - 1 - margin_x),
            _clamp(y * h / ext_h, margin_y, h - 1 - margin_y),
        )

    def _corner_to_image(self, x: float, y: float) -> tuple[float, float]:
        ext_w, ext_h = self._extent()
        w, h = self.image_size
        px = _clamp(x, 0.0, ext_w) * w / ext_w
        py = _clamp(y, 0.0, ext_h) * h / ext_h
        return _clamp(px, 0.0, w - 1.0), _clamp(py, 0.0, h - 1.0)

    def image_to_model(self, x: float, y: float) -> tuple[float, float]:
        """A screenshot pixel in model space (the inverse of `model_to_image`)."""
        ext_w, ext_h = self._extent()
        w, h = self.image_size
        mx = _clamp(x, 0.0, w) * ext_w / w
        my = _clamp(y, 0.0, h) * ext_h / h
        return mx, my

    def image_to_screen(self, x: float, y: float) -> tuple[float, float]:
        """Screenshot pixels to input coordinates (HiDPI scale, monitor offset)."""
        return self.offset[0] + x / self.scale, self.offset[1] + y / self.scale

    def screen_to_image(self, x: float, y: float) -> tuple[float, float]:
        """Input coordinates to screenshot pixels."""
        return (x - self.offset[0]) * self.scale, (y - self.offset[1]) * self.scale

    def model_to_screen(self, x: float, y: float) -> tuple[float, float]:
        """A model-space point straight to input coordinates."""
        return self.image_to_screen(*self.model_to_image(x, y))

    def model_box_to_image(
        self, box: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        """A model-space box (corners in any order) in screenshot pixels, as x1<=x2, y1<=y2.

        Corners are clamped to the image (a box is drawn and scored, never clicked).
        """
        x1, y1 = self._corner_to_image(min(box[0], box[2]), min(box[1], box[3]))
        x2, y2 = self._corner_to_image(max(box[0], box[2]), max(box[1], box[3]))
        return x1, y1, x2, y2

    def contains(self, x: float, y: float) -> bool:
        """Whether a screenshot pixel lies on the image."""
        return 0 <= x < self.image_size[0] and 0 <= y < self.image_size[1]
