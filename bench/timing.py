"""Timing and machine facts shared by the model benches (cpu_3b.py, gpu_step.py)."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any


class GenerateClock:
    """Times grounding calls of a Qwen2.5-VL model: to the first new token, then per token.

    transformers 5 runs the vision tower before the first forward of `generate`
    (while preparing its inputs); our backend may run the system turn through the
    model before `generate` (the first time it sees it). All of it counts: the time
    to the first token is measured from `begin()`, just before the call. `sync`
    (e.g. torch.cuda.synchronize) is called before every time stamp.
    """

    def __init__(self, model: Any, sync: Callable[[], None] | None = None) -> None:
        self.sync = sync or (lambda: None)
        self.begin()
        generate = model.generate

        def timed_generate(*args: Any, **kwargs: Any) -> Any:
            self.generate_start = self._now()
            try:
                return generate(*args, **kwargs)
            finally:
                self.generate_start = None

        model.generate = timed_generate
        visual = model.model.visual
        visual.register_forward_pre_hook(lambda *_: self.vision.append(self._now()))
        visual.register_forward_hook(lambda *_: self.vision.append(self._now()))
        model.register_forward_pre_hook(lambda *_: self._forward(start=True))
        model.register_forward_hook(lambda *_: self._forward(start=False))

    def _now(self) -> float:
        self.sync()
        return time.perf_counter()

    def begin(self) -> None:
        """Start timing a call."""
        self.call_start = self._now()
        self.generate_start: float | None = None
        self.first_generate: float | None = None
        self.vision: list[float] = []
        self.ends: list[float] = []
        self.outside: list[float] = []  # forwards before generate: the system turn

    def _forward(self, *, start: bool) -> None:
        now = self._now()
        if self.generate_start is None:
            self.outside.append(now if start else -now)
        elif not start:
            self.first_generate = self.first_generate or self.generate_start
            self.ends.append(now)

    def figures(self) -> dict[str, Any]:
        """Seconds of the call since `begin()`: to_first_token_s, vision_s, per_token_s, ..."""
        if not self.ends or self.first_generate is None:
            return {}
        steps = [b - a for a, b in zip(self.ends, self.ends[1:], strict=False)]
        system_turn = -sum(self.outside)  # starts positive, ends negative
        return {
            "to_first_token_s": round(self.ends[0] - self.call_start, 4),
            "vision_s": round(self.vision[1] - self.vision[0], 4) if self.vision else None,
            "system_turn_s": round(system_turn, 4),
            "before_generate_s": round(self.first_generate - self.call_start, 4),
            "per_token_s": round(statistics.median(steps), 4) if steps else None,
            "forwards": len(self.ends),
        }


def memory() -> dict[str, float]:
    """This process's VmRSS / VmHWM (peak) / RssAnon / RssFile in GiB (Linux)."""
    out = {}
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    return out


def machine() -> dict[str, Any]:
    """CPU model (lscpu), cores, date."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            platform.processor(),
        )
    except OSError:
        cpu = platform.processor()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
