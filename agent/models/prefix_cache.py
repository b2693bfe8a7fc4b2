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
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)

TURN_START = "<|im_start|>"


class PrefixCache:
    """An LRU of system-turn caches for one model, keyed by the turn's token ids."""

    def __init__(self, model: Any, tokenizer: Any, *, size: int = 4, min_tokens: int = 64) -> None:
        self.model = model
        self.size = size
        self.min_tokens = min_tokens
        self.turn_start = tokenizer.convert_tokens_to_ids(TURN_START)
        self._entries: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def prefix_length(self, input_ids: Any, attention_mask: Any | None) -> int:
        """How many leading tokens every row shares as its system turn (0: none to reuse)."""
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

        with torch.inference_mode():
            output = self.model(input_ids=prefix_ids, use_cache=True)
        log.debug("cached a %d-token system turn", prefix_ids.shape[1])
        return output.cache if hasattr(output, "cache") else output.past_key_values

    def clear(self) -> None:
        """Forget every stored turn (e.g. after the weights changed)."""
        self._entries.clear()
