"""Choosing a model, in one place: the CLI, task files and the Python API all build a ModelSpec.

    spec = ModelSpec(backend="qwen", model="Qwen/Qwen2.5-VL-3B-Instruct")
    with load_model(spec) as model:
        result = ground(model, "shot.png", "the Save button")

Backends: ``qwen`` (local transformers), ``openai`` (any OpenAI-compatible
server: vLLM, SGLang, Ollama, hosted), ``ocr`` (offline text matching, no
weights). Each backend module is imported only when chosen.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from actions.errors import InputError
from actions.frames import FAMILIES, QWEN_MAX_PIXELS, ModelFamily, family_of

if TYPE_CHECKING:
    from agent.models.base import Model

DEFAULT_QWEN_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
# 1280 visual tokens at most: a 1920x1080 screen becomes 1316x728 (1222 tokens) instead of
# 1932x1092 (2691). Prefill cost grows with the token count (a 3B on CPU: ~44 s vs ~116 s),
# and for agent steps on ordinary screens the coarser image is the usual trade-off. Give
# max_pixels=MODEL_MAX_PIXELS (the checkpoint's own limit) for high-resolution grounding
# benchmarks such as ScreenSpot-Pro, where small targets need the full resolution.
AGENT_MAX_PIXELS = 1280 * 28 * 28
MODEL_MAX_PIXELS = QWEN_MAX_PIXELS

Backend = Literal["qwen", "openai", "ocr"]
Pixels = Annotated[int, Field(gt=0, le=1_000_000_000)]


class ModelSpec(BaseModel):
    """Which model answers, and how it is run. Unset fields take the backend's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Backend = "qwen"
    model: str = Field(
        DEFAULT_QWEN_MODEL,
        min_length=1,
        description="hub id or local folder (qwen); the served model name (openai)",
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable of the key")
    api_key: SecretStr | None = Field(None, description="the key itself (wins over api_key_env)")
    family: ModelFamily = Field(ModelFamily.QWEN2_5_VL, description="how coordinates are written")
    min_pixels: Pixels | None = Field(None, description="default: the family's")
    max_pixels: Pixels | None = Field(None, description=f"default: {AGENT_MAX_PIXELS}")
    device: str = Field("auto", description="auto (cuda, mps, cpu), or a torch device")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    attn: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    image_backend: Literal["auto", "pil", "torchvision"] = "auto"
    max_new_tokens: Annotated[int, Field(gt=0, le=8192)] = 256
    batch_size: Annotated[int, Field(ge=1, le=256)] = 4
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    timeout: Annotated[float, Field(gt=0, le=3600)] = 120.0
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    prefill: bool | None = Field(
        None,
        description="prefill grounding replies with the start of a click call "
        "(default: on for qwen; off for openai, where it needs vLLM/SGLang's "
        "continue_final_message)",
    )
    image_format: Literal["png", "jpeg"] = Field("png", description="how images are sent (openai)")

    @field_validator("family", mode="before")
    @classmethod
    def _family(cls, value: Any) -> Any:
        return family_of(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        low, high = self.pixel_limits()
        if low > high:
            raise ValueError(f"min_pixels ({low}) is larger than max_pixels ({high})")
        return self

    def pixel_limits(self) -> tuple[int, int]:
        """(min_pixels, max_pixels) with the defaults filled in."""
        family = FAMILIES[self.family]
        low = self.min_pixels if self.min_pixels is not None else family.min_pixels
        high = self.max_pixels
        if high is None:
            # Qwen3-VL counts 32x32 patches: scale the agent budget to the same token count.
            high = AGENT_MAX_PIXELS * family.factor**2 // 28**2
        return low, high

    def use_prefill(self) -> bool:
        """Whether grounding replies are prefilled (see `prefill`)."""
        if self.prefill is not None:
            return self.prefill
        return self.backend == "qwen"

    def resolved_api_key(self) -> str:
        """The API key: `api_key`, else $`api_key_env`, else "EMPTY" (local servers need none)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return os.environ.get(self.api_key_env) or "EMPTY"

    def describe(self) -> str:
        """A short label for logs and reports (never the key)."""
        where = f" at {self.base_url}" if self.base_url else ""
        return f"{self.backend}:{self.model}{where}"


def load_model(spec: ModelSpec) -> Model:
    """Build the backend `spec` names; heavy libraries are imported here, not before."""
    if spec.backend == "qwen":
        from agent.models.qwen import QwenModel

        return QwenModel(spec)
    if spec.backend == "openai":
        from agent.models.openai_compat import OpenAIModel

        return OpenAIModel(spec)
    if spec.backend == "ocr":
        from agent.models.ocr import OcrModel

        return OcrModel(spec)
    raise InputError(f"unknown model backend {spec.backend!r} (choose qwen, openai or ocr)")
