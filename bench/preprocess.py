"""Screenshot -> model inputs: our client-side path vs the processor's own resize (cookbook style).

    .venv/bin/python bench/preprocess.py [--runs 15] [--arch qwen2_5_vl|qwen3_vl]
        [--image-backend auto|pil|torchvision]

For a 1920x1080, 2560x1440, 3840x2160 and a 1080x2400 phone screenshot:

* ours: `QwenModel.prepare`, exactly what the local backend does per request
  (smart_resize size, one client-side resize with `agent.models.resize.to_model_image`,
  the grounding prompt, the processor with ``do_resize=False``), at our default
  max_pixels (1280 visual tokens) and at the checkpoint's own (12845056).
* baseline: the cookbooks' way: the full-size PIL image handed to the processor,
  which resizes it itself with the checkpoint's preprocessor settings
  (min_pixels 3136, max_pixels 12845056); also with max_pixels set to our default.

The processor comes from the tiny test checkpoint (tests/fixtures/tiny_qwen_build.py),
whose preprocessor_config.json is the real 3B's; with --arch qwen3_vl from the tiny
Qwen3-VL (tests/fixtures/tiny_qwen3_build.py: Qwen3-VL-2B's preprocessor_config, 16-px
patches, limits 65536 .. 16777216) and the prompts of the qwen3-vl profile. Times are
medians of --runs calls after one warm-up; the model itself is not run. Also checks that
both paths give the same visual tokens at the same max_pixels, and how close their
pixel_values are (the only difference is the resize filter's implementation: torch's
antialiased bicubic vs PIL's; with PIL's resize on our side they must be identical).
Prints one JSON line.

Fair rows: `speedup_equal_max_pixels_agent` compares both sides at our default max_pixels
(same visual tokens), `speedup_model_max_pixels` at the checkpoint's. `--image-backend`
picks the image processor on both sides (auto: torchvision when it imports, as
`pip install 'screenpilot[model]'` gives; pil: without torchvision).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import machine  # noqa: E402

SCREENS = {
    "1920x1080": (1920, 1080),
    "2560x1440": (2560, 1440),
    "3840x2160": (3840, 2160),
    "1080x2400": (1080, 2400),
}
INSTRUCTION = "the Save button"


def screenshot(size: tuple[int, int], seed: int = 0) -> Any:
    """A screen-like RGB image: a gradient, a noisy band, panels with text."""
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = size
    rng = np.random.default_rng(seed)
    base = np.empty((h, w, 3), np.uint8)
    base[:] = np.linspace(30, 230, w, dtype=np.uint8)[None, :, None]
    band = h // 6
    base[band : 2 * band] = rng.integers(0, 256, (band, w, 3), dtype=np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    for y in range(2 * band + 10, h - 40, 60):
        for x in range(10, w - 160, 170):
            draw.rectangle((x, y, x + 150, y + 40), fill=(250, 250, 250), outline=(0, 0, 0))
            draw.text((x + 8, y + 12), "Save file", fill=(0, 0, 0))
    return image


def timed(fn: Any, runs: int) -> tuple[float, Any]:
    """(median milliseconds over `runs` calls after one warm-up, the last result).

    The median CPU milliseconds of the same calls (all threads of this process) go to
    `CPU_MS[-1]`: on a machine shared with other work, CPU time moves less than wall time.
    """
    result = fn()
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    CPU_MS.append(statistics.median(cpu))
    return statistics.median(times), result


CPU_MS: list[float] = []


def baseline_processor(
    checkpoint: Path, max_pixels: int | None, architecture: Any, backend: str = "auto"
) -> Any:
    """The processor as the cookbooks get it: the library's image processor (torchvision
    backend when it imports, else PIL) with the checkpoint's preprocessor settings.

    `AutoProcessor.from_pretrained` needs torchvision (the video part); the
    image-only processor has the same image processor and tokenizer.
    """
    from transformers import AutoTokenizer

    from agent.models.qwen_processor import build_processor, torchvision_available

    if backend == "torchvision" or (backend == "auto" and torchvision_available()):
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import (
            Qwen2VLImageProcessor as Stock,
        )
    else:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil as Stock,
        )
    extra = {} if max_pixels is None else {"max_pixels": max_pixels}
    image_processor = Stock.from_pretrained(checkpoint, **extra)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    return build_processor(image_processor, tokenizer, architecture=architecture)


def baseline_call(processor: Any, image: Any, model_size: tuple[int, int], profile: Any) -> Any:
    """The cookbook call: full-size image, the processor's own resize."""
    from agent.models import prompts
    from agent.models.base import ModelRequest

    request = ModelRequest(kind="ground", image=image, instruction=INSTRUCTION)
    messages, prefill = prompts.request_messages(request, model_size, prefill=True, profile=profile)
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return processor(text=[text + prefill], images=[image], padding=True, return_tensors="pt")


def tokens_of(inputs: Any) -> int:
    return int(inputs["image_grid_thw"][0].prod()) // 4


def compare(a: Any, b: Any) -> dict[str, Any]:
    """How close two processor outputs are (pixel_values in normalised units)."""
    import torch

    pa, pb = a["pixel_values"], b["pixel_values"]
    out: dict[str, Any] = {
        "same_tokens": tokens_of(a) == tokens_of(b),
        "same_input_ids": torch.equal(a["input_ids"], b["input_ids"]),
        "same_shape": tuple(pa.shape) == tuple(pb.shape),
    }
    if out["same_shape"]:
        diff = (pa - pb).abs()
        out["pixel_values_equal"] = bool(torch.equal(pa, pb))
        out["pixel_values_max_abs_diff"] = round(float(diff.max()), 4)
        out["pixel_values_mean_abs_diff"] = round(float(diff.mean()), 5)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed calls per figure (>= 10)")
    parser.add_argument("--screens", nargs="*", default=list(SCREENS), choices=list(SCREENS))
    parser.add_argument("--arch", default="qwen2_5_vl", choices=["qwen2_5_vl", "qwen3_vl"])
    parser.add_argument("--image-backend", default="auto", choices=["auto", "pil", "torchvision"])
    args = parser.parse_args()

    import torch
    import transformers

    from agent.models.base import ModelRequest
    from agent.models.checkpoint import locate
    from agent.models.load import load_model
    from agent.models.qwen_processor import preprocess
    from agent.models.resize import resize_bicubic
    from agent.models.spec import ModelSpec
    from tests.fixtures.tiny_qwen3_build import tiny_qwen3_checkpoint
    from tests.fixtures.tiny_qwen_build import tiny_checkpoint

    start_load = os.getloadavg()[0]
    checkpoint = tiny_qwen3_checkpoint() if args.arch == "qwen3_vl" else tiny_checkpoint()
    architecture = locate(str(checkpoint)).architecture
    backend = args.image_backend
    agent_model = load_model(
        ModelSpec(model=str(checkpoint), max_new_tokens=1, image_backend=backend)
    )
    profile = agent_model.profile
    # "model": the checkpoint's own limits (its preprocessor_config), as a cookbook runs it.
    model_min, model_max = profile.pixel_limits("benchmark")
    ours = {
        "agent": agent_model,
        "model": load_model(
            ModelSpec(
                model=str(checkpoint),
                max_pixels=model_max,
                max_new_tokens=1,
                image_backend=backend,
            )
        ),
    }
    agent_max = agent_model.max_pixels
    baselines = {
        "model": baseline_processor(checkpoint, None, architecture, backend),
        "agent": baseline_processor(checkpoint, agent_max, architecture, backend),
    }
    assert baselines["model"].image_processor.size["longest_edge"] == model_max
    assert baselines["model"].image_processor.size["shortest_edge"] == model_min

    screens: dict[str, Any] = {}
    for name in args.screens:
        image = screenshot(SCREENS[name])
        row: dict[str, Any] = {}
        for limits, model in ours.items():
            request = ModelRequest(kind="ground", image=image, instruction=INSTRUCTION)
            ms, batch = timed(lambda m=model, r=request: m.prepare([r]), args.runs)
            frame = batch.frames[0]
            row[f"ours_{limits}"] = {
                "ms": round(ms, 1),
                "cpu_ms": round(CPU_MS[-1], 1),
                "visual_tokens": batch.visual_tokens[0],
                "model_size": list(frame.model_size),
            }
            processor = baselines[limits]
            ms, theirs = timed(
                lambda p=processor, i=image, s=frame.model_size: baseline_call(p, i, s, profile),
                args.runs,
            )
            row[f"baseline_{limits}"] = {
                "ms": round(ms, 1),
                "cpu_ms": round(CPU_MS[-1], 1),
                "visual_tokens": tokens_of(theirs),
                "model_size": list(frame.model_size),
            }
            check = compare(batch.inputs, theirs)
            # Our pipeline with PIL's resize instead of torch's: only the filter differs.
            pil_resized = resize_bicubic(image, frame.model_size, backend="pil")
            ours_pil = preprocess(model.processor, batch.texts, [pil_resized])
            check["pil_resize_pixel_values_equal"] = bool(
                torch.equal(ours_pil["pixel_values"], theirs["pixel_values"])
            )
            row[f"check_{limits}"] = check
        row["speedup_model_max_pixels"] = round(
            row["baseline_model"]["ms"] / row["ours_model"]["ms"], 2
        )
        row["speedup_equal_max_pixels_agent"] = round(
            row["baseline_agent"]["ms"] / row["ours_agent"]["ms"], 2
        )
        row["cpu_speedup_equal_max_pixels"] = {
            limits: round(row[f"baseline_{limits}"]["cpu_ms"] / row[f"ours_{limits}"]["cpu_ms"], 2)
            for limits in ("agent", "model")
        }
        row["speedup_default_vs_baseline"] = round(
            row["baseline_model"]["ms"] / row["ours_agent"]["ms"], 2
        )
        screens[name] = row

    ok = all(
        row[f"check_{k}"]["same_tokens"] and row[f"check_{k}"]["same_input_ids"]
        for row in screens.values()
        for k in ("agent", "model")
    )
    result = {
        "bench": "preprocess",
        "runs": args.runs,
        "architecture": args.arch,
        "profile": profile.name,
        "max_pixels": {"agent": agent_max, "model": model_max},
        "image_backend": backend,
        "image_processor_ours": type(ours["agent"].processor.image_processor).__name__,
        "image_processor_baseline": type(baselines["model"].image_processor).__name__,
        "checkpoint": f"tiny-random {args.arch} (processor only; real preprocessor_config)",
        "screens": screens,
        "same_tokens_and_ids_everywhere": ok,
        "target_1080p_ours_default_ms": 100,
        "target_met": screens.get("1920x1080", {}).get("ours_agent", {}).get("ms", 1e9) <= 100,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        **machine(),
        "load_avg_1m_at_start": round(start_load, 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
