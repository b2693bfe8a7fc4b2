"""bench/gpu_step.py runs in one go, so it can be handed to a GPU machine unchanged.

On CPU it runs the tiny test architecture (`--tiny`): the same code path as the
3B on CUDA (random weights built in memory, our backend, the cookbook baseline),
only smaller. No timing is asserted; the figures are checked to be there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_script_runs_reduced_on_cpu_and_reports_every_figure(tiny_qwen_dir) -> None:
    command = [sys.executable, str(ROOT / "bench/gpu_step.py"), "--tiny", "--runs", "1",
               "--batch", "2", "--new-tokens", "3", "--modes", "cookbook", "ours"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["bench"] == "gpu_step" and report["tiny"] and report["device"] == "cpu"
    tiny = report["sizes"]["tiny"]
    assert tiny["visual_tokens"] > 0 and tiny["cold_load_s"] >= 0
    assert tiny["first_call_ms"] > 0 and tiny["peak_memory_gib"] > 0
    for mode in ("cookbook", "ours"):
        assert "error" not in tiny[mode], tiny[mode]
        assert tiny[mode]["call_ms"] > 0 and tiny[mode]["per_token_ms"] > 0
    assert tiny["ours"]["tokens_per_s"] > 0
    assert tiny["batched"]["ours"]["samples_per_s"] > 0
