"""First use of a hub model: the size to expect, the hub's progress bars, and a fast, clear
error when the hub cannot be reached (no machine here reaches huggingface.co).

The hub is replaced only where it cannot exist here: a closed local port, the
real (unreachable) default endpoint, or tests/fixtures/fake_hub.py, which
speaks the hub's protocol to the real huggingface_hub client.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.models.checkpoint import SNAPSHOT_PATTERNS
from tests.fixtures.fake_hub import FakeHub

AGENT = [sys.executable, "-m", "agent.cli.main"]


def agent(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return subprocess.run(
        [*AGENT, *args], capture_output=True, text=True, timeout=300, check=False,
        env={**env, **env_vars},
    )  # fmt: skip


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    path = tmp_path / "shot.png"
    Image.new("RGB", (1920, 1080), (240, 240, 240)).save(path)
    return path


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_an_unreachable_hub_is_one_line_and_exit_2(shot, tmp_path):
    port = closed_port()
    result = agent("ground", str(shot), "OK", "--model", "acme/Never-Downloaded",
                   HF_HOME=str(tmp_path / "hf"),
                   HF_ENDPOINT=f"http://127.0.0.1:{port}")  # fmt: skip
    line = one_line_error(result)
    assert "acme/Never-Downloaded is not in the local Hugging Face cache" in line
    assert f"the hub (http://127.0.0.1:{port}) cannot be reached" in line
    assert "hf download acme/Never-Downloaded" in line


def test_the_default_hub_from_this_machine_is_one_line_and_exit_2(shot, tmp_path):
    """The real endpoint: unreachable here; elsewhere the hub says it has no such model."""
    result = agent("ground", str(shot), "OK", "--model", "acme/Never-Downloaded-7f3a",
                   HF_HOME=str(tmp_path / "hf"))  # fmt: skip
    line = one_line_error(result)
    assert "acme/Never-Downloaded-7f3a is not in the local Hugging Face cache" in line
    assert "https://huggingface.co" in line


def test_offline_mode_is_named(shot, tmp_path):
    result = agent("ground", str(shot), "OK", "--model", "acme/Never-Downloaded",
                   HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")  # fmt: skip
    assert "HF_HUB_OFFLINE is set" in one_line_error(result)


def test_a_failing_hub_is_asked_once_not_retried(shot, tmp_path):
    """huggingface_hub retries a failed file request five times with back-off (~23 s);
    the one metadata request made first fails at once instead."""
    hub = FakeHub({})
    hub.down = True  # every request: 503
    try:
        result = agent("ground", str(shot), "OK", "--model", "acme/Busy",
                       HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=hub.url)  # fmt: skip
    finally:
        hub.close()
    assert "503" in one_line_error(result)
    model_requests = [r for r in hub.requests if "acme/Busy" in r[1]]
    assert model_requests == [("GET", "/api/models/acme/Busy")]


def test_an_unknown_model_is_named_by_the_hub(shot, tmp_path):
    hub = FakeHub({})
    try:
        result = agent("ground", str(shot), "OK", "--model", "acme/Nothing",
                       HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=hub.url)  # fmt: skip
    finally:
        hub.close()
    assert f"the hub ({hub.url}) has no such model" in one_line_error(result)


def test_first_use_downloads_with_size_and_progress_then_runs_from_the_cache(
    trained_qwen3_dir, shot, tmp_path
):
    from tests.fixtures.tiny_qwen3_build import FIXED3_ANSWER

    repo = "acme/tiny3-clicker"
    served = tmp_path / "served"
    shutil.copytree(trained_qwen3_dir, served)
    # What a snapshot leaves on the hub: other weight formats, the model card.
    (served / "pytorch_model.bin").write_bytes(b"\0" * 1000)
    (served / "README.md").write_text("# tiny3-clicker\n")
    hub = FakeHub({repo: served})
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": hub.url}
    try:
        first = agent("ground", str(shot), "the green patch", "--model", repo, "--json", **env)
        assert first.returncode == 0, first.stderr
        files = [f for f in served.iterdir() if f.suffix in (".json", ".safetensors")]
        files.append(served / "merges.txt")
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        announced = f"downloading {repo} from {hub.url}: {len(files)} files, {megabytes:.1f} MB"
        assert announced in first.stderr
        assert f"Fetching {len(files)} files" in first.stderr  # the hub's own progress bar
        downloaded = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET"}
        assert {f.name for f in files} <= downloaded
        assert not {"pytorch_model.bin", "README.md"} & downloaded
        out = json.loads(first.stdout)
        assert out["raw"] == FIXED3_ANSWER
        assert out["point"] == [430.08, 341.28]  # (224, 316) of 1000 on a 1920x1080 image

        # Second use: the hub is down, nothing is asked of it, the cached copy answers.
        hub.down = True
        asked = len(hub.requests)
        second = agent("ground", str(shot), "the green patch", "--model", repo, "--json", **env)
        assert second.returncode == 0, second.stderr
        assert "downloading" not in second.stderr
        assert json.loads(second.stdout)["point"] == [430.08, 341.28]
        assert [r for r in hub.requests[asked:] if repo in r[1]] == []
    finally:
        hub.close()


def test_snapshot_patterns_leave_other_weight_formats_on_the_hub():
    from huggingface_hub.utils import filter_repo_objects

    names = ["config.json", "model-00001-of-00002.safetensors", "model.safetensors.index.json",
             "merges.txt", "chat_template.jinja", "pytorch_model.bin", "README.md",
             "figures/arch.png", "onnx/model.onnx"]  # fmt: skip
    kept = list(filter_repo_objects(names, allow_patterns=SNAPSHOT_PATTERNS))
    assert kept == names[:5]
