"""One local model for every worker of a batch: an `agent serve` child for their requests.

When the tasks of ``agent run --workers N`` would each load the same local
checkpoint (backend qwen), the batch starts one ``agent serve`` on a free
loopback port instead, and the workers reach it as an OpenAI-compatible
endpoint (with the same prefill as the local backend). The server is watched by
`env.reaper` (it dies with the batch, however the batch ends) and stopped
after the last task.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from actions.project_errors import InputError

log = logging.getLogger(__name__)


def shared_local_model(specs: list[Any]) -> tuple[str, str | None] | None:
    """(model, profile) when every task runs the same local checkpoint; else None."""
    local = {(s.model, s.profile) for s in specs if s.backend == "qwen"}
    if len(local) != 1 or any(s.backend != "qwen" for s in specs):
        return None
    return next(iter(local))


@contextlib.contextmanager
def served_model(
    model: str, profile: str | None, *, max_batch: int | None = None
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Start `agent serve` for `model`; yields the child `agent run` options and environment
    that make a worker use it, and stops the server on exit.

    `max_batch`: requests of workers that ask at the same time are answered by one batched
    generate of up to this many; None: `agent serve`'s default (batches on an accelerator,
    one at a time on CPU, where batching buys no time and costs a batch's activations).
    """
    from env.reaper import watch

    token = secrets.token_urlsafe(24)  # loopback, but other local users need not share it
    argv = [sys.executable, "-m", "agent.cli.main", "serve", "--model", model, "--port", "0"]
    if max_batch is not None:
        argv += ["--max-batch", str(min(max(max_batch, 1), 256))]
    if profile:
        argv += ["--profile", profile]
    env_token = {"SCREENPILOT_SERVE_TOKEN": token}
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **env_token})  # fmt: skip
    watch(server.pid)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # the weights load before this line comes
        if not line.startswith("serving "):
            server.wait(30)
            detail = (server.stderr.read() if server.stderr else "").strip().splitlines()
            raise InputError(f"agent serve {model} did not start: {detail[-1] if detail else line}")
        url = line.split(" at ", 1)[1].strip()
        log.info("one model for every worker: %s", url)
        options = ["--backend", "openai", "--base-url", url, "--model", model, "--prefill"]
        if profile:
            options += ["--profile", profile]
        # The workers only send screenshots: the PIL resize spares each of them torch's RSS.
        yield options, {"OPENAI_API_KEY": token, "SCREENPILOT_RESIZE": "pil"}
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: it answers what is queued, then says so
        try:
            rest, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            rest, _ = server.communicate()
        for line in (rest or "").splitlines():
            if line.startswith("stopped after "):
                log.info("model server %s", line.strip())
