"""Many task files at once: one `agent run` child process per task, N at a time.

A child process per task (as OSWorld's ``run_multienv`` and AndroidWorld do)
rather than a thread: a task that crashes, hangs or leaks cannot touch the
others, and each child opens its own display exactly as a single ``agent run``
does (a task that asks for a virtual display gets a private Xvfb of its own).

Screens are the scarce part, so they are handed out here:

* desktop tasks on their own virtual display run side by side;
* desktop tasks on the user's real display (``DISPLAY``) run one at a time;
* Android tasks take a device serial from a pool (``--android``, or every
  device adb lists) and hold it for the whole task (``$ANDROID_SERIAL``).

Each child is watched by `env.reaper`, so a parent killed outright (SIGKILL,
OOM) takes its children and everything they started with it. Each child has a
wall-clock limit of its task's time budget plus `hang_grace` (a minute); past it
the child gets SIGINT (its run folder is written, marked interrupted), then
SIGKILL. Results land in ``OUT/summary.json`` (see `SummaryEntry`); running the
same batch again re-runs only the tasks that did not succeed there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from actions.project_errors import InputError

if TYPE_CHECKING:
    from tasks.schema import Task

log = logging.getLogger(__name__)

HANG_GRACE_SECONDS = 60.0
"""Beyond a task's own time budget, how long its child may run before it counts as hung
(``$SCREENPILOT_HANG_GRACE`` seconds where set)."""
INTERRUPT_GRACE_SECONDS = 20.0
"""After SIGINT, how long a child gets to write its run folder before SIGKILL."""
SUMMARY = "summary.json"
STEP_LINE = re.compile(r"^\[\s*(\d+)(?:/\d+)?\]")

Status = Literal["success", "failed", "error"]


class SummaryEntry(BaseModel):
    """One task's line in ``summary.json``."""

    model_config = ConfigDict(extra="ignore")

    task: str
    name: str
    status: Status
    run_dir: str
    seconds: float = 0.0
    model_calls: int = 0
    message: str = ""


SUMMARY_ROWS = TypeAdapter(list[SummaryEntry])


@dataclass
class Planned:
    """A task of the batch, where its run folder goes and which screen it needs."""

    path: Path
    name: str
    run_dir: Path
    platform: str
    own_display: bool
    timeout: float
    state: str = "waiting"
    worker: int | None = None
    step: int = 0
    started: float | None = None
    result: SummaryEntry | None = None
    extra: dict[str, str] = field(default_factory=dict)


def plan(
    loaded: Sequence[tuple[Path, Task]],
    out: Path,
    *,
    virtual_display: str | None,
    timeout: float | None,
) -> list[Planned]:
    """Name each (already validated) task's run folder and say which screen it needs.

    Folder names come from the task's ``name`` (made unique in the order given),
    so the same command maps each task to the same folder on every run.
    """
    wants_virtual = virtual_display is not None and virtual_display.lower() not in (
        "off",
        "no",
        "none",
    )
    planned: list[Planned] = []
    used: set[str] = set()
    for path, task in loaded:
        desktop = task.env.desktop
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", task.name).strip(".-") or "task"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        own = task.platform == "desktop" and (
            wants_virtual
            or (virtual_display is None and bool(desktop and desktop.virtual_display))
            or (not os.environ.get("DISPLAY") and sys.platform == "linux")
        )
        budget = timeout if timeout is not None else task.timeout
        grace = hang_grace()
        planned.append(
            Planned(
                path=Path(path),
                name=name,
                run_dir=out / name,
                platform=task.platform,
                own_display=own,
                timeout=budget + grace,
            )
        )
    return planned


def hang_grace() -> float:
    """Seconds past its budget before a task counts as hung (`HANG_GRACE_SECONDS`).

    Raises:
        InputError: ``$SCREENPILOT_HANG_GRACE`` is not a number of seconds (one line, exit 2).
    """
    raw = os.environ.get("SCREENPILOT_HANG_GRACE", "").strip()
    if not raw:
        return HANG_GRACE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise InputError(f"$SCREENPILOT_HANG_GRACE must be seconds (0-86400), got {raw!r}")
    return value


def read_summary(out: Path) -> list[SummaryEntry]:
    """The summary a previous run of this batch left (none when there is none).

    Raises:
        InputError: the file is there but is not a summary (one line, exit 2).
    """
    path = out / SUMMARY
    if not path.exists():
        return []
    try:
        return SUMMARY_ROWS.validate_json(path.read_bytes())
    except (ValidationError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{path}: not a batch summary ({first}); use --restart") from None


def write_summary(out: Path, entries: Sequence[SummaryEntry]) -> Path:
    """Write ``summary.json`` atomically (a reader never sees half a file)."""
    path = out / SUMMARY
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([e.model_dump() for e in entries], indent=2) + "\n")
    os.replace(tmp, path)
    return path


def outcome(run_dir: Path, code: int | None, stderr_tail: str) -> tuple[Status, str, int]:
    """A finished child's status, message and model calls, from its run.json.

    The run folder is untrusted input: anything unreadable counts as an error.
    """
    info: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads((run_dir / "run.json").read_text())
        if isinstance(loaded, dict):
            info = loaded
    calls = info.get("model_calls")
    calls = calls if isinstance(calls, int) else 0
    status = info.get("status")
    message = info.get("message")
    message = message if isinstance(message, str) else ""
    if status == "success" and code == 0:
        return "success", message or "done", calls
    if status == "failed":
        return "failed", message, calls
    if status in ("interrupted", "error"):
        return "error", message or str(status), calls
    tail = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else ""
    return "error", f"exit code {code}: {tail}" if tail else f"exit code {code}", calls


class Batch:
    """Runs planned tasks as child processes; see the module docstring."""

    def __init__(
        self,
        tasks: list[Planned],
        *,
        workers: int,
        child_args: list[str],
        serials: list[str],
        out: Path,
        on_change: Callable[[], None] | None = None,
        child_env: dict[str, str] | None = None,
    ) -> None:
        self.tasks = tasks
        self.child_env = child_env or {}
        self.workers = workers
        self.child_args = child_args
        self.out = out
        self.on_change = on_change or (lambda: None)
        self.stop = threading.Event()
        self.real_display = threading.Lock()
        self.devices: queue.Queue[str] = queue.Queue()
        for serial in serials:
            self.devices.put(serial)
        self.pending: queue.Queue[Planned] = queue.Queue()
        self.children: dict[int, subprocess.Popen[str]] = {}
        self.lock = threading.Lock()

    # -- one task ------------------------------------------------------------------
    def _argv(self, task: Planned) -> list[str]:
        return [sys.executable, "-m", "agent.cli.main", "run", str(task.path),
                "--out", str(task.run_dir), *self.child_args]  # fmt: skip

    def _set_aside(self, task: Planned) -> None:
        """A previous attempt's folder moves to ``OUT/.attempts/`` (kept, never overwritten)."""
        if not (task.run_dir.exists() or task.run_dir.is_symlink()):
            return
        attempts = self.out / ".attempts"
        attempts.mkdir(exist_ok=True)
        n = 1
        while (attempts / f"{task.name}.{n}").exists():
            n += 1
        os.replace(task.run_dir, attempts / f"{task.name}.{n}")

    def run_one(self, task: Planned, worker: int) -> None:
        """Run one task's child to its end (or its hang limit) and record the outcome."""
        from env.reaper import watch

        serial = None
        if task.platform == "android":
            serial = self.devices.get()  # held for the whole task: one task per phone
        screen = self.real_display if not task.own_display and task.platform == "desktop" else None
        try:
            if screen is not None:
                screen.acquire()
            if self.stop.is_set():
                return
            self._set_aside(task)
            env = {**os.environ, **self.child_env}
            if serial is not None:
                env["ANDROID_SERIAL"] = serial
                task.extra["device"] = serial
            logs = self.out / "logs"
            logs.mkdir(exist_ok=True)
            task.state, task.worker, task.step, task.started = "running", worker, 0, time.time()
            self.on_change()
            with (logs / f"{task.name}.log").open("w") as errors:
                child = subprocess.Popen(
                    self._argv(task), stdout=subprocess.PIPE, stderr=errors,
                    stdin=subprocess.DEVNULL, text=True, env=env, start_new_session=True,
                )  # fmt: skip
                watch(child.pid)
                with self.lock:
                    self.children[child.pid] = child
                timer = threading.Timer(task.timeout, self._hung, (task, child))
                timer.daemon = True
                timer.start()
                try:
                    assert child.stdout is not None
                    for line in child.stdout:
                        match = STEP_LINE.match(line)
                        if match:
                            task.step = int(match.group(1))
                            self.on_change()
                    code = child.wait()
                finally:
                    timer.cancel()
                    with self.lock:
                        self.children.pop(child.pid, None)
            tail = (logs / f"{task.name}.log").read_text(errors="replace")[-2000:]
            status, message, calls = outcome(task.run_dir, code, tail)
            if "hung" in task.extra:
                status, message = "error", f"timed out after {task.timeout:.0f} s ({message})"
            task.result = SummaryEntry(
                task=str(task.path),
                name=task.name,
                status=status,
                run_dir=str(task.run_dir),
                seconds=round(time.time() - task.started, 2),
                model_calls=calls,
                message=message,
            )
            task.state = status
            self.on_change()
        finally:
            if screen is not None and screen.locked():
                screen.release()
            if serial is not None:
                self.devices.put(serial)

    def _hung(self, task: Planned, child: subprocess.Popen[str]) -> None:
        task.extra["hung"] = "1"
        log.warning("%s ran past %.0f s: stopping it", task.name, task.timeout)
        self._interrupt(child)

    def _interrupt(self, child: subprocess.Popen[str]) -> None:
        """SIGINT (the run folder is written, marked interrupted), SIGKILL after a grace."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(INTERRUPT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

    # -- the pool ------------------------------------------------------------------
    def _worker(self, worker: int) -> None:
        while not self.stop.is_set():
            try:
                task = self.pending.get_nowait()
            except queue.Empty:
                return
            try:
                self.run_one(task, worker)
            except Exception as exc:  # recorded: one task's trouble never stops the others
                log.exception("batch worker %d", worker)
                task.state = "error"
                task.result = SummaryEntry(task=str(task.path), name=task.name, status="error",
                                           run_dir=str(task.run_dir), message=str(exc))  # fmt: skip

    def run(self) -> bool:
        """Run every task; True when interrupted (Ctrl-C), after every child has ended."""
        for task in self.tasks:
            self.pending.put(task)
        threads = [
            threading.Thread(target=self._worker, args=(i + 1,), daemon=True)
            for i in range(min(self.workers, len(self.tasks)))
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
            with self.lock:
                running = list(self.children.values())
            stoppers = [threading.Thread(target=self._interrupt, args=(c,)) for c in running]
            for s in stoppers:
                s.start()
            for s in stoppers:
                s.join()
            for t in threads:
                t.join(INTERRUPT_GRACE_SECONDS)
            return True
        return False


def android_serials(given: Sequence[str]) -> list[str]:
    """The devices Android tasks spread over: those given, else every one adb lists."""
    if given:
        return list(dict.fromkeys(given))
    from env.adb_connect import AdbServerAddress, connect, list_devices

    devices = list_devices(connect(AdbServerAddress.resolve(None, None)))
    serials = [d.serial for d in devices if d.state == "device"]
    if not serials:
        raise InputError("Android tasks but no device: attach one or pass --android SERIAL")
    return serials


def remove_stale(out: Path) -> None:
    """``--restart``: previous results are moved aside, not deleted."""
    if (out / SUMMARY).exists():
        os.replace(out / SUMMARY, out / f"{SUMMARY}.previous")
    shutil.rmtree(out / "logs", ignore_errors=True)
