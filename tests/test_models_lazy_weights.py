"""Lazy weights: a local model's weight files are read at the first step that needs the model.

End to end: a real `agent run` on a real Tk app under Xvfb, with a tiny local
Qwen2.5-VL checkpoint (real architecture, real vocabulary) configured. Its
locate cache was learned by an earlier run; the kernel (inotify) reports every
open of a file in the checkpoint folder, whichever library (Python or Rust)
opens it, so "never opened" is what the OS saw, not what a patched function saw.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import need
from tests.fixtures.button_board import clicked, start_board
from tests.fixtures.run_logs import steps_of

ROOT = Path(__file__).resolve().parents[1]
STEPS = """steps:
  - click: the Save button
  - click: the Open button
settle: 0.5
"""
IN_OPEN = 0x20
WEIGHTS = (".safetensors", ".bin")


class OpenWatch:
    """Every file opened in one folder, as the kernel reports it (inotify IN_OPEN)."""

    def __init__(self, folder: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0, ctypes.get_errno()
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(folder), IN_OPEN)
        assert wd >= 0, ctypes.get_errno()

    def opened(self) -> list[str]:
        names: list[str] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            at = 0
            while at < len(data):
                _, mask, _, size = struct.unpack_from("iIII", data, at)
                name = data[at + 16 : at + 16 + size].rstrip(b"\0").decode()
                if mask & IN_OPEN and name:
                    names.append(name)
                at += 16 + size

    def close(self) -> None:
        os.close(self.fd)


def agent_run(task: Path, out: Path, display: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    env["DISPLAY"] = display
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "run", str(task), "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip


def task_file(path: Path, model: str) -> Path:
    path.write_text(f"name: board\nenv: {{desktop: {{}}}}\nmodel: {model}\n{STEPS}")
    return path


@pytest.fixture
def board(xvfb_session: Any, tmp_path: Path) -> Any:
    need(shutil.which("xdotool") is not None, "xdotool is not installed")
    app = start_board(tmp_path / "app.jsonl", xvfb_session.name)
    yield app
    app.stop()


@pytest.fixture
def checkpoint(tiny_qwen_dir: Path, tmp_path: Path) -> Path:
    """A private copy: other test runs on this machine may open the shared one."""
    return Path(shutil.copytree(tiny_qwen_dir, tmp_path / "tiny-qwen"))


def test_a_cached_run_with_a_local_checkpoint_never_opens_its_weights(
    board, xvfb_session, grounding_server, checkpoint, tmp_path
) -> None:
    # An earlier run learned the targets (through a served model, which finds them)...
    served = f"{{backend: openai, base_url: '{grounding_server.base_url}', model: q}}"
    learn = task_file(tmp_path / "board.yaml", served)
    first = agent_run(learn, tmp_path / "run1", xvfb_session.name)
    assert first.returncode == 0, first.stdout + first.stderr
    assert clicked(board) == ["save", "open"]
    # ... and the cache is handed to a task that names the local checkpoint (the cache file
    # is plain YAML a user may review and edit: the entries now say which model they are for).
    cache_file = tmp_path / "board.cache" / "cache.yaml"
    data = yaml.safe_load(cache_file.read_text())
    for entry in data["entries"]:
        entry["model"].update(backend="qwen", model=str(checkpoint))
    cache_file.write_text(yaml.safe_dump(data, sort_keys=False))
    task_file(learn, f"{{backend: qwen, model: '{checkpoint}'}}")

    watch = OpenWatch(checkpoint)
    try:
        mark = board.mark()
        second = agent_run(learn, tmp_path / "run2", xvfb_session.name)
        opened = watch.opened()
    finally:
        watch.close()
    assert second.returncode == 0, second.stdout + second.stderr
    assert clicked(board, mark) == ["save", "open"]
    assert [s["cache"]["status"] for s in steps_of(tmp_path / "run2")] == ["hit", "hit"]
    assert "config.json" in opened  # the checkpoint was checked...
    assert [n for n in opened if n.endswith(WEIGHTS)] == []  # ...and its weights never opened
    assert "weights of" not in second.stderr


def test_a_checkpoint_without_its_weights_fails_before_any_click(
    board, xvfb_session, checkpoint, tmp_path
) -> None:
    (checkpoint / "model.safetensors").unlink()
    task = task_file(tmp_path / "board.yaml", f"{{backend: qwen, model: '{checkpoint}'}}")
    result = agent_run(task, tmp_path / "run", xvfb_session.name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no weights in" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert clicked(board) == []


def test_a_missing_shard_of_an_index_fails_at_load_model(checkpoint) -> None:
    from actions.errors import InputError
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    weights = checkpoint / "model.safetensors"
    weights.rename(checkpoint / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors",
                            "b": "model-00002-of-00002.safetensors"}}  # fmt: skip
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(
        InputError, match="names model-00002-of-00002.safetensors, which is missing"
    ):
        load_model(ModelSpec(model=str(checkpoint)))


@pytest.mark.parametrize("when", ["lazy", "background"])
def test_the_weights_are_read_once_when_the_first_answer_needs_them(
    tiny_qwen_dir, when, caplog
) -> None:
    from PIL import Image

    from agent.grounding import ground
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    shot = Image.new("RGB", (640, 400), "white")
    caplog.set_level("INFO", logger="agent.models.weights")
    with load_model(ModelSpec(model=str(tiny_qwen_dir), weights=when, max_new_tokens=4)) as model:
        if when == "lazy":
            assert not model.weights_loaded
        assert model.profile is not None and model.frame_for(shot).model_size
        first = ground(model, shot, "the Save button")
        assert model.weights_loaded
        again = ground(model, shot, "the Save button")
    assert first.raw == again.raw
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.models.weights"]
    assert len(lines) == 1 and lines[0].startswith("weights of ")
    assert ("in the background" in lines[0]) == (when == "background")
