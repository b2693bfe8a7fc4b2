"""Several OpenAI-compatible endpoints serving one model, used as one.

Each request goes to the endpoint with the fewest requests outstanding (least
outstanding requests, as load balancers in front of vLLM replicas do; one whose
last request failed only when no other is left), at most
``concurrency`` in flight per endpoint. When an endpoint fails a request (it
cannot be reached, or it keeps answering 5xx/429/timeouts after the client's
own retries) the request is sent to another endpoint that has not failed it;
the failure is logged and counted (`EndpointPool.failures`). Decoding is
greedy, so which endpoint answers does not change the answer.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Endpoint:
    """One server: its URL, its client, and how many requests it holds now."""

    url: str
    client: Any
    outstanding: int = 0
    answered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    healthy: bool = True  # False from a failure until its next answer


class EndpointPool:
    """See the module docstring."""

    def __init__(
        self, urls: Sequence[str | None], make_client: Callable[[str | None], Any], concurrency: int
    ) -> None:
        self.endpoints = [Endpoint(str(url or ""), make_client(url)) for url in urls]
        self.concurrency = concurrency
        self._ready = threading.Condition()
        # Ties go round the endpoints from a random start, so that one-at-a-time callers
        # (a task's steps) and separate processes (batch workers) spread too.
        self._turn = random.randrange(len(self.endpoints))

    def __len__(self) -> int:
        return len(self.endpoints)

    @contextmanager
    def lease(self, tried: set[int]) -> Iterator[tuple[int, Endpoint]]:
        """The least busy endpoint not in `tried`, held for one request."""
        with self._ready:
            while True:
                untried = [i for i in range(len(self.endpoints)) if i not in tried]
                # A failing endpoint is used only when no healthy one is left to try.
                healthy = [i for i in untried if self.endpoints[i].healthy]
                n = len(self.endpoints)
                free = [
                    (self.endpoints[i].outstanding, (i - self._turn) % n, i)
                    for i in healthy or untried
                    if self.endpoints[i].outstanding < self.concurrency
                ]
                if free:
                    index = min(free)[2]
                    self._turn = (index + 1) % n
                    break
                self._ready.wait()
            self.endpoints[index].outstanding += 1
        try:
            yield index, self.endpoints[index]
        finally:
            with self._ready:
                self.endpoints[index].outstanding -= 1
                self._ready.notify_all()

    def call(self, request: Callable[[Any, str], Any], retryable: tuple[type, ...]) -> Any:
        """Run `request(client, url)` on the least busy endpoint; on a `retryable` error
        try the others in turn, and raise the last error when every one failed."""
        tried: set[int] = set()
        while True:
            with self.lease(tried) as (index, endpoint):
                try:
                    result = request(endpoint.client, endpoint.url)
                except retryable as exc:
                    tried.add(index)
                    with self._ready:
                        endpoint.failed += 1
                        endpoint.healthy = False
                        if len(endpoint.errors) < 5:
                            endpoint.errors.append(str(exc))
                    if len(tried) == len(self.endpoints):
                        raise
                    log.warning("endpoint %s failed (%s): trying another", endpoint.url, exc)
                    continue
                with self._ready:
                    endpoint.answered += 1
                    endpoint.healthy = True
                return result

    def failures(self) -> dict[str, int]:
        """Requests each endpoint failed (only those that failed any)."""
        return {e.url: e.failed for e in self.endpoints if e.failed}

    def describe(self) -> str:
        """One line: requests answered and failed per endpoint."""
        return "; ".join(
            f"{e.url}: {e.answered} answered" + (f", {e.failed} failed" if e.failed else "")
            for e in self.endpoints
        )

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.client.close()
