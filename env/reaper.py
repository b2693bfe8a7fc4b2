"""Processes the agent starts die with it, even when it is killed outright (SIGKILL, OOM).

`watch(pid)` hands a child (a private Xvfb, its window manager and session bus, a
launched app) to one small watchdog process per agent process. The watchdog reads
the agent's end of a pipe; the kernel closes that pipe whichever way the agent
ends, so on end-of-file the watchdog stops every child still alive, and what each
started: SIGTERM first (Xvfb then removes its socket and lock), SIGKILL after
`GRACE_SECONDS`, the last watched first (apps before the display they draw on).

A pipe rather than Linux's ``PR_SET_PDEATHSIG``: that signal follows the *thread*
that forked the child, so a child started from a worker thread (an MCP request,
an anyio pool thread that later idles out) would be killed while the agent still
uses it. A child is named by pid and start time, so a reused pid is never hit.

This file also runs as the watchdog itself (``python reaper.py``: stdlib and
psutil only, so it needs no package path).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from typing import IO

log = logging.getLogger(__name__)

GRACE_SECONDS = 3.0
"""How long a child gets to exit after SIGTERM before it is killed."""

_lock = threading.Lock()
_watchdog: subprocess.Popen[bytes] | None = None
_pipe: IO[bytes] | None = None


def watch(pid: int) -> None:
    """Stop process `pid` and its descendants when this process ends, however it ends.

    Best effort: where no watchdog can start (no psutil, not POSIX) the normal
    clean-up paths (close, atexit, Ctrl-C) still stop the child.
    """
    if os.name != "posix":
        return
    try:
        import psutil

        started = psutil.Process(pid).create_time()
    except Exception:  # gone already, or psutil missing: nothing to guard
        return
    global _watchdog, _pipe
    with _lock:
        try:
            if _watchdog is None or _watchdog.poll() is not None:
                _watchdog = subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    # its own session: the terminal's Ctrl-C must not end it before the
                    # agent has cleaned up (it would then stop what the agent still uses)
                    start_new_session=True,
                )
                _pipe = _watchdog.stdin
            assert _pipe is not None
            _pipe.write(f"{pid} {started!r}\n".encode())
            _pipe.flush()
        except (OSError, ValueError) as exc:
            log.warning("cannot guard pid %d against the agent being killed: %s", pid, exc)


def _reap(entries: list[tuple[int, float]]) -> None:
    """Stop each still-running entry with its descendants, the last watched first."""
    import psutil

    for pid, started in reversed(entries):
        try:
            root = psutil.Process(pid)
            if root.create_time() != started:
                continue  # the pid was reused: not ours
            tree = [*reversed(root.children(recursive=True)), root]
        except psutil.Error:
            continue
        for member in tree:
            with contextlib.suppress(psutil.Error):
                member.terminate()
        _, alive = psutil.wait_procs(tree, timeout=GRACE_SECONDS)
        for member in alive:
            with contextlib.suppress(psutil.Error):
                member.kill()


def _main() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    entries: list[tuple[int, float]] = []
    for line in sys.stdin.buffer:  # ends when every copy of the write end is closed
        with contextlib.suppress(ValueError):
            pid, started = line.split()
            entries.append((int(pid), float(started)))
    _reap(entries)


if __name__ == "__main__":
    _main()
