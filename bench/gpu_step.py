"""One grounding call on a GPU: Qwen2.5-VL-3B/7B at 1920x1080, by attention and cache, and batched.

    .venv/bin/python bench/gpu_step.py [--sizes 3b 7b qwen3-2b qwen3-4b qwen3-8b] [--model PATH]
                                       [--tiny] [--arch qwen3_vl] [--runs 5] [--batch 8]
                                       [--modes ...] [--new-tokens 12]

Sizes qwen3-2b/4b/8b (and --tiny with --arch qwen3_vl) are the Qwen3-VL architectures:
our path then follows the qwen3-vl profile (32-px tokens, no prefill), the cookbook the
checkpoint's own limits (16777216 px: 2040 visual tokens at 1080p).

For an H100/H200. Without --model the models are the published 3B/7B architectures
(bench/qwen_sizes.py) with random weights built straight on the GPU in bfloat16, no
download; --model PATH loads a real checkpoint through our backend instead. Without
CUDA (or with --tiny) it runs the tiny test architecture on CPU, to prove the script.
The processor (Qwen's real tokenizer, the real preprocessor settings) comes from the
tiny test checkpoint (tests/fixtures/tiny_qwen_build.py) unless --model is given.

Every mode grounds the same 1920x1080 screenshot through `QwenModel` (our prompt, the
prefilled click call, greedy, --new-tokens generated) and reports medians over --runs
calls after warm-up: the whole call, time to the first token (preprocessing, vision tower,
prefill), the vision tower alone, and per generated token (also as tokens/s). Before
them: the cold load (random weights built on the device, or --model read from disk) and
the first call after it; after them, the peak memory (GPU allocator, or peak RSS on CPU).
On CPU in one go (`--tiny --runs 1 --batch 2`) it is tested by tests/test_bench_gpu_step.py,
so that it runs unchanged when a GPU machine is lent:

* cookbook: the baseline, in the same process on the same weights: transformers'
  defaults (SDPA) with the processor resizing the full-size image itself at the
  checkpoint's max_pixels (12845056: 2691 visual tokens) and `generate` on its output.
* eager / sdpa / flash_attention_2 (when installed): our path with that attention;
  sdpa_no_prefix_cache: without reusing the system turn's cache.
* static_compiled: our path with a static KV cache, which makes `generate` compile the
  decoding step with torch.compile (the first calls compile; they are warm-up).
* ours: our defaults exactly (`pick_attention("auto")`, prefix cache on).

Then batched throughput: --batch different screenshots per `answer` call (our default
attention), samples/s, against the cookbook's batched `generate`. Prints one JSON line.
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

from bench.timing import GenerateClock, machine  # noqa: E402

SCREEN = (1920, 1080)
INSTRUCTIONS = ["the Save button", "the search field", "Open the File menu", "the close icon"]
MODES = ("cookbook", "eager", "sdpa", "sdpa_no_prefix_cache", "flash_attention_2",
         "static_compiled", "ours")  # fmt: skip


def build(size: str, args: argparse.Namespace, device: str) -> tuple[Any, str]:
    """(a QwenModel for `size`, a description of its weights)."""
    import torch

    from agent.models.load import load_model
    from agent.models.qwen import QwenModel
    from agent.models.qwen_processor import load_processor
    from agent.models.spec import ModelSpec
    from bench.qwen_sizes import build_model, model_type

    spec_args = {"max_new_tokens": args.new_tokens, "batch_size": args.batch}
    if args.max_pixels:
        spec_args["max_pixels"] = args.max_pixels
    if args.model:
        spec = ModelSpec(model=str(args.model), device=device, weights="eager", **spec_args)
        model = load_model(spec)
        return model, f"real: {args.model}"
    checkpoint = tiny_folder(size, args.arch)
    config = json.loads((checkpoint / "config.json").read_text()) if size == "tiny" else size
    dtype = torch.bfloat16
    started = time.perf_counter()
    raw = build_model(config, dtype, device)
    built = time.perf_counter() - started
    raw.set_attn_implementation("sdpa" if device == "cpu" else _auto_attention(device, dtype))
    # The processor (real tokenizer and preprocessor settings) of the same architecture.
    processor = load_processor(checkpoint, min_pixels=3136, max_pixels=16384 * 28 * 28)
    assert model_type(config) == raw.config.model_type
    spec = ModelSpec(model=f"random-{size}", device=device, **spec_args)
    return QwenModel.from_loaded(spec, raw, processor), f"random (built in {built:.1f} s)"


def tiny_folder(size: str, arch: str) -> Path:
    """The tiny test checkpoint of `size`'s architecture (its processor files are the real ones)."""
    from bench.qwen_sizes import model_type
    from tests.fixtures.tiny_qwen3_build import tiny_qwen3_checkpoint
    from tests.fixtures.tiny_qwen_build import tiny_checkpoint

    qwen3 = size.startswith("qwen3") or (size == "tiny" and arch == "qwen3_vl")
    folder = tiny_qwen3_checkpoint() if qwen3 else tiny_checkpoint()
    assert (
        size == "tiny"
        or model_type(size) == json.loads((folder / "config.json").read_text())["model_type"]
    )
    return folder


def _auto_attention(device: str, dtype: Any) -> str:
    from agent.models.qwen import pick_attention

    return pick_attention("auto", device, dtype)


def screenshots(n: int) -> list[Any]:
    from bench.preprocess import screenshot

    return [screenshot(SCREEN, seed=i) for i in range(n)]


def time_calls(qwen: Any, clock: GenerateClock, call: Any, runs: int, warmup: int) -> dict:
    """Medians over `runs` calls of `call(i)` after `warmup` calls."""
    for i in range(warmup):
        call(i)
    rows = []
    for i in range(runs):
        clock.begin()
        call(warmup + i)
        figures = clock.figures()
        figures["call_s"] = time.perf_counter() - clock.call_start
        rows.append(figures)
    out: dict[str, Any] = {}
    for key in ("call_s", "to_first_token_s", "vision_s", "system_turn_s", "per_token_s"):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            out[key.replace("_s", "_ms")] = round(statistics.median(values) * 1000, 1)
    out["forwards"] = rows[-1].get("forwards")
    return out


def ours_call(qwen: Any, images: list[Any]) -> Any:
    from agent.grounding import ground

    def call(i: int) -> Any:
        return ground(qwen, images[i % len(images)], INSTRUCTIONS[i % len(INSTRUCTIONS)])

    return call


def cookbook_processor(qwen: Any, checkpoint: Path) -> Any:
    """The stock image processor at the checkpoint's settings, beside our tokenizer."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from agent.models.checkpoint import ARCHITECTURES
    from agent.models.qwen_processor import build_processor

    image_processor = Qwen2VLImageProcessorPil.from_pretrained(checkpoint)
    arch = ARCHITECTURES[qwen.model.config.model_type]
    return build_processor(image_processor, qwen.processor.tokenizer, architecture=arch)


def cookbook_call(qwen: Any, processor: Any, images: list[Any], batch: int = 1) -> Any:
    """The cookbook's per-call code: full-size images, the processor's resize, generate."""
    import torch
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    from agent.models import prompts
    from agent.models.base import ModelRequest

    limits = processor.image_processor.size
    factor = qwen.profile.factor

    def call(i: int) -> Any:
        chosen = [images[(i + j) % len(images)] for j in range(batch)]
        texts = []
        for j, image in enumerate(chosen):
            h, w = smart_resize(
                image.height, image.width, factor, limits["shortest_edge"], limits["longest_edge"]
            )
            instruction = INSTRUCTIONS[(i + j) % len(INSTRUCTIONS)]
            request = ModelRequest(kind="ground", image=image, instruction=instruction)
            messages, prefill = prompts.request_messages(
                request, (w, h), prefill=True, profile=qwen.profile
            )
            text = processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            texts.append(text + prefill)
        inputs = processor(text=texts, images=chosen, padding=True, return_tensors="pt")
        inputs = inputs.to(qwen.device)
        with torch.inference_mode():
            return qwen.model.generate(
                **inputs,
                max_new_tokens=qwen.generation_config.max_new_tokens,
                min_new_tokens=qwen.generation_config.max_new_tokens,
                do_sample=False,
            )

    return call


def run_size(size: str, args: argparse.Namespace, device: str) -> dict[str, Any]:
    import importlib.util

    import torch
    from transformers import CompileConfig

    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    qwen, weights = build(size, args, device)
    if sync is not None:
        sync()
    load_s = time.perf_counter() - started
    clock = GenerateClock(qwen.model, sync=sync)
    # Random weights rarely write a stop token: every call generates --new-tokens tokens,
    # about the length of a real click answer ("1294, 811]}}\n</tool_call>" is 12).
    qwen.generation_config.min_new_tokens = args.new_tokens
    images = screenshots(max(args.batch, 4))
    default_attn = qwen.attn
    result: dict[str, Any] = {
        "weights": weights,
        "cold_load_s": round(load_s, 2),
        "default_attention": default_attn,
    }
    first = qwen.prepare([_request(images[0])])
    result["visual_tokens"] = first.visual_tokens[0]
    result["prompt_tokens"] = int(first.inputs["input_ids"].shape[1])
    # The first grounding call after the load (kernels, allocator, the system turn's cache
    # all cold), as a user's first step meets it; the modes below report warm medians.
    started = time.perf_counter()
    ours_call(qwen, images)(0)
    if sync is not None:
        sync()
    result["first_call_ms"] = round((time.perf_counter() - started) * 1000, 1)
    for mode in args.modes:
        if mode == "flash_attention_2" and (
            not device.startswith("cuda") or importlib.util.find_spec("flash_attn") is None
        ):
            result[mode] = {"skipped": "needs flash-attn on a CUDA GPU"}
            continue
        try:
            attn = {"eager": "eager", "flash_attention_2": "flash_attention_2"}.get(
                mode, default_attn if mode in ("ours", "cookbook") else "sdpa"
            )
            if mode == "cookbook":
                attn = "sdpa"  # transformers' default
            qwen.model.set_attn_implementation(attn)
            qwen.prefix_cache.size = 0 if mode in ("sdpa_no_prefix_cache", "cookbook") else 4
            qwen.prefix_cache.clear()
            warmup = 1
            if mode == "static_compiled":
                qwen.generation_config.cache_implementation = "static"
                compile_config = CompileConfig(fullgraph=False)
                compile_config._compile_all_devices = device == "cpu"
                qwen.generation_config.compile_config = compile_config
                warmup = 3
            if mode == "cookbook":
                stock = cookbook_processor(qwen, tiny_folder(size, args.arch))
                call = cookbook_call(qwen, stock, images)
            else:
                call = ours_call(qwen, images)
            started = time.perf_counter()
            result[mode] = time_calls(qwen, clock, call, args.runs, warmup)
            result[mode]["attention"] = attn
            if mode == "static_compiled":
                result[mode]["warmup_s"] = round(time.perf_counter() - started, 1)
        except Exception as exc:  # report and go on with the other modes
            result[mode] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
        finally:
            qwen.generation_config.cache_implementation = None
            qwen.generation_config.compile_config = None
            qwen.prefix_cache.size = 4
    qwen.model.set_attn_implementation(default_attn)
    if args.batch > 1:
        result["batched"] = batched(qwen, images, args, size)
    if "ours" in result and result["ours"].get("per_token_ms"):
        result["ours"]["tokens_per_s"] = round(1000 / result["ours"]["per_token_ms"], 1)
    result["peak_memory_gib"] = peak_memory_gib(device)
    if "ours" in result and "call_ms" in result["ours"]:
        result["target_call_ms"] = 250
        result["target_met"] = result["ours"]["call_ms"] <= 250
        if "call_ms" in result.get("cookbook", {}):
            result["speedup_vs_cookbook"] = round(
                result["cookbook"]["call_ms"] / result["ours"]["call_ms"], 2
            )
    qwen.close()
    del qwen
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return result


def peak_memory_gib(device: str) -> float:
    """Peak memory so far: the GPU's allocator on CUDA, else the process's peak RSS."""
    import resource

    import torch

    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)  # KiB on Linux


def _request(image: Any) -> Any:
    from agent.models.base import ModelRequest

    return ModelRequest(kind="ground", image=image, instruction=INSTRUCTIONS[0])


def batched(qwen: Any, images: list[Any], args: argparse.Namespace, size: str) -> dict[str, Any]:
    """Samples per second: our `answer` on --batch requests vs the cookbook's batched generate."""
    from agent.models.base import ModelRequest

    n = args.batch
    requests = [
        ModelRequest(kind="ground", image=images[i], instruction=INSTRUCTIONS[i % 4])
        for i in range(n)
    ]
    out: dict[str, Any] = {"batch": n}
    stock = cookbook_processor(qwen, tiny_folder(size, args.arch))
    for name, call in (
        ("ours", lambda: qwen.answer(requests)),
        ("cookbook", cookbook_call(qwen, stock, images, n)),
    ):
        fn = call if name == "ours" else (lambda c=call: c(0))
        fn()  # warm-up
        times = []
        for _ in range(max(1, args.runs // 2)):
            started = time.perf_counter()
            fn()
            if qwen.device.startswith("cuda"):
                import torch

                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times)
        out[name] = {"samples_per_s": round(n / seconds, 2), "ms_per_sample": round(
            seconds / n * 1000, 1)}  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="*",
        default=["3b", "7b"],
        choices=["3b", "7b", "qwen3-2b", "qwen3-4b", "qwen3-8b"],
    )
    parser.add_argument(
        "--arch", default="qwen2_5_vl", choices=["qwen2_5_vl", "qwen3_vl"], help="of --tiny"
    )
    parser.add_argument("--model", type=Path, help="a real checkpoint (folder or hub id)")
    parser.add_argument("--tiny", action="store_true", help="the tiny test model (no CUDA: auto)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--max-pixels", type=int, help="default: ours (1280 visual tokens)")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    args = parser.parse_args()

    import torch
    import transformers

    # Our on-disk system-turn cache (used on CPU) goes to a throwaway folder.
    os.environ["SCREENPILOT_PREFIX_CACHE"] = tempfile.mkdtemp(prefix="gpu-step-kv-")
    cuda = torch.cuda.is_available()
    tiny = args.tiny or not cuda
    device = "cuda" if cuda and not tiny else "cpu"
    sizes = ["tiny"] if tiny and not args.model else (["model"] if args.model else args.sizes)
    results = {size: run_size(size, args, device) for size in sizes}
    print(
        json.dumps(
            {
                "bench": "gpu_step",
                "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                "tiny": tiny,
                "screen": f"{SCREEN[0]}x{SCREEN[1]}",
                "new_tokens": args.new_tokens,
                "runs": args.runs,
                "sizes": results,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                **machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
