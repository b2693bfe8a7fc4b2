"""Server-side batching for `agent serve`: concurrent requests that decode alike share a
generate() call.

Each HTTP handler thread renders its prompt and hands it to `Batcher.submit`,
which waits for the answer. One thread owns the model: it takes the oldest
waiting request, gathers the others with the same decoding settings (token cap
and stop strings) for a short window (`window` seconds, or until `max_batch`
are there), and runs them as one left-padded, greedy `generate`. Requests that
arrive while the model is busy simply wait for the next batch, so under load
the batches fill up by themselves. Requests with other settings are never put
in the same batch; they go in a later one, oldest first.

Greedy decoding with left padding gives each request the answer it would get
alone (tests/test_serve.py checks this against one-at-a-time). If a batch
fails (say one request's image is too large for memory), each of its requests
is tried alone, so one bad request never takes the others' answers with it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 0.005
"""Seconds the first request of a batch waits for company (a generate takes far longer)."""
DEFAULT_MAX_BATCH = 4


@dataclass
class Pending:
    """One rendered request waiting for its answer."""

    text: str
    images: list[Image.Image]
    cap: int
    stops: tuple[str, ...]
    done: threading.Event = field(default_factory=threading.Event)
    new_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    error: BaseException | None = None

    @property
    def key(self) -> tuple[int, tuple[str, ...]]:
        """What must match for two requests to share a batch."""
        return self.cap, self.stops


class Batcher:
    """Runs `Pending` requests through a loaded `QwenModel` in batches (see module docstring)."""

    def __init__(
        self, model: Any, *, max_batch: int = DEFAULT_MAX_BATCH, window: float = DEFAULT_WINDOW
    ) -> None:
        self.model = model
        self.max_batch = max(1, max_batch)
        self.window = max(0.0, window)
        self.requests = 0
        self.batches = 0
        self._waiting: list[Pending] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, pending: Pending) -> Pending:
        """Queue `pending` and wait for its answer (its new_ids, or its error is raised)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the server is stopping")
            self._waiting.append(pending)
            self._cond.notify_all()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending

    def close(self) -> None:
        """Stop after the requests already waiting are answered."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(60)

    def _next_batch(self) -> list[Pending] | None:
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if not self._waiting:
                return None
            key = self._waiting[0].key
            deadline = time.monotonic() + self.window
            while True:
                alike = [p for p in self._waiting if p.key == key]
                left = deadline - time.monotonic()
                if len(alike) >= self.max_batch or left <= 0 or self._closed:
                    break
                self._cond.wait(left)
            batch = alike[: self.max_batch]
            for pending in batch:
                self._waiting.remove(pending)
            return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._run(batch)
            except Exception as exc:  # answered as errors; one request alone if it was a batch
                if len(batch) == 1:
                    log.exception("generate failed")
                    batch[0].error = exc
                else:
                    log.warning("a batch of %d failed (%s): one at a time", len(batch), exc)
                    for pending in batch:
                        try:
                            self._run([pending])
                        except Exception as alone:
                            log.exception("generate failed")
                            pending.error = alone
            for pending in batch:
                pending.done.set()

    def _run(self, batch: list[Pending]) -> None:
        """One generate() for `batch` (all with the same cap and stops)."""
        from agent.models.qwen_processor import preprocess

        model = self.model
        torch = model._torch
        weights = model.load_weights()
        images = [image for p in batch for image in p.images]
        inputs = preprocess(model.processor, [p.text for p in batch], images).to(model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        cap, stops = batch[0].key
        config, extra = model.generation_config_for(cap, stops)
        with torch.inference_mode():
            output = weights.generate(**inputs, generation_config=config, **extra)
        width = int(inputs["input_ids"].shape[1])
        ends = set(config.eos_token_id or [])
        pad = model.processor.tokenizer.pad_token_id
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for row, pending in enumerate(batch):
            pending.new_ids = _own_tokens(output[row, width:].tolist(), ends, pad)
            pending.prompt_tokens = int(lengths[row])
        self.requests += len(batch)
        self.batches += 1
        log.info("batch %d: %d request(s), max_tokens %d", self.batches, len(batch), cap)


def _own_tokens(row: list[int], ends: set[int], pad: int | None) -> list[int]:
    """A batch row's generated tokens without the padding that follows a finished answer."""
    kept: list[int] = []
    for token in row:
        if token in ends:
            kept.append(token)  # generate() alone keeps its end token too
            break
        if token == pad:
            break
        kept.append(token)
    return kept
