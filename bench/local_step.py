"""Our local step against plain transformers at equal visual tokens, warm against warm.

    .venv/bin/python bench/local_step.py [--checkpoint DIR] [--repeats 3] [--new-tokens 12]

One process holds both: our backend (`load_model`, every default: bf16 on a
CPU with native bf16, SDPA, max_pixels 1003520, the system-turn cache, the
batched window attention of `agent.models.fast_vision`) and the cookbook's
transformers code (`from_pretrained` + the processor at the same max_pixels:
the same 1222 visual tokens for a 1080p screenshot). Each answers one warm-up
call (untimed), then the two take turns on the next step's screenshot
(`--repeats` times, A/B interleaved, so that load on a shared machine hits
both alike). Per part: the vision tower, to the first token, per token
(wall-clock medians), and CPU seconds of the whole call (process_time,
fairer under load). The greedy answers of both are printed and must match.

Without --checkpoint the model is the 3B architecture reduced in depth
(every width, head count and window size of Qwen2.5-VL-3B; 4 vision blocks,
one of them full attention, and 4 language layers; random weights, built in
seconds): a profile of the per-layer costs, not the 3B's own figures. Give
--checkpoint a folder from `bench/cpu_3b.py --keep` for the real size (both
models then need ~15 GB together).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import GenerateClock, machine, memory  # noqa: E402

SCREEN = (1920, 1080)
REDUCED = "3b-reduced"


def reduced_config() -> dict[str, Any]:
    """The 3B's config.json with 4 vision blocks (the last one full attention), 4 LM layers."""
    from bench.qwen_sizes import CONFIGS

    config = copy.deepcopy(CONFIGS["3b"])
    config["num_hidden_layers"] = 4
    config["vision_config"].update(depth=4, fullatt_block_indexes=[3])
    return config


def build_reduced(folder: Path) -> Path:
    """Write the depth-reduced 3B as a hub-layout checkpoint."""
    import torch

    from bench import qwen_sizes

    qwen_sizes.CONFIGS[REDUCED] = reduced_config()
    model = qwen_sizes.build_model(REDUCED, torch.bfloat16)
    return qwen_sizes.write_checkpoint(model, REDUCED, folder)


class Transformers:
    """The cookbook's code path at our pixel budget (the fair baseline of BENCHMARKS 4)."""

    def __init__(self, checkpoint: Path, max_pixels: int) -> None:
        from transformers import AutoTokenizer
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil,
        )

        from agent.models.checkpoint import locate
        from agent.models.detect import resolve_profile
        from agent.models.qwen_processor import build_processor

        found = locate(str(checkpoint))
        self.profile = resolve_profile(str(checkpoint), model_type=found.model_type).profile
        self.model = found.model_class().from_pretrained(checkpoint)
        self.processor = build_processor(
            Qwen2VLImageProcessorPil.from_pretrained(checkpoint, max_pixels=max_pixels),
            AutoTokenizer.from_pretrained(checkpoint),
            architecture=found.architecture,
        )

    def ground(self, image: Any, instruction: str, new_tokens: int) -> str:
        import torch
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        from agent.models import prompts
        from agent.models.base import ModelRequest

        size = self.processor.image_processor.size
        h, w = smart_resize(
            image.height,
            image.width,
            self.profile.factor,
            size["shortest_edge"],
            size["longest_edge"],
        )
        request = ModelRequest(kind="ground", image=image, instruction=instruction)
        messages, prefill = prompts.request_messages(
            request, (w, h), prefill=True, profile=self.profile
        )
        text = self.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        inputs = self.processor(
            text=[text + prefill], images=[image], padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
        new = output[0, inputs["input_ids"].shape[1] :]
        return prefill + self.processor.tokenizer.decode(new, skip_special_tokens=False)


def vision_cpu(model: Any) -> list[float]:
    """CPU seconds (process_time) of each vision tower pass of `model`, appended as they end."""
    marks: list[float] = []
    visual = model.model.visual
    visual.register_forward_pre_hook(lambda *_: marks.append(time.process_time()))
    visual.register_forward_hook(lambda *_: marks.append(time.process_time() - marks.pop()))
    return marks


def timed(clock: GenerateClock, cpu_marks: list[float], call: Any) -> dict[str, Any]:
    clock.begin()
    cpu = time.process_time()
    answer = call()
    return {
        "call_s": round(time.perf_counter() - clock.call_start, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "vision_cpu_s": round(cpu_marks[-1], 3),
        **clock.figures(),
        "answer": answer,
    }


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a hub-layout Qwen2.5-VL folder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=12)
    args = parser.parse_args()

    import torch

    from agent.grounding import ground
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec
    from bench.cpu_3b import touch_weights
    from bench.preprocess import screenshot

    work = Path(tempfile.mkdtemp(prefix=f"local-step-{os.getpid()}-"))
    os.environ["SCREENPILOT_PREFIX_CACHE"] = str(work / "prefix-kv")
    started = time.perf_counter()
    checkpoint = args.checkpoint or build_reduced(work / REDUCED)
    build_s = round(time.perf_counter() - started, 1)
    spec = ModelSpec(model=str(checkpoint), max_new_tokens=args.new_tokens, weights="eager")
    ours = load_model(spec)
    theirs = Transformers(checkpoint, ours.max_pixels)
    for model in (ours.model, theirs.model):
        touch_weights(model)
    clocks = {"ours": GenerateClock(ours.model), "transformers": GenerateClock(theirs.model)}
    marks = {"ours": vision_cpu(ours.model), "transformers": vision_cpu(theirs.model)}
    first, second = screenshot(SCREEN), screenshot(SCREEN, seed=1)
    calls = {
        "ours": lambda image, text: ground(ours, image, text).raw,
        "transformers": lambda image, text: theirs.ground(image, text, args.new_tokens),
    }
    for call in calls.values():  # warm-up: first call of each, untimed
        call(first, "the Save button")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in calls}
    for _ in range(args.repeats):  # the next step, A/B interleaved
        for name, call in calls.items():
            runs[name].append(
                timed(clocks[name], marks[name], lambda call=call: call(second, "the Open menu"))
            )
    parts = ("vision_s", "vision_cpu_s", "to_first_token_s", "per_token_s", "call_s", "cpu_s")
    table = {name: {part: median(rows, part) for part in parts} for name, rows in runs.items()}
    n = args.new_tokens
    for row in table.values():  # the same answer length for both
        row[f"call_s_at_{n}_tokens"] = round(
            row["to_first_token_s"] + (n - 1) * row["per_token_s"], 3
        )
    a, b = table["ours"], table["transformers"]
    ratio = {part: round(b[part] / a[part], 2) for part in (*parts, f"call_s_at_{n}_tokens")}
    same = runs["ours"][0]["answer"] == runs["transformers"][0]["answer"]
    print("part                 ours      transformers   ratio")
    for part in (*parts, f"call_s_at_{n}_tokens"):
        print(f"{part:<20} {a[part]:>8.3f}  {b[part]:>12.3f}   {ratio[part]:.2f}x")
    print(
        f"local step vs transformers at equal tokens (>= 1.5x): {ratio['cpu_s']:.2f}x CPU, "
        f"{ratio[f'call_s_at_{n}_tokens']:.2f}x wall; same answer: {same}"
    )
    print(
        json.dumps(
            {
                "bench": "local_step",
                "model": str(args.checkpoint) if args.checkpoint else f"{REDUCED} (random)",
                "screen": f"{SCREEN[0]}x{SCREEN[1]}",
                "model_size": list(ours.frame_for(second).model_size),
                "dtype": str(ours.dtype).removeprefix("torch."),
                "torch_threads": torch.get_num_threads(),
                "fast_vision_blocks": ours.fast_vision_blocks,
                "build_s": build_s,
                "table": table,
                "ratio": ratio,
                "answers": {name: rows[0]["answer"] for name, rows in runs.items()},
                "peak_rss_both_models_gib": memory(),
                "load_avg": [round(x, 2) for x in os.getloadavg()],
                **machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    finally:  # the built checkpoint and the system-turn cache (~1.4 GB)
        for folder in Path(tempfile.gettempdir()).glob(f"local-step-{os.getpid()}-*"):
            shutil.rmtree(folder, ignore_errors=True)
