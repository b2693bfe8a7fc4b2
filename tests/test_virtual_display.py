"""Private virtual displays leave nothing behind: not on close, not when the agent is killed.

Real Xvfb, openbox, dbus-daemon and a real GTK app (galculator, which starts the
accessibility bus through the session bus), in a child Python process that opens
a `DesktopEnv` as `agent` does. Every process that carries the display in its
environment (what GTK autolaunched included) must be gone afterwards, and Xvfb
must have removed its socket and lock (it does on SIGTERM, not on SIGKILL).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from env.virtual_display import DISPLAY_RANGE, VirtualDisplay
from tests.fixtures.display import need

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import json, sys, time
from env.desktop import DesktopEnv
env = DesktopEnv(virtual_display="800x600", window_manager=sys.argv[1])
env.launch(["galculator"])
vd = env.virtual_display
print(json.dumps({"display": vd.name, "xvfb": vd._xvfb.pid,
                  "app": env.launched[-1].pid}), flush=True)
if sys.argv[2] == "close":
    sys.stdin.readline()  # the test has listed the processes
    env.close()
    print("closed", flush=True)
else:
    time.sleep(600)
"""


def _on_display(name: str, xvfb: object) -> dict[psutil.Process, str]:
    """The display's Xvfb and every process whose environment says DISPLAY=`name`, named."""
    found = {psutil.Process(int(str(xvfb))): "Xvfb"}
    for process in psutil.process_iter():
        try:
            if process.environ().get("DISPLAY") == name:
                found[process] = process.name()
        except (psutil.Error, OSError):
            continue
    return found


def _gone(processes: dict[psutil.Process, str], timeout: float = 15.0) -> list[str]:
    """The names of those still running after `timeout`."""
    _, alive = psutil.wait_procs(list(processes), timeout=timeout)
    return [processes[p] for p in alive if p.is_running()]


def _holder(wm: str, mode: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    need(shutil.which("galculator") is not None, "galculator (apt-get install galculator)")
    need(shutil.which("openbox") is not None, "openbox (apt-get install openbox)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, wm, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise AssertionError(process.communicate(timeout=30)[1][-2000:])
    return process, json.loads(line)


def _socket_and_lock(display: str) -> list[Path]:
    number = display.lstrip(":")
    paths = [Path(f"/tmp/.X11-unix/X{number}"), Path(f"/tmp/.X{number}-lock")]
    return [p for p in paths if p.exists()]


@pytest.mark.parametrize("wm", ["openbox", "none"])
def test_a_killed_agent_leaves_no_xvfb_wm_bus_or_app(wm: str) -> None:
    process, info = _holder(wm, "sleep")
    try:
        display = str(info["display"])
        time.sleep(3)  # GTK starts the accessibility bus a moment after its window
        started = _on_display(display, info["xvfb"])
        names = set(started.values())
        assert {"Xvfb", "galculator", "dbus-daemon"} <= names, names
        assert (wm == "openbox") == ("openbox" in names)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert _gone(started) == []
        # SIGTERM, not SIGKILL: Xvfb removed its socket and lock
        assert _socket_and_lock(display) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_closing_the_env_stops_everything_gtk_started() -> None:
    process, info = _holder("openbox", "close")
    display = str(info["display"])
    time.sleep(3)  # GTK starts the accessibility bus a moment after its window
    started = _on_display(display, info["xvfb"])
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("close\n")
    process.stdin.flush()
    assert process.stdout.readline().strip() == "closed"
    names = set(started.values())
    # GTK used our bus: it autolaunched no dbus-launch of its own
    assert "dbus-launch" not in names and {"galculator", "openbox"} <= names, names
    assert _gone(started, timeout=5) == []
    assert _socket_and_lock(display) == []
    process.wait(timeout=10)


def test_display_numbers_are_random_and_an_explicit_one_is_honoured() -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb (apt-get install xvfb)")
    with VirtualDisplay((200, 200)) as first, VirtualDisplay((200, 200)) as second:
        numbers = {int(first.name[1:]), int(second.name[1:])}
        assert len(numbers) == 2 and all(DISPLAY_RANGE[0] <= n <= DISPLAY_RANGE[1] for n in numbers)
        free = next(n for n in range(DISPLAY_RANGE[1] + 1, 60000) if not _socket_and_lock(f":{n}"))
        with VirtualDisplay((200, 200), number=free) as chosen:
            assert chosen.name == f":{free}"
        taken = int(first.name[1:])
        with pytest.raises(Exception, match=f"display :{taken} is in use"):
            VirtualDisplay((200, 200), number=taken).start()
