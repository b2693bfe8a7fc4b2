"""Grounding and next-action on any backend: ask, parse, map back to the screenshot.

The public glue used by the task loop, the evaluation harness and the CLI:

    result = ground(model, "shot.png", "the Save button")
    result.point        # (x, y) in the screenshot's own pixels, or None with result.error
    step = next_action(model, image, "Save the file as notes.txt", history)
    step.action         # one action from actions.types, in screenshot pixels

The backend reports the frame it answered in (resized size, coordinate
space) and its profile; the shared parser (`actions.answer_formats`) reads the raw
text in the profile's answer format and that frame, so every backend's
answers mean the same thing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from actions.answer_formats import parse_model_answer
from actions.frames import CoordinateFrame
from actions.parse import ParsedAnswer
from actions.project_errors import InputError
from actions.types import Action
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.profile import Profile

Point = tuple[float, float]
Box = tuple[float, float, float, float]
ImageInput = Image.Image | str | Path


class GroundingResult(BaseModel):
    """Where the model put a target: image pixels, its own model space, and what it wrote."""

    model_config = ConfigDict(frozen=True)

    point: Point | None = Field(None, description="screenshot pixels")
    bbox: Box | None = Field(None, description="screenshot pixels, x1 <= x2, y1 <= y2")
    raw: str = ""
    model_xy: Point | None = Field(None, description="the point as the model wrote it")
    model_box: Box | None = None
    model_size: tuple[int, int] = Field(description="the size of the image the model saw")
    image_size: tuple[int, int]
    visual_tokens: int | None = None
    seconds: dict[str, float] = Field(default_factory=dict)
    error: str | None = None
    confidence: float | None = Field(None, description="two-stage agreement, 0..1")
    two_stage: dict[str, Any] | None = Field(None, description="agent.two_stage's record")

    @property
    def ok(self) -> bool:
        return self.error is None and self.point is not None


class NextAction(BaseModel):
    """The model's next step: the first action (image pixels) and everything it wrote."""

    model_config = ConfigDict(frozen=True)

    action: Action | None = None
    actions: list[Action] = Field(default_factory=list)
    raw: str = ""
    model_xy: list[Point] = Field(default_factory=list, description="model-space points")
    frame: CoordinateFrame
    visual_tokens: int | None = None
    seconds: dict[str, float] = Field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.action is not None


def load_image(source: ImageInput) -> Image.Image:
    """An RGB screenshot from a PIL image or a file; a one-line InputError if unreadable."""
    if isinstance(source, Image.Image):
        image = source
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: no such image file")
        try:
            with Image.open(path) as opened:
                opened.load()
                image = opened.copy()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from None
    if image.width < 1 or image.height < 1:
        raise InputError(f"image is empty ({image.width}x{image.height})")
    return image if image.mode == "RGB" else image.convert("RGB")


def parse_reply(
    reply: ModelReply, *, mobile: bool = False, grounding: bool, profile: Profile | None = None
) -> ParsedAnswer:
    """Read a reply in its profile's answer format (any shape when it names none).

    `profile` is the answering model's own profile object: used as is when the reply
    names it, so a hand-built profile is never replaced by a table entry of that name.
    """
    fmt = None
    if profile is not None and reply.profile in (None, profile.name):
        fmt = profile.answer
    elif reply.profile is not None:
        from agent.models.profiles import get_profile

        fmt = get_profile(reply.profile).answer
    return parse_model_answer(reply.raw, reply.frame, fmt, mobile=mobile, grounding=grounding)


def _grounding_result(
    reply: ModelReply, mobile: bool = False, profile: Profile | None = None
) -> GroundingResult:
    frame = reply.frame
    parsed = parse_reply(reply, mobile=mobile, grounding=True, profile=profile)
    error = parsed.error
    if error is None and parsed.point is None:
        error = "the answer has no point" + (
            f" (it is a {parsed.actions[0].type} action)" if parsed.actions else ""
        )
    model_xy = parsed.model_points[0] if parsed.model_points else None
    if model_xy is None and parsed.model_box is not None:
        x1, y1, x2, y2 = parsed.model_box
        model_xy = ((x1 + x2) / 2, (y1 + y2) / 2)
    return GroundingResult(
        point=parsed.point if error is None else None,
        bbox=parsed.box,
        raw=reply.raw,
        model_xy=model_xy,
        model_box=parsed.model_box,
        model_size=frame.model_size,
        image_size=frame.image_size,
        visual_tokens=reply.visual_tokens,
        error=error,
    )


def ground_batch(
    model: Model,
    images: Sequence[ImageInput],
    instructions: Sequence[str],
    *,
    mobile: bool = False,
) -> list[GroundingResult]:
    """Ground one instruction per image, batched by the backend.

    A result with no usable point carries `error` and the raw answer; only
    unusable input (unreadable images, empty instructions) raises.
    """
    if len(images) != len(instructions):
        raise InputError(f"{len(images)} images but {len(instructions)} instructions")
    for number, text in enumerate(instructions, start=1):
        if not text or not text.strip():
            raise InputError(f"instruction {number} is empty")
    start = time.perf_counter()
    requests = [
        ModelRequest(kind="ground", image=load_image(img), instruction=text, mobile=mobile)
        for img, text in zip(images, instructions, strict=True)
    ]
    load_seconds = (time.perf_counter() - start) / max(len(requests), 1)
    replies = model.answer(requests)
    results = []
    for reply in replies:
        t0 = time.perf_counter()
        result = _grounding_result(reply, mobile, model.profile)
        parse_seconds = time.perf_counter() - t0
        seconds = {**reply.seconds, "load": load_seconds, "parse": parse_seconds}
        seconds["total"] = sum(seconds.values())
        results.append(result.model_copy(update={"seconds": seconds}))
    return results


def ground(
    model: Model, image: ImageInput, instruction: str, *, mobile: bool = False
) -> GroundingResult:
    """Where `instruction` ("the Save button") is on `image`, in the image's own pixels.

    In two passes when the model's spec or profile asks for it (`agent.two_stage`).
    """
    from agent.two_stage import settings_of

    settings = settings_of(model)
    if settings is not None:
        from agent.two_stage import ground_two_stage

        if not instruction or not instruction.strip():
            raise InputError("instruction 1 is empty")

        def one_pass(picture: Image.Image) -> GroundingResult:
            return ground_batch(model, [picture], [instruction], mobile=mobile)[0]

        return ground_two_stage(model, load_image(image), settings, one_pass)
    return ground_batch(model, [image], [instruction], mobile=mobile)[0]


def next_action(
    model: Model,
    image: ImageInput,
    goal: str,
    history: list[str],
    *,
    mobile: bool = False,
    correction: str | None = None,
) -> NextAction:
    """The next action towards `goal`, given earlier steps' tool calls (`history`).

    `correction` is extra text for the user turn, e.g. feedback after an
    unparseable answer. An answer with no usable action comes back with
    `error` set and the raw text kept.
    """
    if not goal or not goal.strip():
        raise InputError("the goal is empty")
    start = time.perf_counter()
    request = ModelRequest(
        kind="act",
        image=load_image(image),
        instruction=goal,
        history=list(history),
        mobile=mobile,
        correction=correction,
    )
    load_seconds = time.perf_counter() - start
    reply = model.answer([request])[0]
    t0 = time.perf_counter()
    parsed = parse_reply(reply, mobile=mobile, grounding=False, profile=model.profile)
    seconds = {**reply.seconds, "load": load_seconds, "parse": time.perf_counter() - t0}
    seconds["total"] = sum(seconds.values())
    return NextAction(
        action=parsed.actions[0] if parsed.actions else None,
        actions=list(parsed.actions),
        raw=reply.raw,
        model_xy=list(parsed.model_points),
        frame=reply.frame,
        visual_tokens=reply.visual_tokens,
        seconds=seconds,
        error=parsed.error if not parsed.ok else None,
    )
