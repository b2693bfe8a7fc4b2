"""Weights read when a step first needs them, not when the model is chosen.

A run served entirely by the locate cache (or by the accessibility tree) makes
no model call; reading a 3B checkpoint for it costs seconds to tens of seconds
and ~8 GB of memory for nothing. So a local backend checks everything that can
fail on bad input at once (folder, config.json, architecture, profile,
tokenizer, the weight files' presence), and hands the reading itself to a
`LazyWeights`: done by the first `get()`, or started in a background thread by
`start()` so that the first model step waits less.

The load is announced in one line at INFO on the ``agent.models.weights``
logger (`LOAD_LOGGER`); `agent run` and `agent mcp` set that logger to INFO so
that the line shows at their default (WARNING) level: when it happened and how
long it took. One-shot commands (`agent ground`) keep their one-line output.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

LOAD_LOGGER = __name__
log = logging.getLogger(LOAD_LOGGER)


def announce_loads() -> None:
    """Show the one line about each weight load at a CLI's default (WARNING) level."""
    logging.getLogger(LOAD_LOGGER).setLevel(logging.INFO)


# When this process started using models; the load line says how far into the run it came.
_STARTED = time.perf_counter()


class LazyWeights:
    """Reads weights once, on demand or in the background; thread-safe.

    `read` is called at most once. An error it raises (an `InputError` naming
    the file) is raised again by every `get()`.
    """

    def __init__(self, read: Callable[[], Any], *, label: str = "") -> None:
        self._read = read
        self.label = label
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._value: Any = None
        self._error: BaseException | None = None
        self._done = False
        self._reported = False
        self.seconds = 0.0
        self.waited = 0.0  # how long the step that needed them waited
        self.at = 0.0  # seconds since the process began using models, when the load ended
        self.background = False

    @classmethod
    def ready(cls, value: Any) -> LazyWeights:
        """Weights already in memory (e.g. a model just fine-tuned)."""
        weights = cls(lambda: value)
        weights._value, weights._done, weights._reported = value, True, True
        return weights

    @property
    def loaded(self) -> bool:
        return self._done and self._error is None and self._value is not None

    def start(self) -> None:
        """Begin reading in a background thread (no-op if begun or done)."""
        with self._lock:
            if self._done or self._thread is not None:
                return
            self.background = True
            self._thread = threading.Thread(target=self._load, name="weights", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            self._value = self._read()
        except BaseException as exc:  # kept and raised in the thread that needs the weights
            self._error = exc
        self.seconds = time.perf_counter() - started
        self.at = time.perf_counter() - _STARTED
        self._done = True

    def get(self) -> tuple[Any, bool]:
        """(the weights, whether this call is the first to hand them out)."""
        waited = time.perf_counter()
        thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:
            if not self._done:
                self._load()
            if self._error is not None:
                raise self._error
            fresh = not self._reported
            if fresh:
                self.waited = time.perf_counter() - waited
            self._reported = True
            return self._value, fresh

    def drop(self) -> None:
        """Forget the weights (a background read is waited for first)."""
        thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:
            self._value = None


def log_weights_load(
    name: str, where: str, weights: LazyWeights, *, setup_seconds: float = 0.0
) -> None:
    """The one line saying when and how long reading `name`'s weights took.

    `setup_seconds`: of that time, importing torch and transformers and building the processor.
    """
    how = (
        f"in the background, the first step waited {weights.waited:.1f} s"
        if weights.background
        else "at the first step that needed the model"
    )
    log.info(
        "weights of %s read in %.1f s (%.1f s of it importing torch/transformers; %s; "
        "%.1f s into the run): %s",
        name,
        weights.seconds,
        setup_seconds,
        how,
        weights.at,
        where,
    )
