"""Desktop input on a real Xvfb: capture time, click-to-app latency, typing methods compared,
and how far one wheel notch scrolls in real Tk and GTK widgets.

    .venv/bin/python bench/desktop_input.py [--trials 20] [--load]

Starts its own 1920x1080 Xvfb and the test event logger (tests/apps/event_logger.py),
then measures through `DesktopEnv`:

* capture: `observe()` (mss grab + raw BGRX -> RGB, and the RandR layout check it
  makes on X11), median of 30; the layout check alone, median of 200, against a full
  geometry re-read (fresh mss connection, monitor list, a grab), median of 20;
* click latency: from `act(Click)` (XTest on the env's connection) to the Tk button's
  command running, as the app logs it (its own clock: same machine); the same for
  ``pyautogui.click(_pause=False)`` (the previous path) in the same process; the call
  times of both; and a fresh `agent do click`;
* typing: how often ``héllo wörld 你好 <> ñ ß € 😀`` arrives *exactly* in a Tk entry,
  for pyautogui.write, ``xdotool type`` (default 12 ms delay, and --delay 0) and
  the env's XTest keyboard. ``--load`` keeps both cores busy meanwhile, which is
  what exposes the races;
* wheel: pixels one notch scrolls (screenshot shift after 1-3 notches) in a Tk text,
  a Tk listbox and GTK text views (zenity) of several heights: the figures behind
  env/desktop_wheel.py's X11 scale.
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
from typing import Any

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

                checks = []
                for _ in range(200):
                    t0 = time.perf_counter()
                    env._layout_changed()
                    checks.append(time.perf_counter() - t0)
                check_us = statistics.median(checks) * 1e6
                rereads = []
                for _ in range(20):
                    t0 = time.perf_counter()
                    env._read_geometry()  # what a re-query per observation would cost
                    rereads.append(time.perf_counter() - t0)
                print(
                    f"RandR layout check (in observe): median {check_us:.0f} us; a full geometry "
                    f"re-read: median {statistics.median(rereads) * 1e3:.1f} ms"
                )

                from env.x11 import quiet_xauth

                with quiet_xauth():  # no ~/.Xauthority under a bare Xvfb
                    import pyautogui

                x, y = app.center("ok")
                env.act(Click(x=x, y=y))  # first use opens the pointer
                pyautogui.click(x, y + 200, _pause=False)
                clickers = {
                    "DesktopEnv.act (XTest)": lambda: env.act(Click(x=x, y=y)),
                    "pyautogui.click (PAUSE 0)": lambda: pyautogui.click(x, y, _pause=False),
                }
                for name, click in clickers.items():
                    latencies, calls = [], []
                    for _ in range(20):
                        mark = app.mark()
                        sent = time.time()
                        t0 = time.perf_counter()
                        click()
                        calls.append(time.perf_counter() - t0)
                        event = app.wait_for(lambda e: e["event"] == "button", since=mark)
                        latencies.append(event["t"] - sent)
                        time.sleep(0.6)  # no double-click
                    print(
                        f"click {name:26s} call median {statistics.median(calls) * 1e3:.2f} ms; "
                        f"-> app command: median {statistics.median(latencies) * 1e3:.1f} ms, "
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
        wheel_notches(display.name, Path(tmp))
    return 0


def _shift(before: Any, after: Any, most: int = 400) -> int:
    """How many rows the content moved up between two grey frames (best match)."""
    rows = before.shape[0]
    errors = {d: abs(before[d:] - after[: rows - d]).mean() for d in range(most) if rows - d > 50}
    return min(errors, key=errors.__getitem__)


def wheel_notches(display: str, tmp: Path) -> None:
    """Print the pixels one X11 wheel notch scrolls in Tk and GTK widgets."""
    import numpy as np
    from Xlib import X
    from Xlib.ext import xtest

    from env.desktop import DesktopEnv
    from tests.fixtures.display import start_app

    lines = tmp / "lines.txt"
    lines.write_text("\n".join(f"line {i:04d} " + "abcdefghij"[i % 10] * (i % 37)
                                for i in range(2000)))  # fmt: skip
    tk_text = (
        "import sys, tkinter as tk\nr = tk.Tk(); r.title('wheel'); r.geometry('800x700+0+0')\n"
        "t = tk.Text(r); t.pack(fill='both', expand=1); t.insert('1.0', open(sys.argv[1]).read())\n"
        "r.mainloop()"
    )
    tk_list = (
        "import tkinter as tk\nr = tk.Tk(); r.title('wheel'); r.geometry('800x700+0+0')\n"
        "b = tk.Listbox(r); b.pack(fill='both', expand=1)\n"
        "[b.insert('end', f'item {i}') for i in range(2000)]\nr.mainloop()"
    )
    cases: list[tuple[str, list[str]]] = [
        ("Tk 8.6 text", [sys.executable, "-c", tk_text, str(lines)]),
        ("Tk 8.6 listbox", [sys.executable, "-c", tk_list]),
    ]
    for height in (400, 600, 800, 1000):
        argv = ["zenity", "--text-info", "--title", "wheel", f"--filename={lines}",
                "--width=700", f"--height={height}"]  # fmt: skip
        cases.append((f"GTK text view, window {height} px", argv))
    with DesktopEnv() as env:
        connection = env._x
        for name, argv in cases:
            app = start_app(argv, title="wheel", display=display)
            try:
                from tests.fixtures.display import find_window

                box = find_window("wheel", display)
                assert box is not None
                time.sleep(1.0)
                top, bottom = box.y + 60, box.y + box.h - 80
                left, right = box.x + 40, box.x + box.w - 60
                xtest.fake_input(connection, X.MotionNotify, x=(left + right) // 2,
                                 y=(top + bottom) // 2)  # fmt: skip
                connection.sync()
                moved = []
                for notches in (1, 2, 3):
                    before = np.asarray(env.observe().image.convert("L"), dtype=np.int16)
                    for _ in range(notches):
                        xtest.fake_input(connection, X.ButtonPress, 5)
                        xtest.fake_input(connection, X.ButtonRelease, 5)
                    connection.sync()
                    time.sleep(0.8)
                    after = np.asarray(env.observe().image.convert("L"), dtype=np.int16)
                    crop = (slice(top, bottom), slice(left, right))
                    moved.append(_shift(before[crop], after[crop]) / notches)
                print(f"wheel {name:32s} {statistics.median(moved):5.1f} px per notch "
                      f"(1/2/3 notches: {', '.join(f'{m:.1f}' for m in moved)})")  # fmt: skip
            finally:
                app.stop()


if __name__ == "__main__":
    sys.exit(main())
