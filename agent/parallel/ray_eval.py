"""`agent eval screenspot ... --ray`: each batch's requests as Ray tasks against the endpoints.

The run itself is `agent.eval.runner.ScreenSpotRun`, unchanged (the same
journal, resume, fingerprint, parser and result file); only the model it asks
is `RayModel`: it cuts each batch into shards of ``--concurrency`` requests and
answers every shard in a Ray task (`answer_shard`) that holds its own client
for the served model, its first endpoint rotated per shard so that the shards
spread over every ``--base-url`` (each still retries a failing endpoint on the
others). Replies come back in request order, so the file is the plain run's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from actions.project_errors import InputError
from agent.models.base import ModelReply, ModelRequest
from agent.models.spec import ModelSpec
from agent.parallel.ray_cluster import connected, import_ray

log = logging.getLogger(__name__)

_MODELS: dict[str, Any] = {}
"""A Ray worker process's loaded model per spec (a client: cheap, but kept across shards)."""


def check_backend(backend: str) -> None:
    """`--ray` evaluates against served endpoints; anything else is a one-line error."""
    import_ray()
    if backend != "openai":
        raise InputError(
            "--ray sends the samples to served endpoints: pass --backend openai --base-url URL"
        )


def answer_shard(spec: ModelSpec, requests: list[ModelRequest]) -> list[ModelReply]:
    """On a Ray worker: the model's answers to one shard, in order."""
    from agent.models.load import load_model

    key = spec.model_dump_json()
    if key not in _MODELS:
        _MODELS[key] = load_model(spec)
    return list(_MODELS[key].answer(requests))


def rotated(spec: ModelSpec, shift: int) -> ModelSpec:
    """`spec` with its endpoint list turned by `shift` (the same endpoints, another first)."""
    urls = [spec.base_url, *spec.endpoints]
    if len(urls) < 2:
        return spec
    shift %= len(urls)
    urls = urls[shift:] + urls[:shift]
    return spec.model_copy(update={"base_url": urls[0], "endpoints": tuple(urls[1:])})


class RayModel:
    """A model whose `answer` runs as Ray tasks; frames are the driver's model's."""

    def __init__(self, spec: ModelSpec, local: Any, ray: Any) -> None:
        self.spec = spec
        self.local = local
        self.profile = local.profile
        self.frame_for = local.frame_for
        self._ray = ray
        self._remote = ray.remote(answer_shard)
        self._shards = 0

    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        """Answer in shards of ``spec.concurrency``, all in flight at once, in order."""
        size = max(1, self.spec.concurrency)
        refs = []
        for start in range(0, len(requests), size):
            spec = rotated(self.spec, self._shards)
            self._shards += 1
            refs.append(self._remote.remote(spec, requests[start : start + size]))
        from ray.exceptions import RayTaskError

        replies: list[ModelReply] = []
        for ref in refs:
            try:
                replies.extend(self._ray.get(ref))
            except RayTaskError as exc:  # the shard's own error, as the plain run raises it
                cause = getattr(exc, "cause", None)
                if isinstance(cause, Exception):
                    raise cause from None
                raise
        return replies


@contextmanager
def ray_model(spec: ModelSpec, local: Any) -> Iterator[RayModel]:
    """A `RayModel` on ``$RAY_ADDRESS`` (else a local cluster) for the ``with`` block."""
    with connected({}) as ray:
        yield RayModel(spec, local, ray)
