"""`agent serve`: the tiny trained Qwen as an OpenAI-compatible server, used by the real
OpenAI client of `agent ground`; the served answer is the local answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.tiny_qwen_build import FIXED_POINT

AGENT = [sys.executable, "-m", "agent.cli.main"]
ROOT = Path(__file__).resolve().parents[1]


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*AGENT, *args], capture_output=True, text=True, timeout=300, env=env,
                          cwd=ROOT)  # fmt: skip


def start_server(model: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    argv = [*AGENT, "serve", "--model", str(model), "--port", "0", *extra]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT)  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline()
    assert line.startswith("serving "), line + server.stderr.read()
    return server, line.split(" at ")[1].strip()


@pytest.fixture
def served(trained_qwen_dir: Path) -> Iterator[str]:
    server, url = start_server(trained_qwen_dir, "--token", "s3cret-token")
    yield url
    server.terminate()
    server.wait(30)


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    path = tmp_path / "shot.png"
    image = Image.new("RGB", (1920, 1080), (245, 245, 245))
    image.paste((30, 110, 210), (1500, 40, 1620, 80))
    image.save(path)
    return path


def test_the_served_model_answers_as_the_local_one(served, trained_qwen_dir, shot) -> None:
    local = agent(
        "ground", str(shot), "the Save button", "--model", str(trained_qwen_dir), "--json"
    )
    assert local.returncode == 0, local.stderr
    os.environ["OPENAI_API_KEY"] = "s3cret-token"
    try:
        remote = agent("ground", str(shot), "the Save button", "--backend", "openai",
                       "--base-url", served, "--model", str(trained_qwen_dir),
                       "--profile", "qwen2.5-vl", "--prefill", "--json")  # fmt: skip
    finally:
        del os.environ["OPENAI_API_KEY"]
    assert remote.returncode == 0, remote.stderr
    here, there = json.loads(local.stdout), json.loads(remote.stdout)
    assert there["model_xy"] == list(FIXED_POINT) == here["model_xy"]
    assert there["point"] == here["point"] and there["model_size"] == here["model_size"]
    assert there["raw"] == here["raw"]  # the same prompt (prefill continued), the same answer

    request = urllib.request.Request(f"{served}/models")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401  # no token, no model
    request.add_header("Authorization", "Bearer s3cret-token")
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert json.load(reply)["data"][0]["id"] == str(trained_qwen_dir)


def test_off_loopback_without_a_token_is_refused_before_loading(tmp_path) -> None:
    result = agent("serve", "--model", str(tmp_path / "nothing"), "--host", "0.0.0.0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SCREENPILOT_SERVE_TOKEN" in lines[0], result.stderr


def chat_request(url: str, image: Image.Image, instruction: str, cap: int) -> dict:
    import base64
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    content = [{"type": "image_url", "image_url": {"url": data}},
               {"type": "text", "text": instruction}]  # fmt: skip
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": cap}
    request = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=300) as reply:
        return json.load(reply)


def stop(server: subprocess.Popen[str]) -> str:
    """Ctrl-C the server; its last stdout line ("stopped after N request(s) in M batch(es)")."""
    import signal

    server.send_signal(signal.SIGINT)
    out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    return out.strip().splitlines()[-1]


def test_concurrent_requests_are_batched_and_answered_as_one_at_a_time(tiny_qwen_dir) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # Random weights: each answer depends on its own image and words, so a mix-up would show.
    sizes = [(280, 196), (448, 280), (224, 224), (336, 252), (560, 308), (252, 336)]
    jobs = [
        (Image.new("RGB", size, (20 * i, 200 - 30 * i, 90 + 25 * i)), f"click thing {i} " * i, 6)
        for i, size in enumerate(sizes)
    ]
    # Two with another token cap: never in the same batch as the others (their answers
    # would run to 6 tokens).
    jobs += [(Image.new("RGB", (308, 224), (200, 40, 40)), "close it", 3),
             (Image.new("RGB", (224, 308), (40, 40, 200)), "open it now", 3)]  # fmt: skip
    alone, alone_url = start_server(tiny_qwen_dir, "--dtype", "float32", "--max-batch", "1")
    batched, batched_url = start_server(
        tiny_qwen_dir, "--dtype", "float32", "--max-batch", "4", "--batch-window-ms", "2000"
    )
    try:
        reference = [chat_request(alone_url, *job) for job in jobs]
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(lambda job: chat_request(batched_url, *job), jobs))
    finally:
        alone_line, batched_line = stop(alone), stop(batched)

    def content(reply: dict) -> str:
        return reply["choices"][0]["message"]["content"]

    assert [content(a) for a in answers] == [content(r) for r in reference]
    assert len({content(r) for r in reference}) > 1  # the answers do differ by request
    assert [a["usage"] for a in answers] == [r["usage"] for r in reference]
    assert [a["usage"]["completion_tokens"] for a in answers[-2:]] == [3, 3]
    assert alone_line == "stopped after 8 request(s) in 8 batch(es)"
    # Six alike (at most four a batch) and two with another cap: at least three batches.
    assert batched_line.startswith("stopped after 8 request(s) in "), batched_line
    batches = int(batched_line.split(" in ")[1].split()[0])
    assert 3 <= batches < 8, batched_line
