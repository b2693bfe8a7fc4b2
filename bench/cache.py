"""Locate cache: a 10-step scripted task on a real Tk app at 1920x1080, first run vs cached run.

Under Xvfb 1920x1080, tests/apps/button_board.py shows ten labelled buttons; the
task clicks each by name (``click: "the Save button"``, ...) through the real
`Session` (observe, cache lookup, ground, act, record) with the offline OCR
grounder wrapped to count its calls. Runs, one after the other in one process,
on the same screen:

* first run: empty cache, every step asks the model and stores its target;
* cached run: nothing changed, every step a hit;
* cache off: the same steps, the model asked every time (the baseline);
* window moved: every step relocated (whole-screen search);
* labels changed: every cached face is gone; the full lookup (verify, then
  search) is paid before the model is asked.

Every run checks in the app's own log that each click reached the named
button. Prints a table per run (medians of the per-step phases, ms) and the
per-step times of the first and the cached run side by side, then one JSON line.

    .venv/bin/python bench/cache.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.cache import LocateCache, LocateStore, identity_of  # noqa: E402
from agent.models.ocr import OcrModel  # noqa: E402
from agent.session import Session  # noqa: E402
from agent.trajectory import StepRecord  # noqa: E402
from bench.timing import machine  # noqa: E402
from env.desktop import DesktopEnv  # noqa: E402
from env.virtual_display import VirtualDisplay  # noqa: E402
from tests.fixtures.button_board import clicked, start_board  # noqa: E402

LABELS = ("Save", "Open", "Close", "Print", "Export", "Import", "Share", "Help", "Undo", "Redo")
PHASES = ("capture", "cache", "model", "act", "settle", "total")
# BENCHMARKS.md section 4: Qwen2.5-VL-3B on CPU, 1920x1080 at 1222 visual tokens
CPU_3B_FIRST_CALL_NEW_PROCESS_S = 58.8
CPU_3B_NEXT_STEP_S = 59.6


class CountingOcr(OcrModel):
    """The offline OCR grounder, counting the requests it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def answer(self, requests: list[Any]) -> list[Any]:
        self.calls += len(requests)
        return super().answer(requests)


def buttons(upper: bool = False) -> list[str]:
    return [f"{label.lower()}={label.upper() if upper else label}" for label in LABELS]


def run(env: DesktopEnv, model: CountingOcr, cache: LocateCache, app: Any) -> dict[str, Any]:
    """The 10 clicks through a Session; per-step phases (ms), model calls, and what landed."""
    records: list[StepRecord] = []
    session = Session(env, model, locate=cache, on_step=records.append)
    since, calls = app.mark(), model.calls
    for label in LABELS:
        session.point_step("click", f"the {label} button")
    deadline = time.monotonic() + 10
    while len(clicked(app, since)) < len(LABELS) and time.monotonic() < deadline:
        time.sleep(0.05)
    landed = clicked(app, since)
    assert landed == [label.lower() for label in LABELS], landed
    steps = [
        {
            **{p: round(getattr(r.timings, p) * 1000, 1) for p in PHASES},
            "status": r.cache.status if r.cache else None,
        }
        for r in records
    ]
    return {
        "model_calls": model.calls - calls,
        "statuses": sorted({s["status"] for s in steps}),
        "median_ms": {p: round(statistics.median(s[p] for s in steps), 1) for p in PHASES},
        "max_ms": {p: round(max(s[p] for s in steps), 1) for p in PHASES},
        "steps": steps,
    }


def main() -> None:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay((1920, 1080)) as display:
        folder = Path(tmp) / "cache"
        model = CountingOcr()
        identity = identity_of(model)

        def cache(mode: str = "read-write") -> LocateCache:
            return LocateCache(LocateStore(folder), identity, mode)  # type: ignore[arg-type]

        with DesktopEnv(settle=0.5) as env:
            app = start_board(Path(tmp) / "a.jsonl", display.name, buttons(), columns=5)
            run(env, model, LocateCache.disabled(), app)  # warm-up: OCR engine, pyautogui
            results["first run"] = run(env, model, cache(), app)
            results["cached run"] = run(env, model, cache(), app)
            results["cache off"] = run(env, model, cache("off"), app)
            app.stop()
            app = start_board(Path(tmp) / "b.jsonl", display.name, buttons(), columns=5,
                              geometry="+700+500")  # fmt: skip
            results["window moved"] = run(env, model, cache("read"), app)
            app.stop()
            app = start_board(Path(tmp) / "c.jsonl", display.name, buttons(upper=True),
                              columns=5)  # fmt: skip
            results["labels changed"] = run(env, model, cache("read"), app)
            app.stop()
    print("per run, median ms per step (max in brackets); model calls for the 10 steps")
    print(f"{'run':<16}{'calls':>6}" + "".join(f"{p:>18}" for p in PHASES) + "  status")
    for name, r in results.items():
        cells = "".join(f"{r['median_ms'][p]:>9.1f} ({r['max_ms'][p]:>6.1f})" for p in PHASES)
        print(f"{name:<16}{r['model_calls']:>6}{cells}  {','.join(r['statuses'])}")
    print("\nper step: first run vs cached run (total ms, model calls)")
    for i, (a, b) in enumerate(zip(results["first run"]["steps"], results["cached run"]["steps"],
                                   strict=True), start=1):  # fmt: skip
        print(f"  step {i:>2} {LABELS[i - 1]:<7} first {a['total']:>8.1f} ms, "
              f"{int(a['model'] > 0)} call   cached {b['total']:>7.1f} ms, "
              f"{int(b['model'] > 0)} call  (lookup {b['cache']:.1f} ms)")  # fmt: skip
    first_3b = CPU_3B_FIRST_CALL_NEW_PROCESS_S + (len(LABELS) - 1) * CPU_3B_NEXT_STEP_S
    hit_s = sum(s["cache"] for s in results["cached run"]["steps"]) / 1000
    print(
        f"\n3B on CPU (BENCHMARKS.md section 4): first run {len(LABELS)} grounding calls = "
        f"{CPU_3B_FIRST_CALL_NEW_PROCESS_S} s + {len(LABELS) - 1} x {CPU_3B_NEXT_STEP_S} s = "
        f"{first_3b:.1f} s of model time; cached run 0 calls + {hit_s * 1000:.0f} ms of lookups; "
        f"saved {first_3b - hit_s:.1f} s per run"
    )
    summary = {name: {k: v for k, v in r.items() if k != "steps"} for name, r in results.items()}
    print(json.dumps({"runs": summary, "screen": "1920x1080", "steps": len(LABELS),
                      "machine": machine()}))  # fmt: skip


if __name__ == "__main__":
    main()
