"""A model profile: everything that makes a checkpoint answer the way its authors evaluated it.

Architecture (transformers model_type), prompts and the image/text order, the
patch factor and pixel limits, the coordinate space, the answer format,
decoding, and which modes the model has (grounding; goal mode with an action
space). Profiles are data: the table is `agent.models.profiles`, and the
backends read an entry without ever branching on a model's name.

Prompt templates are plain text in which ``{instruction}``, ``{width}`` and
``{height}`` are replaced literally (not with `str.format`: the authors'
prompts are full of JSON braces). ``{width}x{height}`` is the smart_resized
size of the screenshot, the space an absolute-pixel model answers in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actions.answer_formats import AnswerFormat
from actions.frames import CoordinateFrame, CoordinateSpace, family_of_space, smart_resize

Pixels = Annotated[int, Field(gt=0, le=1_000_000_000)]
Mode = Literal["ground", "act"]
ActFormat = Literal["qwen2.5-vl", "qwen3-vl", "ui-tars-1.5", "gui-owl-1.5"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PixelLimits(_Frozen):
    """How many pixels the model is fed (smart_resize limits)."""

    min_pixels: Pixels
    max_pixels: Pixels

    @model_validator(mode="after")
    def _ordered(self) -> PixelLimits:
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} > max_pixels {self.max_pixels}")
        return self


class GroundPrompt(_Frozen):
    """The grounding request: system text (or none) and the user text around the image."""

    system: str | None = Field(None, description="template; None: no system message")
    mobile_system: str | None = Field(None, description="for --mobile; default: `system`")
    user: str = Field(description="template of the user turn's text")
    image_first: bool = Field(True, description="image before the text in the user turn")
    strip_period: bool = Field(False, description="drop one trailing '.' of the instruction")


class Decoding(_Frozen):
    """How the answer is generated. Always greedy; the authors' samplers are noted in comments."""

    max_new_tokens: Annotated[int, Field(gt=0, le=32_768)]
    prefill: str | None = Field(None, description="grounding reply start (desktop)")
    mobile_prefill: str | None = Field(None, description="grounding reply start (mobile)")
    stop: tuple[str, ...] = Field((), description="strings that end the answer")
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    json_schema: dict[str, Any] | None = Field(
        None, description="structured output the authors decode with (servers that support it)"
    )


class ActSpec(_Frozen):
    """Goal mode: the action space and history format the authors define."""

    format: ActFormat
    desktop: bool = True
    mobile: bool = True
    space: CoordinateSpace | None = Field(None, description="default: the profile's")
    mobile_space: CoordinateSpace | None = Field(None, description="default: `space`")
    max_new_tokens: Annotated[int, Field(gt=0, le=32_768)] = 256
    stop: tuple[str, ...] = Field((), description="strings that end a next-action answer")
    source: str = ""


class TwoStage(_Frozen):
    """Two-stage grounding (REFERENCE 12): a first pass on the screenshot scaled down to a
    small pixel budget, then a second on a crop around its point at native resolution.

    Not an official protocol of any model: results made with it are labelled so.
    """

    first_max_pixels: Pixels = Field(
        256 * 28 * 28, description="pixel budget of the first, whole-screen pass"
    )
    crop_pixels: Pixels | None = Field(
        None, description="area of the native-resolution crop; default: the model's max_pixels"
    )
    min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="refuse a point whose confidence (the passes' agreement) is below this",
    )


ReaderKind = Literal[
    "ScreenSpot-Pro harness", "authors' ScreenSpot-Pro script", "authors' answer parser"
]


class OfficialReader(_Frozen):
    """How ``agent eval --parser official`` reads this model's answers: the code it follows.

    "ScreenSpot-Pro harness": the harness's own model file; "authors' ScreenSpot-Pro
    script": the model authors' evaluation of ScreenSpot-Pro; "authors' answer parser": they
    publish no ScreenSpot-Pro script, so their own code that turns an answer into a click
    (README or cookbook example, agent parser) is followed. `read` is an
    `agent.eval.harness_readers.Reader`: (raw answer, frame) -> Reading.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str
    source: str = Field(description="repository @ commit and file the reader follows")
    kind: ReaderKind
    read: Callable[[str, CoordinateFrame], Any] = Field(repr=False)


class Published(_Frozen):
    """A published ScreenSpot-Pro figure (not reproduced here: no weights)."""

    model: str
    ssp: float = Field(ge=0, le=100)
    source: str


class Profile(_Frozen):
    """One entry of the profile table."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    summary: str
    architectures: tuple[str, ...] = Field(min_length=1, description="transformers model_types")
    hub_ids: tuple[str, ...] = Field(description="checkpoints this profile is for")
    patterns: tuple[str, ...] = Field(
        (), description="regular expressions on a hub id, folder or served name"
    )
    factor: Literal[28, 32] = Field(description="pixels per visual token side (patch x merge)")
    space: CoordinateSpace
    resize: Literal["smart", "prescale"] = Field(
        "smart",
        description="smart: smart_resize(min, max); prescale: scale the area down to max "
        "first, sides rounded, then smart_resize (InfiGUI-G1's eval)",
    )
    benchmark_pixels: PixelLimits = Field(description="the authors' grounding-benchmark limits")
    agent_pixels: PixelLimits = Field(description="default for agent steps (speed)")
    ground: GroundPrompt
    answer: AnswerFormat = Field(default_factory=AnswerFormat)
    decoding: Decoding
    act: ActSpec | None = None
    published: tuple[Published, ...] = ()
    sources: tuple[str, ...] = Field((), description="files the prompts were taken from")
    notes: str = ""
    two_stage: TwoStage | None = Field(
        None, description="ground in two passes by default (agent.two_stage); off: one pass"
    )
    reader: OfficialReader | None = Field(
        None, description="official reader for `agent eval`; None: --parser robust only"
    )

    @property
    def modes(self) -> tuple[Mode, ...]:
        return ("ground", "act") if self.act is not None else ("ground",)

    def can_plan(self, *, mobile: bool = False) -> bool:
        """Whether goal mode is defined for this platform."""
        if self.act is None:
            return False
        return self.act.mobile if mobile else self.act.desktop

    def pixel_limits(
        self,
        purpose: Literal["agent", "benchmark"] = "agent",
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
    ) -> tuple[int, int]:
        """(min_pixels, max_pixels): the given values over the profile's defaults."""
        limits = self.benchmark_pixels if purpose == "benchmark" else self.agent_pixels
        low = limits.min_pixels if min_pixels is None else min_pixels
        high = limits.max_pixels if max_pixels is None else max_pixels
        return low, high

    def model_size(
        self, image_size: tuple[int, int], *, min_pixels: int, max_pixels: int
    ) -> tuple[int, int]:
        """The size of the image the model sees for a screenshot of `image_size`."""
        width, height = image_size
        if self.resize == "prescale":
            # InfiGUI-G1 eval/data.py resize_image: area scaled down to max_pixels, sides
            # rounded; then qwen_vl_utils.smart_resize with its wide default limits.
            if width * height > max_pixels:
                scale = math.sqrt(max_pixels / (width * height))
                width, height = max(1, round(width * scale)), max(1, round(height * scale))
            max_pixels = max(max_pixels, 16384 * 28 * 28)
        return smart_resize(
            width, height, factor=self.factor, min_pixels=min_pixels, max_pixels=max_pixels
        )

    def coordinate_space(self, kind: Literal["ground", "act"], *, mobile: bool) -> CoordinateSpace:
        """The space answers of this kind are written in."""
        if kind == "act" and self.act is not None:
            space = self.act.space or self.space
            return (self.act.mobile_space or space) if mobile else space
        return self.space

    def frame_for(
        self,
        image_size: tuple[int, int],
        *,
        min_pixels: int,
        max_pixels: int,
        kind: Literal["ground", "act"] = "ground",
        mobile: bool = False,
        space: CoordinateSpace | None = None,
        scale: float = 1.0,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> CoordinateFrame:
        """The frame a screenshot of `image_size` is answered in.

        `space` overrides the profile's coordinate space (``--family``).
        """
        size = self.model_size(image_size, min_pixels=min_pixels, max_pixels=max_pixels)
        chosen = space or self.coordinate_space(kind, mobile=mobile)
        return CoordinateFrame(
            family=family_of_space(chosen, self.factor),
            image_size=image_size,
            model_size=size,
            scale=scale,
            offset=offset,
            space=chosen,
            factor=self.factor,
        )
