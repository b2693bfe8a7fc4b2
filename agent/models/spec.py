"""Choosing a model, in one place: the CLI, task files and the Python API all build a ModelSpec.

    spec = ModelSpec(backend="qwen", model="Qwen/Qwen2.5-VL-3B-Instruct")
    with load_model(spec) as model:  # from agent.models.load
        result = ground(model, "shot.png", "the Save button")

Backends: ``qwen`` (local transformers), ``openai`` (any OpenAI-compatible
server: vLLM, SGLang, Ollama, hosted), ``ocr`` (offline text matching, no
weights). Each backend module is imported only when chosen.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from actions.frames import QWEN_MAX_PIXELS, CoordinateSpace, ModelFamily, family_of, space_of_family
from actions.project_errors import InputError
from agent.models.profile import TwoStage

if TYPE_CHECKING:
    from agent.models.detect import Resolved
    from agent.models.profile import Profile

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
    endpoints: tuple[str, ...] = Field(
        (),
        description="more OpenAI-compatible endpoints serving the same model; each request "
        "goes to the least busy of base_url and these, and is retried on another when one fails",
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable of the key")
    api_key: SecretStr | None = Field(None, description="the key itself (wins over api_key_env)")
    profile: str | None = Field(
        None,
        description="model profile (agent models): prompts, pixels, coordinates, parser; "
        "default: detected from the checkpoint and its name",
    )
    family: ModelFamily | None = Field(
        None,
        description="older alias for the coordinate part: qwen2.5-vl, qwen3-vl and ui-tars-1.5 "
        "choose that profile; qwen2-vl and normalized only change how coordinates are read",
    )
    min_pixels: Pixels | None = Field(None, description="default: the profile's")
    max_pixels: Pixels | None = Field(
        None, description=f"default: the profile's agent limit ({AGENT_MAX_PIXELS} for Qwen2.5-VL)"
    )
    device: str = Field("auto", description="auto (cuda, mps, cpu), or a torch device")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    attn: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    image_backend: Literal["auto", "pil", "torchvision"] = "auto"
    max_new_tokens: Annotated[int, Field(gt=0, le=32_768)] | None = Field(
        None, description="answer length cap; default: the profile's"
    )
    weights: Literal["lazy", "background", "eager"] = Field(
        "lazy",
        description="when a local model's weights are read: lazy (at the first step that "
        "needs the model; a run the locate cache serves reads none), background (from the "
        "start, in a thread), eager (before the run begins)",
    )
    two_stage: TwoStage | None = Field(
        None,
        description="two-stage grounding (agent.two_stage), over the profile's; "
        "not an official protocol",
    )
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

    @field_validator("profile", mode="before")
    @classmethod
    def _profile(cls, value: Any) -> Any:
        if value is None:
            return None
        from agent.models.profiles import get_profile

        try:
            return get_profile(str(value)).name
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        low, high = self.pixel_limits(self.resolve(read_config=False).profile)
        if low > high:
            raise ValueError(f"min_pixels ({low}) is larger than max_pixels ({high})")
        return self

    def resolve(self, *, model_type: str | None = None, read_config: bool = True) -> Resolved:
        """The profile this spec runs with, and why (`agent.models.detect`).

        An explicit `profile` wins; then `family` when it names a profile; then
        detection from the checkpoint's config.json (local backend) and the name.
        """
        from agent.models.detect import Resolved, check_architecture, resolve_profile
        from agent.models.profiles import PROFILES

        if self.profile is None and self.family is not None and self.family.value in PROFILES:
            chosen = PROFILES[self.family.value]
            if model_type is None and read_config and self.backend == "qwen":
                from agent.models.detect import checkpoint_model_type

                model_type = checkpoint_model_type(self.model)
            check_architecture(chosen, model_type, self.model)
            why = f"--family {self.family.value}"
            return Resolved(profile=chosen, reason=why, model_type=model_type)
        return resolve_profile(
            self.model,
            self.profile,
            model_type=model_type,
            read_config=read_config and self.backend == "qwen",
            space_given=self.coordinate_override() is not None,
        )

    def coordinate_override(self) -> CoordinateSpace | None:
        """The coordinate space `family` imposes on the profile (qwen2-vl, normalized)."""
        from agent.models.profiles import PROFILES

        if self.family is None or self.family.value in PROFILES:
            return None
        return space_of_family(self.family)

    def pixel_limits(
        self, profile: Profile | None = None, purpose: Literal["agent", "benchmark"] = "agent"
    ) -> tuple[int, int]:
        """(min_pixels, max_pixels): the spec's values over the profile's defaults."""
        profile = profile or self.resolve(read_config=False).profile
        return profile.pixel_limits(purpose, min_pixels=self.min_pixels, max_pixels=self.max_pixels)

    def protocol_record(self) -> dict[str, Any]:
        """Every setting a grounding request runs with, for result files."""
        resolved = self.resolve(read_config=False)
        profile = resolved.profile
        low, high = self.pixel_limits(profile)
        decoding = profile.decoding
        return {
            "profile": profile.name,
            "profile_reason": resolved.reason,
            "architectures": list(profile.architectures),
            "coordinates": (self.coordinate_override() or profile.space).value,
            "factor": profile.factor,
            "resize": profile.resize,
            "min_pixels": low,
            "max_pixels": high,
            "system_prompt": profile.ground.system is not None,
            "image_first": profile.ground.image_first,
            "prefill": decoding.prefill if self.use_prefill() else None,
            "max_new_tokens": self.token_cap(profile),
            "decoding": "greedy",
            "stop": list(decoding.stop),
            "chat_template_kwargs": dict(decoding.chat_template_kwargs),
            "structured_output": decoding.json_schema is not None and self.backend == "openai",
            "answer_format": profile.answer.model_dump(),
            "sources": list(profile.sources),
        }

    def token_cap(self, profile: Profile, kind: Literal["ground", "act"] = "ground") -> int:
        """max_new_tokens: the spec's, else the profile's for this kind of request."""
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        if kind == "act" and profile.act is not None:
            return profile.act.max_new_tokens
        return profile.decoding.max_new_tokens

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
