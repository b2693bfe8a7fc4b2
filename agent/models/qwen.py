"""Qwen2.5-VL and Qwen3-VL on this machine, through Hugging Face transformers.

Loads a hub id (``Qwen/Qwen2.5-VL-3B-Instruct``, ``Qwen/Qwen3-VL-2B-Instruct``)
or a local folder with the transformers class its config.json's model_type
names (`agent.models.checkpoint.ARCHITECTURES`: Qwen2_5_VL-, Qwen3VL- or
Qwen3VLMoeForConditionalGeneration), on the best device (cuda, mps, cpu) in
the best dtype it supports, with SDPA attention (or flash-attention 2 when
installed on a GPU). Each screenshot is resized once to its exact
`smart_resize` size (28-px units for Qwen2.5-VL, 32 for Qwen3-VL), so the
image the model sees is the one this process knows and the frame maps the
answer back. Requests are processed in batches (left padding), decoded
greedily, and generation stops at the profile's stop strings (``</tool_call>``)
or the end of the turn. The key/value cache of the system turn (the cookbooks'
~800-token tool description) is computed once per distinct system turn and
reused (`agent.models.prefix_cache`). Prompts, pixel limits and the coordinate
space are the model profile's (`agent.models.profiles`), never a branch here.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict

from actions.frames import CoordinateFrame, family_of_space, visual_tokens
from actions.project_errors import InputError, MissingDependency, first_line, require
from agent.models import prompts
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.checkpoint import check_processor_files, check_weight_files, locate
from agent.models.detect import Resolved
from agent.models.prefix_cache import DiskStore, PrefixCache, default_disk_dir
from agent.models.qwen_processor import check_torchvision_backend, load_processor, preprocess
from agent.models.resize import to_model_image
from agent.models.spec import ModelSpec
from agent.models.weights import LazyWeights, log_weights_load

log = logging.getLogger(__name__)

# Every answer ends at the end of the turn (or of the text); profiles add their own stops.
END_TOKENS = ("<|im_end|>", "<|endoftext|>")
# Set up at the first step that needs the model (`QwenModel._runtime`), not when it is chosen:
# they need torch and transformers, whose import alone takes ~30 s on a small machine.
RUNTIME_ATTRIBUTES = frozenset(
    {"device", "dtype", "attn", "processor", "prefix_cache", "end_ids", "generation_config",
     "_torch"}
)  # fmt: skip


def pick_device(requested: str = "auto") -> str:
    """``auto`` -> cuda if available, else mps, else cpu; anything else is checked and kept."""
    torch = require("torch", "model")
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise InputError(f"unknown device {requested!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {requested!r} asked for, but torch sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {requested!r} asked for, but MPS is not available")
    return requested


def pick_dtype(requested: str, device: str) -> Any:
    """The torch dtype: ``auto`` is bfloat16 where the device runs it, else float16/float32.

    On CPU bfloat16 is chosen when the CPU has native bf16 instructions
    (AVX512-BF16 / AMX): the 3B model is memory-bound there, and bf16 halves
    both memory (7.5 instead of 15 GB) and prefill time (REFERENCE 3).
    """
    torch = require("torch", "model")
    if requested != "auto":
        return getattr(torch, requested)
    kind = device.split(":")[0]
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def cpu_has_native_bf16() -> bool:
    """Whether this CPU executes bfloat16 matrix products natively (x86 AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = handle.read()
    except OSError:  # macOS and Windows: Apple silicon runs bf16 well, x86 rarely does
        import platform

        return platform.machine().lower() in ("arm64", "aarch64")
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def pick_attention(requested: str, device: str, dtype: Any) -> str:
    """``auto`` -> flash_attention_2 on a GPU in half precision when flash-attn is installed,
    else sdpa."""
    torch = require("torch", "model")
    half = dtype in (torch.float16, torch.bfloat16)
    if requested == "auto":
        if device.startswith("cuda") and half and importlib.util.find_spec("flash_attn"):
            return "flash_attention_2"
        return "sdpa"
    if requested == "flash_attention_2":
        if importlib.util.find_spec("flash_attn") is None:
            raise InputError("attention flash_attention_2 needs: pip install flash-attn")
        if not device.startswith("cuda") or not half:
            raise InputError("flash_attention_2 runs only on a CUDA GPU in float16/bfloat16")
    return requested


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar unless logging is at INFO or below."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if was_enabled and not log.isEnabledFor(logging.INFO):
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _token_id(tokenizer: Any, text: str) -> int | None:
    """The id of `text` if the vocabulary holds it as one token, else None."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


class PreparedBatch(BaseModel):
    """What `QwenModel.prepare` makes of a batch of requests, before it goes to the device."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    frames: list[CoordinateFrame]
    texts: list[str]
    inputs: Any  # the processor's BatchFeature: input_ids, attention_mask, pixel_values, ...
    visual_tokens: list[int]


class QwenModel(Model):
    """Qwen2.5-VL / Qwen3-VL through transformers. Build it with `agent.models.load.load_model`.

    Everything model-specific - prompts, image/text order, pixel limits and
    patch factor, coordinate space, token cap, stop strings, chat-template
    arguments - comes from the profile (`agent.models.profiles`); the
    architecture (which transformers class) from the checkpoint's config.
    """

    def __init__(self, spec: ModelSpec) -> None:
        started = time.perf_counter()
        # Everything that can fail on bad input is checked here, before the first event, in
        # plain Python: a run the locate cache serves never imports torch or transformers.
        checkpoint = locate(spec.model)
        # Weight files the index names must all be there (stat only, never opened).
        check_weight_files(checkpoint)
        check_processor_files(checkpoint)
        if importlib.util.find_spec("torch") is None:
            raise MissingDependency(
                "torch is not installed; install it with: pip install 'screenpilot[model]'"
            )
        # A profile that contradicts the checkpoint is an error now.
        resolved = spec.resolve(model_type=checkpoint.model_type)
        self.checkpoint = checkpoint
        self._setup_profile(spec, resolved)
        self._runtime_lock = threading.RLock()
        self._devices: tuple[str, Any, str] | None = None
        self.runtime_seconds = 0.0
        self._setup_in_read = 0.0
        if spec.device not in ("auto", "cpu") or spec.attn == "flash_attention_2":
            # Only torch can say whether this GPU (or flash-attention on it) is there: a run
            # that names one imports torch now (not transformers), so that a missing GPU is
            # still a one-line error before the first event.
            self._devices = self._pick_devices()
        if spec.image_backend == "torchvision":  # asked for by name: checked now (imports torch)
            check_torchvision_backend()
        self._weights = LazyWeights(self._read_weights, label=spec.model)
        self.load_seconds = 0.0
        log.info("checked %s in %.1f s", spec.model, time.perf_counter() - started)
        if spec.weights == "eager":
            self.load_weights()
        elif spec.weights == "background":
            self._weights.start()

    def _pick_devices(self) -> tuple[str, Any, str]:
        """(device, dtype, attention) the spec asks for, checked by torch."""
        device = pick_device(self.spec.device)
        dtype = pick_dtype(self.spec.dtype, device)
        return device, dtype, pick_attention(self.spec.attn, device, dtype)

    def __getattr__(self, name: str) -> Any:
        # Reached only for attributes not set yet: the runtime ones are set up on first use.
        if name in RUNTIME_ATTRIBUTES and "_runtime_lock" in self.__dict__:
            self._runtime()
            return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def runtime_ready(self) -> bool:
        """Whether torch, transformers and the processor are set up (False on a cached run)."""
        return "_torch" in self.__dict__  # the last one `_setup_runtime` sets

    def _runtime(self) -> None:
        """Import torch and transformers, build the processor and the generation settings."""
        with self._runtime_lock:
            if self.runtime_ready:
                return
            started = time.perf_counter()
            require("torch", "model")
            device, dtype, attn = self._devices or self._pick_devices()
            assert self.checkpoint is not None
            processor = load_processor(
                self.checkpoint.folder,
                min_pixels=self.min_pixels,
                max_pixels=self.max_pixels,
                backend=self.spec.image_backend,
                architecture=self.checkpoint.architecture,
            )
            self._setup_runtime(processor, device=device, dtype=dtype, attn=attn)
            self.runtime_seconds = time.perf_counter() - started
            log.info("set up torch and the processor of %s in %.1f s",
                     self.spec.model, self.runtime_seconds)  # fmt: skip

    def _read_weights(self) -> Any:
        """Read the checkpoint's weights onto the device (the only place they are read)."""
        assert self.checkpoint is not None
        ready = self.runtime_ready
        self._runtime()
        # What the load line counts as import time: only if this read paid for it.
        self._setup_in_read = 0.0 if ready else self.runtime_seconds
        try:
            with _quiet_progress():
                model = self.checkpoint.model_class().from_pretrained(
                    self.checkpoint.folder, dtype=self.dtype, attn_implementation=self.attn
                )
        except Exception as exc:  # safetensors, torch and config errors share no base class
            raise InputError(
                f"cannot load the weights of {self.spec.model}: {first_line(exc)}"
            ) from None
        # .to() rather than device_map=, which would need accelerate.
        return model.to(self.device).eval()

    def load_weights(self) -> Any:
        """The model's weights, read now if no earlier step (or the background thread) has."""
        model, fresh = self._weights.get()
        if fresh:
            self._attach(model)
            self.load_seconds = self._weights.seconds
            log_weights_load(
                self.spec.model,
                f"{self.checkpoint.architecture.label if self.checkpoint else ''} on "
                f"{self.device} ({str(self.dtype).removeprefix('torch.')}, {self.attn} attention)",
                self._weights,
                setup_seconds=self._setup_in_read,
            )
        return model

    @property
    def weights_loaded(self) -> bool:
        """Whether the weights are in memory (False until a step needed the model)."""
        return self._weights.loaded

    @classmethod
    def from_loaded(cls, spec: ModelSpec, model: Any, processor: Any) -> QwenModel:
        """Wrap a model already in memory (e.g. just fine-tuned) and its processor.

        The model is used as it is (device, dtype, attention); `spec` gives the
        pixel limits, prompts and generation settings. The processor's own pixel
        limits do not matter: images reach it already at their smart_resize size.
        """
        self = cls.__new__(cls)
        resolved = spec.resolve(model_type=getattr(model.config, "model_type", None))
        attn = getattr(model.config, "_attn_implementation", None) or "sdpa"
        device = str(model.device)
        self.checkpoint = None
        self._setup_profile(spec, resolved)
        self._setup_runtime(processor, device=device, dtype=model.dtype, attn=attn)
        self._weights = LazyWeights.ready(model.eval())
        self._attach(model)
        self.load_seconds = 0.0
        return self

    def _setup_profile(self, spec: ModelSpec, resolved: Resolved) -> None:
        """What needs neither torch nor weights: profile, frame, pixel limits."""
        self.spec = spec
        log.info("%s: %s", spec.model, resolved.describe())
        self.profile = resolved.profile
        self.space = spec.coordinate_override()
        self.min_pixels, self.max_pixels = spec.pixel_limits(self.profile)
        self.family = family_of_space(self.space or self.profile.space, self.profile.factor)

    def _setup_runtime(self, processor: Any, *, device: str, dtype: Any, attn: str) -> None:
        """What needs transformers but no weights: processor, prompts, generation settings."""
        from transformers import GenerationConfig

        spec = self.spec
        self.device = device
        self.dtype = dtype
        self.attn = attn
        self.processor = processor
        tokenizer = processor.tokenizer
        # On CPU the system turn costs seconds: keep it on disk for the next process too.
        folder = default_disk_dir() if device == "cpu" else None
        disk = DiskStore(folder) if folder is not None else None
        # Its model is attached when the weights are read (`_attach`).
        self.prefix_cache = PrefixCache(None, tokenizer, disk=disk)
        self.end_ids = [i for t in END_TOKENS if (i := _token_id(tokenizer, t)) is not None]
        # The base of every batch's settings (`generation_config_for` adds cap and stops).
        self.generation_config = GenerationConfig(
            max_new_tokens=spec.token_cap(self.profile),
            do_sample=False,
            num_beams=1,
            # The checkpoint's generation_config asks for sampling with repetition_penalty
            # 1.05; a penalty would bend repeated digits in coordinates, so greedy and plain.
            # Unset (None) values would be filled from that file, so the neutral ones are given.
            repetition_penalty=1.0,
            temperature=1.0,
            top_p=1.0,
            top_k=50,
            eos_token_id=self.end_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
        self._torch = require("torch", "model")

    def _attach(self, model: Any) -> None:
        """What needs the weights: the system-turn cache and generate's cache argument."""
        self.prefix_cache.model = model
        # Qwen2.5-VL's window attention batched: same numbers, fewer SDPA calls.
        from agent.models import fast_vision

        self.fast_vision_blocks = fast_vision.install(model)
        # transformers 5.2x renamed generate's past_key_values to cache.
        params = inspect.signature(model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    @property
    def model(self) -> Any:
        """The transformers model; reading it loads the weights on first use."""
        return self.load_weights()

    def frame_for(
        self, image: Image.Image, *, kind: str = "ground", mobile: bool = False
    ) -> CoordinateFrame:
        """The frame a screenshot is answered in: the profile's resize, this model's limits."""
        return self.profile.frame_for(
            image.size,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            kind="act" if kind == "act" else "ground",
            mobile=mobile,
            space=self.space,
        )

    def prompt_text(self, request: ModelRequest, frame: CoordinateFrame) -> str:
        """The full prompt (chat template applied, prefill appended) for one request."""
        messages, prefill = prompts.request_messages(
            request, frame.model_size, prefill=self.spec.use_prefill(), profile=self.profile
        )
        text = self.processor.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=True,
            **self.profile.decoding.chat_template_kwargs,
        )
        return text + prefill

    def decoding_for(self, request: ModelRequest) -> tuple[int, tuple[str, ...]]:
        """(token cap, stop strings) of a request: the profile's for its kind, or the spec's cap."""
        act = request.kind == "act" and self.profile.act is not None
        stops = self.profile.act.stop if act else self.profile.decoding.stop
        return self.spec.token_cap(self.profile, request.kind), tuple(stops)

    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        """Answer `requests` in batches of `spec.batch_size`; replies in request order.

        Requests that decode alike (same token cap and stop strings) share batches.
        """
        groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(self.decoding_for(request), []).append(index)
        replies: dict[int, ModelReply] = {}
        size = self.spec.batch_size
        for (cap, stops), indexes in groups.items():
            for start in range(0, len(indexes), size):
                chunk = indexes[start : start + size]
                batch = self._answer_batch([requests[i] for i in chunk], cap, stops)
                replies.update(zip(chunk, batch, strict=True))
        return [replies[i] for i in range(len(requests))]

    def generation_config_for(self, cap: int, stops: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
        """This batch's generation settings and the extra generate() arguments they need.

        A stop string that is one token of the vocabulary (``</tool_call>``)
        becomes an end token; a longer one goes to generate's stop_strings.
        """
        config = copy.deepcopy(self.generation_config)
        config.max_new_tokens = cap
        tokenizer = self.processor.tokenizer
        single = [i for s in stops if (i := _token_id(tokenizer, s)) is not None]
        longer = [s for s in stops if _token_id(tokenizer, s) is None]
        config.eos_token_id = [*self.end_ids, *single]
        extra: dict[str, Any] = {}
        if longer:
            config.stop_strings = longer
            extra["tokenizer"] = tokenizer
        return config, extra

    def prepare(self, requests: list[ModelRequest]) -> PreparedBatch:
        """Model inputs for `requests` (CPU tensors): each screenshot resized once to its
        smart_resize size, prompts rendered, text tokenized and images patchified."""
        frames = [self.frame_for(r.image, kind=r.kind, mobile=r.mobile) for r in requests]
        images = [
            to_model_image(r.image, f.model_size) for r, f in zip(requests, frames, strict=True)
        ]
        texts = [self.prompt_text(r, f) for r, f in zip(requests, frames, strict=True)]
        inputs = preprocess(self.processor, texts, images)
        merge = self.processor.image_processor.merge_size**2
        tokens = [int(g.prod()) // merge for g in inputs["image_grid_thw"]]
        for frame, count in zip(frames, tokens, strict=True):
            expected = visual_tokens(frame.model_size, frame.factor)
            if count != expected:  # the processor resized after all
                log.warning(
                    "visual tokens %d differ from %s's %d", count, frame.model_size, expected
                )
        return PreparedBatch(frames=frames, texts=texts, inputs=inputs, visual_tokens=tokens)

    def _answer_batch(
        self, requests: list[ModelRequest], cap: int, stops: tuple[str, ...]
    ) -> list[ModelReply]:
        torch = self._torch
        model = self.load_weights()  # the first step that needs the model reads the weights
        t0 = time.perf_counter()
        batch = self.prepare(requests)
        inputs = batch.inputs.to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        config, extra = self.generation_config_for(cap, stops)
        t1 = time.perf_counter()
        with torch.inference_mode():
            if config.cache_implementation is None:  # not with a static cache
                cache = self.prefix_cache.cache_for(inputs["input_ids"], inputs["attention_mask"])
                if cache is not None:
                    extra[self._cache_kwarg] = cache
            output = model.generate(**inputs, generation_config=config, **extra)
        t2 = time.perf_counter()
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        raws = [self._decode(ids, stops) for ids in new_tokens]
        t3 = time.perf_counter()
        n = len(requests)
        seconds = {
            "preprocess": (t1 - t0) / n,
            "model": (t2 - t1) / n,
            "decode": (t3 - t2) / n,
        }
        replies = []
        for request, frame, text, raw, count in zip(
            requests, batch.frames, batch.texts, raws, batch.visual_tokens, strict=True
        ):
            decoding = self.profile.decoding
            prefill = (decoding.mobile_prefill if request.mobile else decoding.prefill) or ""
            if request.kind == "ground" and prefill and text.endswith(prefill):
                raw = prefill + raw
            replies.append(
                ModelReply(
                    raw=raw,
                    frame=frame,
                    profile=self.profile.name,
                    visual_tokens=count,
                    seconds=dict(seconds),
                )
            )
        return replies

    def _decode(self, ids: list[int], stops: tuple[str, ...] = ()) -> str:
        """Generated ids -> text, up to and including the first stop string, without end tokens."""
        tokenizer = self.processor.tokenizer
        end_ids = {*self.end_ids, tokenizer.pad_token_id}
        kept: list[int] = []
        for token in ids:
            if token in end_ids:
                break
            kept.append(token)
        # Special tokens stay: Qwen2-VL style answers carry coordinates inside <|box_start|>.
        text = tokenizer.decode(kept, skip_special_tokens=False)
        cuts = [text.index(s) + len(s) for s in stops if s in text]
        return text[: min(cuts)] if cuts else text

    def close(self) -> None:
        """Drop the weights (and free GPU memory); weights still loading are waited for."""
        self._weights.drop()
        if not self.runtime_ready:  # nothing was set up: nothing to free (and no import now)
            return
        self.prefix_cache.clear()
        self.prefix_cache.model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
