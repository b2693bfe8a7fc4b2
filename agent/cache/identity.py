"""What an entry of the locate cache is valid for: the model that found it, and the screen.

An entry is reused only when the instruction, the model identity and the
screen identity are all equal: a different checkpoint, prompt profile or pixel
budget can put a target elsewhere, and a different screen size or scale puts
every pixel elsewhere. Visual checks come on top of this; they never replace it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from actions.vocabulary import Platform
from agent.models.spec import ModelSpec

OCR_MODEL = "rapidocr"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelIdentity(_Frozen):
    """The model fields that decide where a target is found."""

    backend: Annotated[str, Field(min_length=1, max_length=100)]
    model: Annotated[str, Field(max_length=2000)] | None = None
    profile: Annotated[str, Field(max_length=100)] | None = None
    min_pixels: Annotated[int, Field(gt=0)] | None = None
    max_pixels: Annotated[int, Field(gt=0)] | None = None


class ScreenIdentity(_Frozen):
    """The screenshot's size and HiDPI scale."""

    width: Annotated[int, Field(gt=0, le=100_000)]
    height: Annotated[int, Field(gt=0, le=100_000)]
    scale: Annotated[float, Field(gt=0, le=16)] = 1.0


class LocateKey(_Frozen):
    """Everything an entry must share with a step to be considered for it."""

    instruction: str
    model: ModelIdentity
    platform: Platform
    screen: ScreenIdentity


def profile_name(spec: ModelSpec) -> str:
    """The resolved model profile (agent.models.profiles), with any coordinate override."""
    name = spec.resolve().profile.name
    override = spec.coordinate_override()
    return f"{name}+{override.value}" if override is not None else name


def model_identity(spec: ModelSpec) -> ModelIdentity:
    """The identity of the model a `ModelSpec` loads (profile and pixel limits resolved)."""
    if spec.backend == "ocr":
        return ModelIdentity(backend="ocr", model=OCR_MODEL)
    low, high = spec.pixel_limits(spec.resolve().profile)
    return ModelIdentity(
        backend=spec.backend,
        model=spec.model,
        profile=profile_name(spec),
        min_pixels=low,
        max_pixels=high,
    )


def identity_of(model: Any) -> ModelIdentity:
    """The identity of a loaded model: from its spec when it has one (every backend here does)."""
    spec = getattr(model, "spec", None)
    if isinstance(spec, ModelSpec):
        return model_identity(spec)
    if type(model).__name__ == "OcrModel":
        return ModelIdentity(backend="ocr", model=OCR_MODEL)
    family = getattr(getattr(model, "family", None), "value", None)
    return ModelIdentity(backend=type(model).__name__, profile=family)


def screen_identity(geometry: Any) -> ScreenIdentity:
    """The screen part of a key, from an observation's `ScreenGeometry`."""
    return ScreenIdentity(width=geometry.width, height=geometry.height, scale=geometry.scale)
