"""Lazy weights: a local model's weight files are read at the first step that needs the model.

End to end: a real `agent run` on a real Tk app under Xvfb, with a tiny local
Qwen2.5-VL checkpoint (real architecture, real vocabulary) configured. Its
locate cache was learned by an earlier run; the kernel (inotify) reports every
open of a file in the checkpoint folder, whichever library (Python or Rust)
opens it, so "never opened" is what the OS saw, not what a patched function saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import need
from tests.fixtures.button_board import clicked, start_board
from tests.fixtures.open_watch import OpenWatch
from tests.fixtures.run_logs import steps_of

ROOT = Path(__file__).resolve().parents[1]
STEPS = """steps:
  - click: the Save button
  - click: the Open button
settle: 0.5
"""
WEIGHTS = (".safetensors", ".bin")


# `python -m agent.cli.main`, writing the names of the modules it imported when it exits.
MODULES_AT_EXIT = """
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "agent"
runpy.run_module("agent.cli.main", run_name="__main__")
"""


def agent_run(
    task: Path, out: Path, display: str, modules: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    env["DISPLAY"] = display
    python = [sys.executable, "-m", "agent.cli.main"]
    if modules is not None:
        python = [sys.executable, "-c", MODULES_AT_EXIT, str(modules)]
    return subprocess.run(
        [*python, "run", str(task), "--out", str(out)],
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
        modules = tmp_path / "modules.json"
        second = agent_run(learn, tmp_path / "run2", xvfb_session.name, modules)
        opened = watch.opened()
    finally:
        watch.close()
    assert second.returncode == 0, second.stdout + second.stderr
    assert clicked(board, mark) == ["save", "open"]
    assert [s["cache"]["status"] for s in steps_of(tmp_path / "run2")] == ["hit", "hit"]
    assert "config.json" in opened  # the checkpoint was checked...
    assert [n for n in opened if n.endswith(WEIGHTS)] == []  # ...and its weights never opened
    assert "weights of" not in second.stderr
    # ... nor were torch and transformers imported (~30 s on a small machine, for nothing).
    imported = set(json.loads(modules.read_text()))
    assert "agent.models.qwen" in imported  # the local backend was built and checked...
    assert {"torch", "transformers"} & imported == set()  # ...without either


def test_a_broken_or_missing_tokenizer_fails_at_load_model(checkpoint) -> None:
    from actions.project_errors import InputError
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    (checkpoint / "tokenizer.json").write_text('{"added_tokens": [')
    with pytest.raises(InputError, match=r"tokenizer.json: not readable JSON"):
        load_model(ModelSpec(model=str(checkpoint)))
    (checkpoint / "tokenizer.json").write_text('{"added_tokens": [], "model": {"vocab": {}}}')
    with pytest.raises(InputError, match=r"does not know Qwen's special tokens"):
        load_model(ModelSpec(model=str(checkpoint)))
    (checkpoint / "tokenizer.json").unlink()
    (checkpoint / "vocab.json").unlink()
    with pytest.raises(InputError, match="no tokenizer in"):
        load_model(ModelSpec(model=str(checkpoint)))


def test_a_gpu_that_is_not_there_fails_at_load_model(tiny_qwen_dir) -> None:
    import torch

    from actions.project_errors import InputError
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    need(not torch.cuda.is_available(), "this machine has a CUDA GPU")
    with pytest.raises(InputError, match="torch sees no CUDA GPU"):
        load_model(ModelSpec(model=str(tiny_qwen_dir), device="cuda"))


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
    from actions.project_errors import InputError
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
