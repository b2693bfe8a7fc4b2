"""Desktop input on a real Xvfb: capture time, click-to-app latency, typing methods compared.

    .venv/bin/python bench/desktop_input.py [--trials 20] [--load]

Starts its own 1920x1080 Xvfb and the test event logger (tests/apps/event_logger.py),
then measures through `DesktopEnv`:

* capture: `observe()` (mss grab + raw BGRX -> RGB), median of 30;
* click latency: from `act(Click)` to the Tk button's command running, as the app
  logs it (its own clock: same machine), and the same from a fresh `agent do click`;
* typing: how often ``héllo wörld 你好 <> ñ ß € 😀`` arrives *exactly* in a Tk entry,
  for pyautogui.write, ``xdotool type`` (default 12 ms delay, and --delay 0) and
  the env's XTest keyboard. ``--load`` keeps both cores busy meanwhile, which is
  what exposes the races.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = "héllo wörld 你好 <> ñ ß € 😀"


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def main() -> int:
    from actions.types import Click
    from env.desktop import DesktopEnv
    from env.virtual_display import VirtualDisplay
    from tests.fixtures.display import start_event_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--load", action="store_true", help="keep every core busy while typing")
    args = parser.parse_args()

    with VirtualDisplay((1920, 1080)) as display, tempfile.TemporaryDirectory() as tmp:
        app = start_event_app(Path(tmp) / "events.jsonl", display=display.name)
        try:
            with DesktopEnv() as env:
                env.observe()
                times = []
                for _ in range(30):
                    t0 = time.perf_counter()
                    env.observe()
                    times.append(time.perf_counter() - t0)
                print(
                    f"capture 1920x1080 (observe): median {statistics.median(times) * 1e3:.1f} ms"
                )

                x, y = app.center("ok")
                env.act(Click(x=x, y=y))  # first use imports pyautogui
                latencies = []
                for _ in range(20):
                    mark = app.mark()
                    sent = time.time()
                    env.act(Click(x=x, y=y))
                    event = app.wait_for(lambda e: e["event"] == "button", since=mark)
                    latencies.append(event["t"] - sent)
                    time.sleep(0.6)  # no double-click
                print(
                    f"click -> app command: median {statistics.median(latencies) * 1e3:.1f} ms, "
                    f"max {max(latencies) * 1e3:.1f} ms"
                )
                agent = Path(sys.executable).with_name("agent")
                whole = []
                for _ in range(5):
                    mark = app.mark()
                    started = time.time()
                    subprocess.run(
                        [str(agent), "do", "click", str(x), str(y)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    event = app.wait_for(lambda e: e["event"] == "button", since=mark)
                    whole.append(event["t"] - started)
                    time.sleep(0.6)
                print(
                    f"`agent do click` process start -> app command: median "
                    f"{statistics.median(whole) * 1e3:.0f} ms (Python start-up, imports included)"
                )

                import pyautogui

                def xdotool(delay: str | None) -> Callable[[str], None]:
                    extra = [] if delay is None else ["--delay", delay]
                    return lambda text: subprocess.run(
                        ["xdotool", "type", *extra, "--", text], check=True
                    )

                methods: dict[str, Callable[[str], None]] = {
                    "pyautogui.write": pyautogui.write,
                    "xdotool type (12 ms default)": xdotool(None),
                    "xdotool type --delay 0": xdotool("0"),
                    "DesktopEnv XTest keyboard": env.keyboard.type_text,
                }
                ex, ey = app.center("entry")
                load: list[multiprocessing.Process] = []
                if args.load:
                    seconds = 4.0 * len(methods) * args.trials
                    for _ in range(multiprocessing.cpu_count()):
                        process = multiprocessing.Process(target=_spin, args=(seconds,))
                        process.start()
                        load.append(process)
                try:
                    for name, method in methods.items():
                        exact, spent = 0, []
                        for _ in range(args.trials):
                            pyautogui.click(ex, ey, clicks=3)
                            pyautogui.press("backspace")
                            time.sleep(0.1)
                            mark = app.mark()
                            t0 = time.perf_counter()
                            method(TEXT)
                            spent.append(time.perf_counter() - t0)
                            time.sleep(0.4)
                            exact += app.text("entry", since=mark) == TEXT
                        print(
                            f"type {name:30s} exact {exact:2d}/{args.trials}, "
                            f"median {statistics.median(spent) * 1e3:6.1f} ms for {len(TEXT)} chars"
                        )
                finally:
                    for process in load:
                        process.terminate()
        finally:
            app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
