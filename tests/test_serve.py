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
