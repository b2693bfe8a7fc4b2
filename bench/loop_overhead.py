"""Per-step overhead of the loop with the model excluded, ours vs the naive cookbook loop.

Under Xvfb at 1920x1080 with a real Tk window (the demo form), one step is:
capture -> model-ready image -> parse a real tool-call answer -> dispatch the click.

* ours: DesktopEnv.observe (MIT-SHM segment straight into Pillow, BGRX -> RGB in the one
  pass), the client-side resize to the exact smart_resize size (copy-free, horizontal pass
  on two threads), `actions.parse.parse_answer`, DesktopEnv.act (XTest on its own
  connection: one round trip, the fail-safe's pointer query).
* naive: what the cookbooks and popular agents do: pyautogui.screenshot() (scrot),
  PNG + base64 encoding for the request, json.loads on the split tool call,
  pyautogui.click with its default 0.1 s PAUSE.

Fair rows (key "fair"), each beside the two above:

* naive_pause0: the naive loop with pyautogui.PAUSE = 0, as a careful user sets it.
* naive_pause0_same_tokens: that, also resizing the screenshot to our model size with
  PIL's bicubic before the PNG, so it sends what we send (same visual tokens).
* ours_served_png / ours_served_jpeg: ours plus the image encoding the served backend
  (agent/models/openai_compat.py) does per request: PNG level 1 or JPEG 95, base64.

* before (key "before_ms"): the implementation ours replaced, kept selectable here only:
  mss's grab (a fresh 8 MB bytearray per frame) then BGRX -> RGB, the general resize
  (packed RGB copy in, planar out, merged) and a click that also syncs (two round trips).
* ours_one_thread: ours with the resize on one thread (for a loaded machine).
  The three are interleaved in blocks of 5 steps.

Also the process CPU milliseconds per step and per part ("ours_cpu_ms",
"ours_cpu_parts_ms", "before_cpu_ms", ...; all threads): less sensitive than wall time
to other work on shared cores.

Prints one JSON line: {"ours_ms", "naive_ms", "ratio", ...} (medians). Needs Xvfb and scrot
(`apt-get install xvfb scrot`); pyautogui.screenshot has no other backend on X11 here.

    .venv/bin/python bench/loop_overhead.py [--steps 40] [--max-pixels N]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actions.frames import model_size_for  # noqa: E402
from actions.parse import parse_answer  # noqa: E402
from agent.models import resize_rgbx  # noqa: E402
from agent.models.resize import _resize_torch_copying, _torch, to_model_image  # noqa: E402
from agent.models.spec import AGENT_MAX_PIXELS  # noqa: E402
from env.desktop import DesktopEnv  # noqa: E402
from env.virtual_display import VirtualDisplay  # noqa: E402

TARGET = (120, 55)  # the form's "Contact form" heading: a click there changes nothing


def answer_for(model_xy: tuple[int, int]) -> str:
    """A tool call exactly as Qwen2.5-VL writes it."""
    args = {"action": "left_click", "coordinate": list(model_xy)}
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': args})}\n</tool_call>"


def wait_for_presses(log: Path, count: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = sum(1 for line in log.read_text().splitlines() if '"press"' in line)
        if seen >= count:
            break
        time.sleep(0.05)
    return seen


VARIANTS = ("ours", "ours_one_thread", "before")
PART_NAMES = ("capture", "resize", "parse", "act")
PARTS: dict[str, dict[str, list[float]]] = {v: {p: [] for p in PART_NAMES} for v in VARIANTS}
CPU_PARTS: dict[str, dict[str, list[float]]] = {v: {p: [] for p in PART_NAMES} for v in VARIANTS}
CPU_MS: dict[str, list[float]] = {v: [] for v in VARIANTS}


@contextmanager
def variant_of(env: DesktopEnv, variant: str) -> Iterator[Callable[..., Any]]:
    """The resize to use, with `env` set up as the variant has it.

    * ours: the shared-memory capture, the copy-free resize on two threads, a click that
      waits for one reply (the fail-safe's pointer query).
    * ours_one_thread: the same with the resize's horizontal pass on one thread.
    * before (the implementation this replaced, kept selectable here only): capture through
      mss's grab (a fresh 8 MB bytearray, then BGRX -> RGB), the general resize (a packed
      RGB copy in, planar out, merged), and a click that also syncs (two round trips).
    """
    saved_shm, saved_threads = env._shm, resize_rgbx.THREADS
    try:
        if variant == "before":
            env._shm = None
            yield lambda image, size: _resize_torch_copying(_torch(), image, size)
        else:
            if variant == "ours_one_thread":
                resize_rgbx.THREADS = 1
            yield to_model_image
    finally:
        env._shm, resize_rgbx.THREADS = saved_shm, saved_threads


def ours(
    env: DesktopEnv, answer: str, steps: int, max_pixels: int | None, variant: str = "ours"
) -> list[float]:
    """Our loop as `variant` (see `variant_of`); returns the wall ms of each step."""
    parts, cpu_parts, cpu = PARTS[variant], CPU_PARTS[variant], CPU_MS[variant]
    times = []
    with variant_of(env, variant) as resize:
        for _ in range(steps):
            stamps = [(time.perf_counter(), time.process_time())]
            obs = env.observe()
            frame = obs.geometry.frame(max_pixels=max_pixels)
            stamps.append((time.perf_counter(), time.process_time()))
            model_image = resize(obs.image, frame.model_size)
            stamps.append((time.perf_counter(), time.process_time()))
            parsed = parse_answer(answer, frame)
            stamps.append((time.perf_counter(), time.process_time()))
            env.act(parsed.actions[0])
            if variant == "before":
                env.pointer._display.sync()  # the click's second round trip, as it was
            stamps.append((time.perf_counter(), time.process_time()))
            times.append((stamps[-1][0] - stamps[0][0]) * 1000)
            cpu.append((stamps[-1][1] - stamps[0][1]) * 1000)
            for name, a, b in zip(PART_NAMES, stamps, stamps[1:], strict=False):
                parts[name].append((b[0] - a[0]) * 1000)
                cpu_parts[name].append((b[1] - a[1]) * 1000)
            assert model_image.size == frame.model_size and parsed.ok
    return times


def medians(table: dict[str, list[float]]) -> dict[str, float]:
    return {name: round(statistics.median(values), 2) for name, values in table.items()}


def naive(answer: str, steps: int, max_pixels: int | None) -> list[float]:
    from env.x11 import quiet_xauth

    with quiet_xauth():  # no ~/.Xauthority under a bare Xvfb
        import pyautogui

    saved, pyautogui.PAUSE = pyautogui.PAUSE, 0.1  # the library default the cookbooks keep
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        shot = pyautogui.screenshot()
        buffer = io.BytesIO()
        shot.save(buffer, format="PNG")
        base64.b64encode(buffer.getvalue()).decode()
        width, height = shot.size
        resized_w, resized_h = model_size_for((width, height), max_pixels=max_pixels)
        call = json.loads(answer.split("<tool_call>\n")[1].split("\n</tool_call>")[0])
        x, y = call["arguments"]["coordinate"]
        pyautogui.click(x / resized_w * width, y / resized_h * height)
        times.append((time.perf_counter() - start) * 1000)
    pyautogui.PAUSE = saved
    return times


FAIR_PARTS: dict[str, dict[str, list[float]]] = {}


def ours_served(
    env: DesktopEnv, answer: str, steps: int, max_pixels: int | None, image_format: str
) -> list[float]:
    """Ours as the served backend runs it: the model image is also encoded for the request."""
    from agent.models.openai_compat import encode_image

    names = ("capture", "resize", "encode", "parse", "act")
    parts = FAIR_PARTS.setdefault(f"ours_served_{image_format}", {n: [] for n in names})
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        obs = env.observe()
        frame = obs.geometry.frame(max_pixels=max_pixels)
        t_capture = time.perf_counter()
        model_image = to_model_image(obs.image, frame.model_size)
        t_resize = time.perf_counter()
        url = encode_image(model_image, image_format)
        t_encode = time.perf_counter()
        parsed = parse_answer(answer, frame)
        t_parse = time.perf_counter()
        env.act(parsed.actions[0])
        end = time.perf_counter()
        times.append((end - start) * 1000)
        stamps = (start, t_capture, t_resize, t_encode, t_parse, end)
        for name, a, b in zip(names, stamps, stamps[1:], strict=False):
            parts[name].append((b - a) * 1000)
        assert url.startswith("data:image/") and parsed.ok
    return times


def naive_careful(
    answer: str, steps: int, max_pixels: int | None, same_tokens: bool
) -> list[float]:
    """The naive loop with PAUSE 0; with `same_tokens`, it also sends our model-size image."""
    import pyautogui
    from PIL import Image

    name = "naive_pause0_same_tokens" if same_tokens else "naive_pause0"
    parts = FAIR_PARTS.setdefault(
        name, {"capture": [], "resize": [], "encode": [], "parse_act": []}
    )
    saved, pyautogui.PAUSE = pyautogui.PAUSE, 0.0
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        shot = pyautogui.screenshot()
        t_capture = time.perf_counter()
        width, height = shot.size
        resized_w, resized_h = model_size_for((width, height), max_pixels=max_pixels)
        sent = (
            shot.resize((resized_w, resized_h), Image.Resampling.BICUBIC) if same_tokens else shot
        )
        t_resize = time.perf_counter()
        buffer = io.BytesIO()
        sent.save(buffer, format="PNG")
        base64.b64encode(buffer.getvalue()).decode()
        t_encode = time.perf_counter()
        call = json.loads(answer.split("<tool_call>\n")[1].split("\n</tool_call>")[0])
        x, y = call["arguments"]["coordinate"]
        pyautogui.click(x / resized_w * width, y / resized_h * height)
        end = time.perf_counter()
        times.append((end - start) * 1000)
        for part, a, b in (
            ("capture", start, t_capture),
            ("resize", t_capture, t_resize),
            ("encode", t_resize, t_encode),
            ("parse_act", t_encode, end),
        ):
            parts[part].append((b - a) * 1000)
    pyautogui.PAUSE = saved
    return times


def fair_rows(
    env: DesktopEnv, answer: str, steps: int, max_pixels: int | None, ours_ms: list[float]
) -> tuple[dict[str, object], int]:
    """The fair comparisons (medians, ms) and how many clicks they sent."""
    runs = {
        "naive_pause0": naive_careful(answer, steps, max_pixels, same_tokens=False),
        "naive_pause0_same_tokens": naive_careful(answer, steps, max_pixels, same_tokens=True),
        "ours_served_png": ours_served(env, answer, steps, max_pixels, "png"),
        "ours_served_jpeg": ours_served(env, answer, steps, max_pixels, "jpeg"),
    }
    med = {name: statistics.median(times) for name, times in runs.items()}
    ours_med = statistics.median(ours_ms)
    rows: dict[str, object] = {name: round(value, 2) for name, value in med.items()}
    rows["parts_ms"] = {
        name: {part: round(statistics.median(v), 2) for part, v in parts.items()}
        for name, parts in FAIR_PARTS.items()
    }
    rows["ratios"] = {
        "naive_pause0 / ours": round(med["naive_pause0"] / ours_med, 2),
        "naive_pause0_same_tokens / ours": round(med["naive_pause0_same_tokens"] / ours_med, 2),
        "naive_pause0 / ours_served_png": round(med["naive_pause0"] / med["ours_served_png"], 2),
        "naive_pause0_same_tokens / ours_served_png": round(
            med["naive_pause0_same_tokens"] / med["ours_served_png"], 2
        ),
        "naive_pause0_same_tokens / ours_served_jpeg": round(
            med["naive_pause0_same_tokens"] / med["ours_served_jpeg"], 2
        ),
    }
    return rows, len(runs) * steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=AGENT_MAX_PIXELS,
        help=f"image cap (default {AGENT_MAX_PIXELS}, the local backend's default)",
    )
    parser.add_argument(
        "--fair",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the fair rows: naive with PAUSE 0 (and at our model size), ours + encoding",
    )
    args = parser.parse_args()
    if shutil.which("scrot") is None:
        sys.exit("the naive baseline's pyautogui.screenshot needs scrot: apt-get install scrot")
    os.environ["XDG_SESSION_TYPE"] = "x11"  # pyscreeze uses scrot only on an x11 session
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay((1920, 1080)):
        log = Path(tmp) / "events.jsonl"
        log.touch()
        app = subprocess.Popen(
            [sys.executable, str(ROOT / "tasks/examples/demo_form.py"), "--log", str(log)]
        )
        try:
            with DesktopEnv() as env:
                deadline = time.monotonic() + 20
                while "focus" not in log.read_text() and '"start"' not in log.read_text():
                    if time.monotonic() > deadline or env.observe().image.getbbox() is not None:
                        break
                    time.sleep(0.1)
                time.sleep(1.0)
                frame = env.observe().geometry.frame(max_pixels=args.max_pixels)
                mx, my = (round(v) for v in frame.image_to_model(*TARGET))
                answer = answer_for((mx, my))
                for variant in VARIANTS:  # warm-up: imports, the pointer, the buffers
                    ours(env, answer, 3, args.max_pixels, variant)
                for table in (*PARTS.values(), *CPU_PARTS.values()):
                    for values in table.values():
                        values.clear()
                for values in CPU_MS.values():
                    values.clear()
                naive(answer, 2, args.max_pixels)
                warm = wait_for_presses(log, 3 * len(VARIANTS) + 2)
                # The variants interleaved in blocks of 5, so load swings hit them all.
                walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
                for _ in range(0, args.steps, 5):
                    for variant in ("before", "ours", "ours_one_thread"):
                        walls[variant] += ours(env, answer, 5, args.max_pixels, variant)
                ours_ms, before_ms = walls["ours"], walls["before"]
                naive_ms = naive(answer, args.steps, args.max_pixels)
                steps_sent = sum(map(len, walls.values())) + args.steps
                arrived = wait_for_presses(log, warm + steps_sent) - warm
                fair, sent = (
                    fair_rows(env, answer, args.steps, args.max_pixels, ours_ms)
                    if args.fair
                    else ({}, 0)
                )
                fair_arrived = wait_for_presses(log, warm + steps_sent + sent) - warm
        finally:
            app.terminate()
            app.wait(5)
    ours_med, naive_med = statistics.median(ours_ms), statistics.median(naive_ms)
    print(
        json.dumps(
            {
                "ours_ms": round(ours_med, 2),
                "naive_ms": round(naive_med, 2),
                "ratio": round(naive_med / ours_med, 1),
                "ours_p90_ms": round(statistics.quantiles(ours_ms, n=10)[-1], 2),
                "naive_p90_ms": round(statistics.quantiles(naive_ms, n=10)[-1], 2),
                "ours_parts_ms": medians(PARTS["ours"]),
                "ours_cpu_ms": round(statistics.median(CPU_MS["ours"]), 2),
                "ours_cpu_parts_ms": medians(CPU_PARTS["ours"]),
                "before_ms": round(statistics.median(before_ms), 2),
                "before_parts_ms": medians(PARTS["before"]),
                "before_cpu_ms": round(statistics.median(CPU_MS["before"]), 2),
                "before_cpu_parts_ms": medians(CPU_PARTS["before"]),
                "ours_one_thread_ms": round(statistics.median(walls["ours_one_thread"]), 2),
                "ours_one_thread_parts_ms": medians(PARTS["ours_one_thread"]),
                "ours_one_thread_cpu_ms": round(statistics.median(CPU_MS["ours_one_thread"]), 2),
                "target_ms": 5.0,
                "target_met": statistics.median(ours_ms) <= 5.0,
                "steps": args.steps,
                "clicks_arrived": arrived,
                "fair": fair,
                "fair_clicks_arrived": fair_arrived - arrived,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "screen": "1920x1080",
                "model_size": list(frame.model_size),
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
