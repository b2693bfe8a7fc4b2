"""The MCP tools' arguments and results: one pydantic model each, from which the schemas come.

The server turns every field of an argument model into a tool parameter (its
type, bounds and description become the tool's JSON schema), and every result
model into the tool's output schema. Rules that span several fields (a target
*or* a point) are model validators, checked before anything is sent.

Coordinates are pixels of the latest screenshot the ``screenshot`` tool
returned to the caller (of the smaller image when it asked for ``max_side``);
the server maps them to screen pixels, then to input coordinates.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actions.vocabulary import Platform

ViewPixel = Annotated[float, Field(ge=0, le=100_000)]
"""Pixels of the latest screenshot (see the module docstring)."""
Point = tuple[float, float]
Box = tuple[float, float, float, float]
TargetText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="what to act on, as a person would say it: 'the Save button', 'Search field'",
    ),
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _point_or_target(
    target: str | None, x: float | None, y: float | None, *, required: bool = True
) -> None:
    if target is not None and (x is not None or y is not None):
        raise ValueError("give either a target description or x and y, not both")
    if (x is None) != (y is None):
        raise ValueError("give both x and y, or neither")
    if required and target is None and x is None:
        raise ValueError("give a target description, or both x and y")


class _PointArgs(_Args):
    x: ViewPixel | None = Field(None, description="x in pixels of the latest screenshot")
    y: ViewPixel | None = Field(None, description="y in pixels of the latest screenshot")
    target: TargetText | None = None

    @model_validator(mode="after")
    def _one_way(self) -> _PointArgs:
        _point_or_target(self.target, self.x, self.y)
        return self


# -- arguments -------------------------------------------------------------------------------
class ScreenshotArgs(_Args):
    format: Literal["png", "jpeg"] = Field("png", description="png (exact) or jpeg (smaller)")
    quality: Annotated[int, Field(ge=1, le=100)] = Field(80, description="jpeg quality, 1-100")
    max_side: Annotated[int, Field(ge=64, le=16384)] | None = Field(
        None,
        description="shrink the image so that its longer side is at most this many pixels "
        "(fewer tokens); later coordinates are then pixels of the smaller image",
    )


class ClickArgs(_PointArgs):
    button: Literal["left", "right", "middle"] = "left"
    count: Annotated[int, Field(ge=1, le=3)] = Field(1, description="1, 2 (double) or 3 (triple)")


class DragArgs(_Args):
    x: ViewPixel | None = Field(None, description="start x")
    y: ViewPixel | None = Field(None, description="start y")
    target: TargetText | None = Field(None, description="what to press on first")
    to_x: ViewPixel | None = Field(None, description="end x")
    to_y: ViewPixel | None = Field(None, description="end y")
    to_target: TargetText | None = Field(None, description="where to release")
    button: Literal["left", "right", "middle"] = "left"
    duration: Annotated[float, Field(ge=0, le=60)] = Field(
        0.3, description="seconds the move takes"
    )

    @model_validator(mode="after")
    def _ends(self) -> DragArgs:
        _point_or_target(self.target, self.x, self.y)
        try:
            _point_or_target(self.to_target, self.to_x, self.to_y)
        except ValueError as exc:
            raise ValueError(f"end: {exc}".replace("x and y", "to_x and to_y")) from None
        return self


class ScrollArgs(_Args):
    x: ViewPixel | None = Field(None, description="where to scroll (default: where the pointer is)")
    y: ViewPixel | None = None
    target: TargetText | None = Field(None, description="scroll over this instead of at x, y")
    amount: Annotated[int, Field(ge=-200, le=200)] = Field(
        description="wheel clicks: positive scrolls up (right when horizontal), negative down"
    )
    horizontal: bool = False

    @model_validator(mode="after")
    def _where(self) -> ScrollArgs:
        _point_or_target(self.target, self.x, self.y, required=False)
        return self


class TypeTextArgs(_Args):
    text: str = Field(
        min_length=1,
        max_length=20_000,
        description="exact text to type into the focused field (any Unicode; a newline presses "
        "Enter)",
    )
    secret: bool = Field(
        False, description="a password or other secret: never shown in results, logs or records"
    )


class PressKeyArgs(_Args):
    keys: str = Field(
        description="a key or combo joined by '+': enter, escape, tab, ctrl+s, alt+f4, "
        "ctrl+shift+t, f5, back (phones)"
    )


class LocateArgs(_Args):
    target: TargetText


class ElementsArgs(_Args):
    include_hidden: bool = Field(
        False, description="also elements that are hidden, disabled or off screen"
    )


class WaitForTextArgs(_Args):
    text: str = Field(
        min_length=1, max_length=2000, description="text that should appear on the screen"
    )
    timeout: Annotated[float, Field(ge=0, le=600)] = Field(
        10.0, description="seconds to keep looking (0: look once)"
    )


class RunTaskArgs(_Args):
    file: str | None = Field(
        None, description="path of a task file (YAML), absolute or relative to the server's folder"
    )
    yaml: str | None = Field(None, max_length=200_000, description="the task file's text itself")

    @model_validator(mode="after")
    def _one_source(self) -> RunTaskArgs:
        if (self.file is None) == (self.yaml is None):
            raise ValueError("give exactly one of file or yaml")
        return self


class SwipeArgs(_Args):
    x: ViewPixel
    y: ViewPixel
    to_x: ViewPixel
    to_y: ViewPixel
    duration_ms: Annotated[int, Field(ge=10, le=60_000)] = 300


class LongPressArgs(_PointArgs):
    duration_ms: Annotated[int, Field(ge=50, le=60_000)] = 1000


class OpenAppArgs(_Args):
    app: str = Field(
        min_length=1,
        max_length=256,
        description="a package (com.android.settings) or a common label (Settings, Chrome)",
    )


class PressButtonArgs(_Args):
    button: Literal["back", "home", "recents"]


# -- results ---------------------------------------------------------------------------------
class ScreenInfo(BaseModel):
    """The screenshot's geometry: how its pixels relate to the screen."""

    platform: Platform
    width: int = Field(description="width of the returned image")
    height: int = Field(description="height of the returned image")
    screen_width: int = Field(description="width of the full-resolution capture")
    screen_height: int
    view_scale: float = Field(description="returned image pixels per capture pixel (<= 1)")
    scale: float = Field(description="capture pixels per input unit (2 on a Retina screen)")
    offset: Point = Field(description="the monitor's top-left corner in input coordinates")


class ScreenshotResult(ScreenInfo):
    format: Literal["png", "jpeg"]
    bytes: int


class ActionResult(BaseModel):
    """What an acting tool did."""

    action: str = Field(description="the action, as performed")
    sent: bool = Field(description="false in a dry run (nothing was sent)")
    point: Point | None = Field(None, description="where it acted, screenshot pixels")
    end: Point | None = Field(None, description="where a drag or swipe ended, screenshot pixels")
    box: Box | None = Field(None, description="the target's box when one was found")
    input_points: list[Point] = Field(
        default_factory=list, description="the input coordinates sent to the OS or device"
    )
    step: int | None = Field(None, description="step number in the run folder (--out)")
    note: str | None = None


class LocateResult(BaseModel):
    target: str
    point: Point = Field(description="screenshot pixels")
    box: Box | None = Field(None, description="screenshot pixels, x1 <= x2, y1 <= y2")
    answer: str = Field(description="what the grounding model answered")


class ElementRow(BaseModel):
    role: str
    name: str
    description: str = ""
    states: list[str] = Field(default_factory=list)
    box: Box | None = Field(None, description="screenshot pixels, x1 <= x2, y1 <= y2")
    app: str = ""


class ElementsResult(BaseModel):
    elements: list[ElementRow]
    note: str | None = Field(None, description="why the tree could not be read, if it could not")


class WaitForTextResult(BaseModel):
    text: str
    found: bool
    line: str | None = Field(None, description="the screen's text line that matched")
    box: Box | None = Field(None, description="screenshot pixels")
    seconds: float


class TaskStepSummary(BaseModel):
    index: int
    verb: str
    instruction: str | None = None
    status: str
    seconds: float
    error: str | None = None
    note: str | None = None


class TaskResult(BaseModel):
    name: str
    status: Literal["success", "failed", "interrupted", "error"]
    exit_code: int
    message: str
    steps: list[TaskStepSummary]
    run_dir: str | None = None
    report: str | None = None
