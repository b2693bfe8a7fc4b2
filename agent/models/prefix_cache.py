"""Reuse the key/value cache of the system turn across generate calls.

Every Qwen2.5-VL prompt this toolkit sends starts with the same system turn
for a given screen size: the cookbook's computer_use / mobile_use tool
description, ~800 tokens, more than the visual tokens of a 1280-token
screenshot budget's text. Its keys and values depend only on those tokens (it
comes before the image, so its M-RoPE positions are plain 0..n-1), so they are
computed once, kept, and handed to `generate` as a ready cache; only the rest
of the prompt (the image and the instruction) is prefilled per call.
transformers then computes the 3D positions of the new vision tokens itself
(the image lies in the uncached part). Greedy answers are the same as without
the cache (tests/test_models_prefix_cache.py); on CPU this removes about a
third of the language model's prefill for a 1080p screenshot.

Only batches without padding use it (a single request always qualifies):
with left padding the system turn starts at a different offset in each row.
Only a first turn without vision tokens is ever cached: a prompt with no
system turn (Qwen3-VL's template adds none) starts with the user turn that
holds the screenshot, whose positions and values depend on the image.
Qwen3-VL's interleaved M-RoPE gives text-only tokens the same position on all
three axes, so its system turn is as reusable as Qwen2.5-VL's.

On CPU the turn costs ~15 s for a 3B model, so its cache is also kept on disk
(`DiskStore`, ~30 MB per screen size for a 3B) and a new process - one
``agent ground`` call - starts from it. Entries are keyed by the turn's token
ids, the model's configuration, dtype, attention, library versions and a
fingerprint of the weights' values, so another checkpoint never reads them.
``SCREENPILOT_PREFIX_CACHE`` sets the folder (default
``~/.cache/screenpilot/prefix-kv``); ``off`` disables it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TURN_START = "<|im_start|>"
VISION_TOKENS = ("<|vision_start|>", "<|image_pad|>", "<|video_pad|>")
DISK_ENV = "SCREENPILOT_PREFIX_CACHE"
OFF = ("", "0", "off", "no", "false", "none")


def default_disk_dir() -> Path | None:
    """The on-disk store's folder: $SCREENPILOT_PREFIX_CACHE, off, or under the user cache."""
    value = os.environ.get(DISK_ENV)
    if value is not None:
        return None if value.strip().lower() in OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "screenpilot" / "prefix-kv"


def weights_fingerprint(model: Any) -> str:
    """A hash of a sparse sample of every parameter's values (and of its name and shape)."""
    import torch

    digest = hashlib.sha256()
    with torch.inference_mode():
        for name, param in model.named_parameters():
            flat = param.detach().reshape(-1)
            step = max(1, flat.numel() // 16)
            sample = flat[::step][:16].to(device="cpu", dtype=torch.float32)
            digest.update(f"{name}{tuple(param.shape)}".encode())
            digest.update(sample.numpy().tobytes())
    return digest.hexdigest()


class DiskStore:
    """System-turn caches as safetensors files, newest `keep` kept."""

    def __init__(self, folder: Path, *, keep: int = 32) -> None:
        self.folder = folder
        self.keep = keep

    def load(self, key: str) -> list[tuple[Any, Any]] | None:
        """The (keys, values) of every layer stored under `key`, or None."""
        path = self.folder / f"{key}.safetensors"
        if not path.is_file():
            return None
        try:
            from safetensors.torch import load_file

            tensors = load_file(str(path))
            layers = [(tensors[f"k{i}"], tensors[f"v{i}"]) for i in range(len(tensors) // 2)]
            path.touch()  # recently used
        except Exception as exc:  # a torn or foreign file is only a miss
            log.debug("ignoring prefix cache file %s: %s", path, exc)
            return None
        return layers or None

    def save(self, key: str, layers: list[tuple[Any, Any]]) -> None:
        """Store `layers` under `key` (atomically; failures are only logged)."""
        try:
            from safetensors.torch import save_file

            self.folder.mkdir(parents=True, exist_ok=True)
            tensors = {}
            for i, (k, v) in enumerate(layers):
                tensors[f"k{i}"] = k.detach().to("cpu").contiguous()
                tensors[f"v{i}"] = v.detach().to("cpu").contiguous()
            handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            os.close(handle)
            save_file(tensors, tmp)
            os.replace(tmp, self.folder / f"{key}.safetensors")
            self._prune()
        except OSError as exc:
            log.debug("cannot store the prefix cache in %s: %s", self.folder, exc)

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.safetensors"), key=lambda f: f.stat().st_mtime)
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)


class PrefixCache:
    """An LRU of system-turn caches for one model, keyed by the turn's token ids."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        size: int = 4,
        min_tokens: int = 64,
        disk: DiskStore | None = None,
    ) -> None:
        self.model = model
        self.size = size
        self.min_tokens = min_tokens
        self.disk = disk
        self.turn_start = tokenizer.convert_tokens_to_ids(TURN_START)
        vision = [tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS]
        self.vision_ids = [i for i in vision if isinstance(i, int) and i >= 0]
        self._entries: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._model_key: str | None = None
        self.hits = 0
        self.misses = 0
        self.disk_hits = 0

    def prefix_length(self, input_ids: Any, attention_mask: Any | None) -> int:
        """How many leading tokens all rows share as a text-only first turn (0: none to reuse)."""
        if self.size <= 0 or input_ids.shape[1] == 0:
            return 0
        if attention_mask is not None and not bool(attention_mask.all()):
            return 0  # left padding: the turn starts at a different offset in each row
        row = input_ids[0]
        if int(row[0]) != self.turn_start:
            return 0
        starts = (row[1:] == self.turn_start).nonzero()
        if len(starts) == 0:
            return 0
        length = int(starts[0]) + 1  # the system turn, up to (not with) the next <|im_start|>
        if length < self.min_tokens or length >= input_ids.shape[1]:
            return 0
        if any(bool((row[:length] == i).any()) for i in self.vision_ids):
            return 0  # the first turn holds the image (no system turn): not reusable
        if input_ids.shape[0] > 1 and not bool((input_ids[:, :length] == row[:length]).all()):
            return 0
        return length

    def cache_for(self, input_ids: Any, attention_mask: Any | None = None) -> Any | None:
        """A fresh cache holding the shared system turn of `input_ids`, or None.

        The cache is a copy: `generate` appends to it, the stored one stays as it is.
        """
        length = self.prefix_length(input_ids, attention_mask)
        if not length:
            return None
        key = tuple(input_ids[0, :length].tolist())
        cache = self._entries.get(key)
        if cache is None:
            self.misses += 1
            cache = self._compute(input_ids[:1, :length])
            self._entries[key] = cache
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        fresh = copy.deepcopy(cache)
        if input_ids.shape[0] > 1:
            fresh.batch_repeat_interleave(input_ids.shape[0])
        return fresh

    def _compute(self, prefix_ids: Any) -> Any:
        import torch

        key = self._disk_key(prefix_ids) if self.disk is not None else None
        if key is not None and (layers := self.disk.load(key)) is not None:
            cache = self._from_layers(layers)
            if cache is not None and cache.get_seq_length() == prefix_ids.shape[1]:
                self.disk_hits += 1
                return cache
        with torch.inference_mode():
            output = self.model(input_ids=prefix_ids, use_cache=True)
        cache = output.cache if hasattr(output, "cache") else output.past_key_values
        log.debug("computed a %d-token system turn", prefix_ids.shape[1])
        if key is not None and (layers := _layers_of(cache)) is not None:
            self.disk.save(key, layers)
        return cache

    def _disk_key(self, prefix_ids: Any) -> str:
        """What the stored turn depends on: tokens, model (config and weights), numerics."""
        if self._model_key is None:
            import torch
            import transformers

            config = self.model.config
            self._model_key = json.dumps(
                {
                    "config": config.to_json_string(use_diff=False),
                    "weights": weights_fingerprint(self.model),
                    "dtype": str(self.model.dtype),
                    "attn": getattr(config, "_attn_implementation", None),
                    "device": self.model.device.type,
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                },
                sort_keys=True,
            )
        blob = self._model_key + json.dumps(prefix_ids[0].tolist())
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def _from_layers(self, layers: list[tuple[Any, Any]]) -> Any | None:
        from transformers import DynamicCache

        device, dtype = self.model.device, self.model.dtype
        try:
            cache = DynamicCache(config=self.model.config)
            for i, (k, v) in enumerate(layers):
                cache.update(k.to(device, dtype), v.to(device, dtype), i)
        except Exception as exc:  # a file from an incompatible cache layout
            log.debug("cannot rebuild the prefix cache: %s", exc)
            return None
        return cache

    def clear(self) -> None:
        """Forget every stored turn (e.g. after the weights changed)."""
        self._entries.clear()


def _layers_of(cache: Any) -> list[tuple[Any, Any]] | None:
    """(keys, values) per layer of a dynamic cache, or None for another kind."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(hasattr(layer, "keys") for layer in layers):
        return None
    return [(layer.keys, layer.values) for layer in layers]
