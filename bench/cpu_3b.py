"""One grounding call of a real-size Qwen2.5-VL-3B on CPU: our defaults vs transformers' defaults.

    .venv/bin/python bench/cpu_3b.py [--size 3b|qwen3-2b|qwen3-4b|qwen3-8b] [--checkpoint DIR]
                                     [--keep] [--new-tokens 12] [--fp32-new-tokens 4]
                                     [--skip fp32] [--wait-quiet 1800]

--size qwen3-2b (or -4b, -8b) runs the same comparison for a Qwen3-VL architecture: our
defaults then come from the qwen3-vl profile (32-px tokens, 1280 of them at most, no
prefill) and the baseline is the cookbook's Qwen3-VL code path (the checkpoint's
max_pixels 16777216).

Takes minutes and ~15 GB of memory at its peak (the float32 baseline): run it by hand
on a quiet machine, never in CI. The 3B is built from its published config with random
weights (bench/qwen_sizes.py) and written once to a hub-layout folder (7.1 GB; a temp
folder deleted afterwards unless --keep, or reuse one with --checkpoint). A 1920x1080
screenshot (PNG) is grounded once by each configuration, each in its own process so
that peak RSS figures are separate (os.wait4 per child, and the child's own VmHWM):

* ours: `load_model(ModelSpec(model=DIR))` + `agent.grounding.ground`, every setting at
  our default (dtype auto -> bfloat16 on a CPU with AVX512-BF16/AMX, SDPA attention,
  max_pixels 1280*28*28, the prefilled click call, greedy, stop at </tool_call>), with an
  empty on-disk system-turn cache (a cold call), then a second screenshot in the same
  process (an agent's next step), then one call in a new process (the next CLI call,
  which reads the system turn's cache from disk).
* transformers: the cookbook code with transformers' defaults:
  `Qwen2_5_VLForConditionalGeneration.from_pretrained(DIR)` (dtype "auto" in
  transformers 5: the checkpoint's bfloat16) and the processor with the checkpoint's
  preprocessor settings (max_pixels 12845056), the full-size image handed to it.
* fp32: the same with `dtype=torch.float32` (transformers 4's default), limited to
  --fp32-new-tokens generated tokens.
* transformers_equal_warm (the fair row): the cookbook code at our max_pixels (same
  visual tokens as ours), timed on its second call (after a warm-up call on the first
  screenshot), against ours' second call on the same second screenshot and instruction.

Each child first reads every weight once (safetensors are memory-mapped: the first
forward would otherwise pay for the page faults), then times the call: to the first
token = from the start of the call (image file, preprocessing, vision tower, system turn,
prefill) to the end of the first forward of `generate`; per token = median interval
between later forwards. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import GenerateClock, machine, memory  # noqa: E402

INSTRUCTION = "the Save button"
SCREEN = (1920, 1080)


def touch_weights(model: Any) -> float:
    """Read every parameter once (fault the memory-mapped weights in); seconds taken."""
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        for param in model.parameters():
            param.view(-1)[:: max(1, 4096 // param.element_size())].sum()
    return time.perf_counter() - started


def child_ours(checkpoint: Path, image: Path, new_tokens: int, *, again: bool) -> dict[str, Any]:
    from agent.grounding import ground
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    started = time.perf_counter()
    model = load_model(ModelSpec(model=str(checkpoint), max_new_tokens=new_tokens, weights="eager"))
    load_s = time.perf_counter() - started
    touch_s = touch_weights(model.model)
    after_load = memory()
    clock = GenerateClock(model.model)
    result = ground(model, image, INSTRUCTION)
    call_s = time.perf_counter() - clock.call_start
    first = clock.figures()
    second = None
    if again:  # an agent's next step: another screenshot of the same screen
        from bench.preprocess import screenshot

        clock.begin()
        ground(model, screenshot(SCREEN, seed=1), "the Open menu")
        second = {"call_s": round(time.perf_counter() - clock.call_start, 2), **clock.figures()}
    return {
        "config": "ours",
        "dtype": str(model.dtype).removeprefix("torch."),
        "profile": model.profile.name,
        "attention": model.attn,
        "max_pixels": model.max_pixels,
        "visual_tokens": result.visual_tokens,
        "model_size": list(result.model_size),
        "load_s": round(load_s, 1),
        "touch_weights_s": round(touch_s, 1),
        "call_s": round(call_s, 2),
        "preprocess_s": round(result.seconds.get("preprocess", 0.0), 3),
        **first,
        "system_turn_from_disk": model.prefix_cache.disk_hits > 0,
        "second_call": second,
        "memory_after_load_gib": after_load,
        "memory_end_gib": memory(),
    }


def child_transformers(
    checkpoint: Path,
    image_path: Path,
    new_tokens: int,
    dtype_name: str | None,
    *,
    max_pixels: int | None = None,
    warm: bool = False,
) -> dict[str, Any]:
    """The cookbook's code path, every setting left at transformers' default but `dtype`
    (and `max_pixels`); with `warm`, a first call on `image_path` is not timed and the
    timed call is on the next step's screenshot, as ours' second call."""
    import torch
    from PIL import Image
    from transformers import AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
        smart_resize,
    )

    from agent.models import prompts
    from agent.models.base import ModelRequest
    from agent.models.checkpoint import locate
    from agent.models.detect import resolve_profile
    from agent.models.qwen_processor import build_processor

    started = time.perf_counter()
    found = locate(str(checkpoint))
    profile = resolve_profile(str(checkpoint), model_type=found.model_type).profile
    kwargs = {} if dtype_name is None else {"dtype": getattr(torch, dtype_name)}
    model = found.model_class().from_pretrained(checkpoint, **kwargs)
    # AutoProcessor needs torchvision (its video part); same image processor and tokenizer.
    extra = {} if max_pixels is None else {"max_pixels": max_pixels}
    processor = build_processor(
        Qwen2VLImageProcessorPil.from_pretrained(checkpoint, **extra),
        AutoTokenizer.from_pretrained(checkpoint),
        architecture=found.architecture,
    )
    load_s = time.perf_counter() - started
    touch_s = touch_weights(model)
    after_load = memory()
    clock = GenerateClock(model)
    instruction = INSTRUCTION
    warm_up_s = None
    for call in range(2 if warm else 1):
        if call == 1:  # the next step: another screenshot of the same screen
            from bench.preprocess import screenshot

            warm_up_s = round(time.perf_counter() - clock.call_start, 2)
            screenshot(SCREEN, seed=1).save(image_path.with_name("next.png"))
            image_path, instruction = image_path.with_name("next.png"), "the Open menu"
            clock.begin()
        started = clock.call_start
        image = Image.open(image_path).convert("RGB")
        size = processor.image_processor.size
        h, w = smart_resize(
            image.height, image.width, profile.factor, size["shortest_edge"], size["longest_edge"]
        )
        request = ModelRequest(kind="ground", image=image, instruction=instruction)
        messages, prefill = prompts.request_messages(request, (w, h), prefill=True, profile=profile)
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = processor(
            text=[text + prefill],
            images=[image],
            padding=True,
            return_tensors="pt",
        )
        preprocess_s = time.perf_counter() - started
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=new_tokens)
        call_s = time.perf_counter() - started
    return {
        "config": "transformers" if dtype_name is None else dtype_name,
        "warm_up_call_s": warm_up_s,
        "dtype": str(model.dtype).removeprefix("torch."),
        "attention": model.config._attn_implementation,
        "max_pixels": size["longest_edge"],
        "visual_tokens": int(inputs["image_grid_thw"][0].prod()) // 4,
        "profile": profile.name,
        "model_size": [w, h],
        "new_tokens": int(output.shape[1] - inputs["input_ids"].shape[1]),
        "load_s": round(load_s, 1),
        "touch_weights_s": round(touch_s, 1),
        "call_s": round(call_s, 2),
        "preprocess_s": round(preprocess_s, 3),
        **clock.figures(),
        "memory_after_load_gib": after_load,
        "memory_end_gib": memory(),
    }


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child; its JSON line plus its own peak RSS from wait4."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed with exit code {process.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_gib"] = round(usage.ru_maxrss / 2**20, 2)  # ru_maxrss is in KiB
    return result


def wait_for_quiet(limit_s: float, threshold: float = 1.5) -> dict[str, Any]:
    """Wait (up to `limit_s`) until the 1-minute load average is below `threshold`."""
    started = time.monotonic()
    while os.getloadavg()[0] > threshold and time.monotonic() - started < limit_s:
        time.sleep(30)
    return {
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "waited_for_quiet_s": round(time.monotonic() - started),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", default="3b", choices=["3b", "7b", "qwen3-2b", "qwen3-4b", "qwen3-8b"]
    )
    parser.add_argument("--checkpoint", type=Path, help="a random folder from an earlier run")
    parser.add_argument("--keep", action="store_true", help="keep the built checkpoint")
    parser.add_argument("--new-tokens", type=int, default=12, help="a click answer's length")
    parser.add_argument("--fp32-new-tokens", type=int, default=4)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["ours_new_process", "transformers", "fp32", "transformers_equal_warm"],
    )
    parser.add_argument("--wait-quiet", type=float, default=1800, help="seconds, at most")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CHECKPOINT", "IMAGE"))
    args = parser.parse_args()

    if args.child:
        kind, checkpoint, image = args.child[0], Path(args.child[1]), Path(args.child[2])
        if kind == "build":
            from bench.qwen_sizes import build_checkpoint

            result = build_checkpoint(args.size, checkpoint)
        elif kind in ("ours", "ours_new_process"):
            result = child_ours(checkpoint, image, args.new_tokens, again=kind == "ours")
            result["config"] = kind
        elif kind == "transformers":
            result = child_transformers(checkpoint, image, args.new_tokens, None)
        elif kind == "transformers_equal_warm":
            from agent.models.checkpoint import locate
            from agent.models.detect import resolve_profile

            # Our default frame for this checkpoint's profile: the same visual tokens as ours.
            found = locate(str(checkpoint))
            profile = resolve_profile(str(checkpoint), model_type=found.model_type).profile
            _, agent_max = profile.pixel_limits("agent")
            result = child_transformers(
                checkpoint, image, args.new_tokens, None, max_pixels=agent_max, warm=True
            )
            result["config"] = kind
        else:
            result = child_transformers(checkpoint, image, args.fp32_new_tokens, "float32")
        print(json.dumps(result))
        return 0

    from bench.preprocess import screenshot

    work = Path(tempfile.mkdtemp(prefix="cpu-3b-"))
    try:
        image = work / "screen.png"
        screenshot(SCREEN).save(image)
        checkpoint = args.checkpoint or work / f"{args.size}-random"
        build = None
        if not (checkpoint / "config.json").is_file():
            sized = ["--size", args.size]
            build = run_child(["--child", "build", str(checkpoint), str(image), *sized])
        quiet = wait_for_quiet(args.wait_quiet)
        tokens = ["--new-tokens", str(args.new_tokens)]
        tokens += ["--fp32-new-tokens", str(args.fp32_new_tokens)]
        # Our on-disk system-turn cache starts empty: the first call is a cold one.
        os.environ["SCREENPILOT_PREFIX_CACHE"] = str(work / "prefix-kv")
        runs = {}
        for kind in ("ours", "ours_new_process", "transformers", "fp32", "transformers_equal_warm"):
            if kind not in args.skip:
                runs[kind] = run_child(["--child", kind, str(checkpoint), str(image), *tokens])
    finally:
        if not args.keep and args.checkpoint is None:
            shutil.rmtree(work, ignore_errors=True)
    ours = runs["ours"]
    n = args.new_tokens
    for run in runs.values():  # the same answer length for every configuration
        first_token, per_token = run["to_first_token_s"], run["per_token_s"]
        run[f"call_s_at_{n}_tokens"] = round(first_token + (n - 1) * per_token, 2)
    ours_calls = {"call": ours[f"call_s_at_{n}_tokens"]}
    if ours.get("second_call"):
        second = ours["second_call"]
        ours_calls["call_next_step"] = second["to_first_token_s"] + (n - 1) * second["per_token_s"]
    if "ours_new_process" in runs:
        ours_calls["call_new_process"] = runs["ours_new_process"][f"call_s_at_{n}_tokens"]
    speedups = {}
    if "transformers_equal_warm" in runs and ours.get("second_call"):
        fair, second = runs["transformers_equal_warm"], ours["second_call"]
        speedups["transformers_equal_warm (vs ours' next step)"] = {
            "visual_tokens": [fair["visual_tokens"], ours["visual_tokens"]],
            "to_first_token": round(fair["to_first_token_s"] / second["to_first_token_s"], 2),
            "per_token": round(fair["per_token_s"] / second["per_token_s"], 2),
            "call": round(fair[f"call_s_at_{n}_tokens"] / ours_calls["call_next_step"], 2),
        }
    for kind in ("transformers", "fp32"):
        if kind in runs:
            run = runs[kind]
            speedups[kind] = {
                "to_first_token": round(run["to_first_token_s"] / ours["to_first_token_s"], 2),
                "per_token": round(run["per_token_s"] / ours["per_token_s"], 2),
                **{
                    name: round(run[f"call_s_at_{n}_tokens"] / seconds, 2)
                    for name, seconds in ours_calls.items()
                },
            }
    print(
        json.dumps(
            {
                "bench": "cpu_3b",
                "model": f"{args.size} architecture, random weights (bench/qwen_sizes.py)",
                "screen": f"{SCREEN[0]}x{SCREEN[1]}",
                "runs": runs,
                "speedup_vs": speedups,
                "targets": {"speedup": 4, "peak_rss_gib": 8},
                "ours_peak_rss_ok": ours["peak_rss_gib"] <= 8,
                "build": build,
                "checkpoint_kept": str(checkpoint) if args.keep or args.checkpoint else None,
                **quiet,
                "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
                **machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
