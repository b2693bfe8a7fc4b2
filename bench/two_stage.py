"""Two-stage grounding vs one pass: visual tokens and CPU seconds per answer, 1080p and 4K.

    .venv/bin/python bench/two_stage.py [--size tiny|3b] [--runs 2] [--new-tokens 12]

Rows, per screen (1920x1080 and 3840x2160), all through `agent.grounding.ground` on
the same synthetic screenshot with the Qwen2.5-VL profile:

* single_agent: one pass at the profile's agent limits (at most 1280 visual tokens);
* single_benchmark: one pass at its benchmark limits (the checkpoint's 12845056 px: the
  ScreenSpot-Pro setting, ~10.5k tokens at 4K);
* two_stage: pass 1 at 256 tokens (`TwoStage.first_max_pixels`), pass 2 on a crop at
  native resolution of the agent limit's area (`agent.two_stage`).

Visual tokens are exact (the sizes the backend feeds the model, counted by the backend).
Seconds: process CPU seconds and wall seconds per answer (median of --runs), with the
tiny test model trained to one click answer by default (--size tiny: pass 1 always gives a
point, so both passes run), or the published 3B architecture with random weights (--size 3b,
bench/qwen_sizes.py, generating --new-tokens tokens; minutes per 4K single pass on 2 cores;
random answers rarely hold a point, so pass 2 mostly does not run there: its tokens are
then the single-pass-at-the-crop figure). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import machine  # noqa: E402

SCREENS = {"1080p": (1920, 1080), "4k": (3840, 2160)}
FIRST_TOKENS = 256


def build(size: str, max_pixels: int, two_stage: dict | None, new_tokens: int) -> Any:
    """A QwenModel on CPU: the tiny test model (from disk) or a random 3B built in memory."""
    import torch

    from agent.models.load import load_model
    from agent.models.qwen import QwenModel
    from agent.models.qwen_processor import load_processor
    from agent.models.spec import ModelSpec
    from tests.fixtures.tiny_qwen_build import tiny_checkpoint, trained_checkpoint

    args = {"max_pixels": max_pixels, "max_new_tokens": new_tokens, "two_stage": two_stage}
    if size == "tiny":  # trained to one click answer: pass 1 always gives a point to zoom on
        folder = trained_checkpoint()
        return load_model(ModelSpec(model=str(folder), weights="eager", **args))
    folder = tiny_checkpoint()
    from bench.qwen_sizes import build_model

    raw = build_model(size, torch.bfloat16, "cpu")
    raw.set_attn_implementation("sdpa")
    processor = load_processor(folder, min_pixels=3136, max_pixels=max_pixels)
    return QwenModel.from_loaded(ModelSpec(model=f"random-{size}", **args), raw, processor)


def measure(model: Any, image: Any, runs: int, new_tokens: int) -> dict[str, Any]:
    from agent.grounding import ground

    if model.spec.model.startswith("random-"):  # random weights: a full-length answer
        model.generation_config.min_new_tokens = new_tokens
    ground(model, image, "the Save button")  # warm-up (and the system turn's cache)
    cpu, wall, result = [], [], None
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        result = ground(model, image, "the Save button")
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    assert result is not None
    row = {
        "visual_tokens": result.visual_tokens,
        "cpu_s": round(statistics.median(cpu), 3),
        "wall_s": round(statistics.median(wall), 3),
    }
    if result.two_stage is not None:
        row["per_pass_tokens"] = result.two_stage["visual_tokens"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=["tiny", "3b"])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--screens", nargs="*", default=list(SCREENS), choices=list(SCREENS))
    args = parser.parse_args()
    os.environ["SCREENPILOT_PREFIX_CACHE"] = tempfile.mkdtemp(prefix="two-stage-kv-")

    from agent.models.profiles import PROFILES
    from bench.preprocess import screenshot

    profile = PROFILES["qwen2.5-vl"]
    agent_max = profile.pixel_limits("agent")[1]
    bench_max = profile.pixel_limits("benchmark")[1]
    two = {"first_max_pixels": FIRST_TOKENS * 28 * 28, "crop_pixels": agent_max}
    rows: dict[str, Any] = {}
    for name in args.screens:
        image = screenshot(SCREENS[name], seed=1)
        row: dict[str, Any] = {}
        for label, high, stages in (
            ("single_agent", agent_max, None),
            ("single_benchmark", bench_max, None),
            ("two_stage", agent_max, two),
        ):
            model = build(args.size, high, stages, args.new_tokens)
            try:
                row[label] = measure(model, image, args.runs, args.new_tokens)
            finally:
                model.close()
        single = row["single_benchmark"]
        row["tokens_two_stage_vs_benchmark"] = round(
            row["two_stage"]["visual_tokens"] / single["visual_tokens"], 3
        )
        row["cpu_two_stage_vs_benchmark"] = round(row["two_stage"]["cpu_s"] / single["cpu_s"], 3)
        rows[name] = row
    print(json.dumps({"bench": "two_stage", "size": args.size, "runs": args.runs,
                      "new_tokens": args.new_tokens, "first_tokens": FIRST_TOKENS,
                      "screens": rows, **machine()}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
