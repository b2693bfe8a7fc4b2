"""ScreenSpot throughput: screenpilot's harness vs a one-at-a-time loop like the official one.

    .venv/bin/python bench/eval_throughput.py [--data DIR] [--batch-size 8] [--limit 64]

Both sides run the same tiny Qwen2.5-VL checkpoint (the real architecture, built by
tests/fixtures/tiny_qwen_build.py; `--random` for the untrained one, default the
one trained to answer a fixed click) on a ScreenSpot-Pro-format dataset made by
`agent dataset make` (at least 64 samples). The official-style loop does what
ScreenSpot-Pro's eval_screenspot_pro.py does per sample, strictly in sequence:
open the PNG, smart_resize, build the prompt, run the processor, generate with
batch size 1, parse the tool call, map to pixels. The harness is `ScreenSpotRun`
(prefetch thread + batched generation + journal writes). Model loading is not
timed; each side first answers one warm-up sample. Prints one JSON line:
samples/s for each, the ratio, and whether the predicted points are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_data(folder: Path, per_size_scenes: int) -> Path:
    from tasks.datasets.make import MakeConfig, make_dataset

    cfg = MakeConfig(out=folder, sizes=[(1280, 800), (1920, 1080)], scenes=per_size_scenes,
                     per_scene=8, seed=11)  # fmt: skip
    make_dataset(cfg)
    return folder


def official_style(
    checkpoint: Path, samples: list, max_pixels: int, max_new_tokens: int
) -> tuple[list, float]:
    """One sample at a time, as the official harness does; returns (points, seconds)."""
    import torch
    from PIL import Image
    from transformers import Qwen2_5_VLForConditionalGeneration

    from actions.frames import smart_resize
    from agent.models import prompts
    from agent.models.qwen_processor import load_processor

    processor = load_processor(checkpoint, min_pixels=3136, max_pixels=max_pixels)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        checkpoint, dtype=torch.bfloat16
    ).eval()
    tokenizer = processor.tokenizer
    stop = [
        tokenizer.convert_tokens_to_ids("<|im_end|>"),
        tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    ]

    def one(sample) -> list[float] | None:
        image = Image.open(sample.image_path).convert("RGB")
        rw, rh = smart_resize(image.width, image.height, min_pixels=3136, max_pixels=max_pixels)
        resized = image.resize((rw, rh), Image.Resampling.BICUBIC)
        text = (
            processor.apply_chat_template(
                prompts.ground_messages((rw, rh), sample.instruction),
                tokenize=False,
                add_generation_prompt=True,
            )
            + prompts.ground_prefill()
        )
        inputs = processor(text=[text], images=[resized], padding=True, return_tensors="pt",
                           images_kwargs={"do_resize": False})  # fmt: skip
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stop,
                pad_token_id=tokenizer.pad_token_id,
            )
        reply = prompts.ground_prefill() + tokenizer.decode(out[0, inputs["input_ids"].shape[1] :],
                                                           skip_special_tokens=True)  # fmt: skip
        try:  # the official parse: the JSON between the tool-call tags, coordinate [x, y]
            action = json.loads(reply.split("<tool_call>\n")[1].split("\n</tool_call>")[0])
            x, y = action["arguments"]["coordinate"][:2]
        except (IndexError, KeyError, TypeError, ValueError):
            return None
        point = [x / rw, y / rh]  # normalised, as the official harness keeps it
        return [point[0] * image.width, point[1] * image.height]

    one(samples[0])  # warm-up
    started = time.perf_counter()
    points = [one(s) for s in samples]
    return points, time.perf_counter() - started


def harness(
    checkpoint: Path, dataset, out: Path, batch: int, max_pixels: int, max_new_tokens: int
) -> tuple[list, float]:
    from agent.eval.runner import RunSettings, ScreenSpotRun
    from agent.grounding import ground
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    spec = ModelSpec(model=str(checkpoint), max_pixels=max_pixels, batch_size=batch,
                     max_new_tokens=max_new_tokens, dtype="bfloat16")  # fmt: skip
    model = load_model(spec)
    ground(model, dataset.samples[0].image_path, dataset.samples[0].instruction)  # warm-up
    run = ScreenSpotRun(dataset, RunSettings(spec=spec), out)
    started = time.perf_counter()
    report, _ = run.run(model, restart=True, batch_size=batch)
    return [row["pred"] for row in report["details"]], time.perf_counter() - started


def _same(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= 1e-6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, help="a ScreenSpot-Pro-format folder (default: make one)"
    )
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-pixels", type=int, default=16384 * 28 * 28)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--random", action="store_true", help="the untrained tiny model")
    args = parser.parse_args()

    from tasks.screenspot import Filters, load_dataset
    from tests.fixtures.tiny_qwen_build import tiny_checkpoint, trained_checkpoint

    work = Path(tempfile.mkdtemp(prefix="eval-throughput-"))
    data = args.data or make_data(work / "data", per_size_scenes=max(4, -(-args.limit // 16)))
    dataset = load_dataset(data, filters=Filters(limit=args.limit))
    checkpoint = tiny_checkpoint() if args.random else trained_checkpoint()
    runs = {}
    for batch in sorted({1, args.batch_size}):
        runs[batch] = harness(checkpoint, dataset, work / f"r{batch}.json", batch, args.max_pixels,
                              args.max_new_tokens)  # fmt: skip
    theirs, theirs_s = official_style(
        checkpoint, dataset.samples, args.max_pixels, args.max_new_tokens
    )
    best = min(runs, key=lambda b: runs[b][1])
    mismatches = {b: sum(not _same(a, t) for a, t in zip(pts, theirs, strict=True))
                  for b, (pts, _) in runs.items()}  # fmt: skip
    n = len(dataset.samples)
    result = {
        "bench": "eval_throughput",
        "checkpoint": "tiny-random" if args.random else "tiny-trained",
        "samples": n,
        "sizes": sorted({f"{s.img_size[0]}x{s.img_size[1]}" for s in dataset.samples}),
        "max_pixels": args.max_pixels,
        "official_style_samples_per_s": round(n / theirs_s, 3),
        **{f"harness_batch{b}_samples_per_s": round(n / t, 3) for b, (_, t) in runs.items()},
        "best_batch": best,
        "ratio": round(theirs_s / runs[best][1], 2),
        "identical_predictions": not any(mismatches.values()),
        "mismatches": mismatches,
        "parsed_points": sum(p is not None for p in runs[best][0]),
        "device": "cpu",
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
