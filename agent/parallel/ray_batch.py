"""`agent run A B ... --workers N --out DIR --ray`: the batch's tasks on Ray actors.

Each worker is a Ray actor (`TaskWorker`) holding what its tasks need as a
custom resource, so Ray places it only on a node that declared one: a desktop
task's actor one ``x11`` (a private display: ``ray start --resources='{"x11": 4}'``),
an Android task's actor one phone, ``android:<serial>`` (declared 1 per phone the
node's adb server holds), which it alone uses while it lives: tasks on a phone
come one at a time. On its node the actor runs each task exactly as the local
batch does (`Batch.run_one`: the same ``agent run`` child on its own private
Xvfb or with ``ANDROID_SERIAL`` set, the same hang limit and reaper) into a
scratch folder, then sends the run folder's files and the child's log back. The driver
(`RayBatch`) writes them under ``DIR/<task>`` and records the outcome; the
summary, live table, exit codes and resume are `agent.cli.run_batch`'s, as
without Ray. Results are taken as they finish (``ray.wait``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from actions.project_errors import InputError
from agent.parallel.batch import (
    INTERRUPT_GRACE_SECONDS,
    Batch,
    Planned,
    SummaryEntry,
    android_serials,
)
from agent.parallel.ray_cluster import (
    X11,
    connected,
    declared_phones,
    local_screens,
    pack,
    phone_resource,
    unpack,
)

log = logging.getLogger(__name__)


def check_placeable(tasks: list[Planned]) -> None:
    """A desktop task goes to a cluster node on a private virtual display (exit 2 otherwise);
    an Android task to a node's phone."""
    for task in tasks:
        if task.platform == "desktop" and not task.own_display:
            raise InputError(
                f"{task.path}: --ray runs a task on a private display of a cluster node: "
                "give it env.desktop.virtual_display or pass --virtual-display WxH"
            )


class TaskWorker:
    """A Ray actor holding one display slot or one phone (`serial`) on its node; runs one
    task at a time."""

    def __init__(
        self, child_args: list[str], child_env: dict[str, str], serial: str | None = None
    ) -> None:
        self.child_args = child_args
        self.child_env = child_env
        self.serial = serial
        self.current: Batch | None = None
        self.task: Planned | None = None

    def run(self, task: dict[str, Any], worker: int) -> dict[str, Any]:
        """Run one task (see `RayBatch._payload`); its outcome, run folder and log."""
        scratch = Path(tempfile.mkdtemp(prefix="screenpilot-ray-"))
        try:
            path = Path(task["path"])
            text: bytes = task["text"]
            # A shared filesystem keeps the task file's own folder (relative paths, its
            # locate cache); elsewhere the driver's copy of the file is run.
            if not (path.is_file() and path.read_bytes() == text):
                path = scratch / "task" / path.name
                path.parent.mkdir()
                path.write_bytes(text)
            name, platform = task["name"], task["platform"]
            if platform == "android" and self.serial is None:
                raise ValueError("an Android task sent to a worker without a phone")
            desktop = platform == "desktop"
            planned = Planned(path=path, name=name, run_dir=scratch / name, platform=platform,
                              own_display=desktop, timeout=task["timeout"])  # fmt: skip
            self.task = planned
            phones = [self.serial] if self.serial is not None else []
            self.current = Batch([planned], workers=1, child_args=self.child_args,
                                 serials=phones, out=scratch, child_env=self.child_env)  # fmt: skip
            # Ray starts its workers with SIGINT blocked, and a child inherits the mask of
            # the thread that starts it: unblocked here, the child's run folder is written
            # on the SIGINT of a hang limit or Ctrl-C (`Batch._interrupt`).
            mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            try:
                self.current.run_one(planned, worker)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            log_file = scratch / "logs" / f"{planned.name}.log"
            return {
                "entry": planned.result.model_dump() if planned.result else None,
                "files": pack(planned.run_dir),
                "log": log_file.read_bytes() if log_file.exists() else b"",
            }
        finally:
            self.current = self.task = None
            shutil.rmtree(scratch, ignore_errors=True)

    def step(self) -> int:
        """The running task's step (its child's progress lines), for the driver's table."""
        return self.task.step if self.task is not None else 0

    def stop(self) -> None:
        """Ctrl-C on the driver: interrupt the running child (its run folder is written)."""
        batch = self.current
        if batch is None:
            return
        batch.stop.set()
        with batch.lock:
            children = list(batch.children.values())
        for child in children:
            batch._interrupt(child)


@dataclass
class Worker:
    """One actor of the batch: its number in the table, handle, and what it holds."""

    number: int
    handle: Any
    platform: str
    serial: str | None = None


class RayBatch(Batch):
    """`Batch` whose workers are `TaskWorker` actors on a Ray cluster.

    `android`: the phones (adb serials, ``--android``) Android tasks may use; empty: every
    phone the cluster declares (a local cluster declares those its adb server lists).
    """

    def __init__(self, tasks: list[Planned], *, android: list[str], **kwargs: Any) -> None:
        super().__init__(tasks, serials=[], **kwargs)
        self.android = list(dict.fromkeys(android))

    def _payload(self, task: Planned) -> dict[str, Any]:
        return {"path": str(task.path.resolve()), "text": task.path.read_bytes(),
                "name": task.name, "timeout": task.timeout, "platform": task.platform}  # fmt: skip

    def _record(self, task: Planned, result: object) -> None:
        """Write a node's answer under ``OUT/<task>`` (untrusted: checked) and record it."""
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        try:
            if not isinstance(result, dict) or not isinstance(result.get("entry"), dict):
                raise ValueError("no outcome")
            entry = SummaryEntry.model_validate(result["entry"])
            self._set_aside(task)
            unpack(result.get("files", {}), task.run_dir)
            log_bytes = result.get("log", b"")
            (logs / f"{task.name}.log").write_bytes(
                log_bytes if isinstance(log_bytes, bytes) else b""
            )
            entry = entry.model_copy(update={"task": str(task.path), "name": task.name,
                                             "run_dir": str(task.run_dir)})  # fmt: skip
        except (ValueError, ValidationError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._failed(task, f"from the node: {first}")
            return
        task.result, task.state = entry, entry.status
        self.on_change()

    def _failed(self, task: Planned, message: str) -> None:
        task.result = SummaryEntry(task=str(task.path), name=task.name, status="error",
                                   run_dir=str(task.run_dir), message=message)  # fmt: skip
        task.state = "error"
        self.on_change()

    def run(self) -> bool:
        """Run every task on the cluster; True when interrupted (Ctrl-C)."""
        if not self.tasks:
            return False
        local = local_screens(self.workers)
        if any(t.platform == "android" for t in self.tasks) and not os.environ.get("RAY_ADDRESS"):
            local.update({phone_resource(s): 1.0 for s in android_serials(self.android)})
        with connected(local) as ray:
            workers = self._start(ray, ray.cluster_resources())
            try:
                return self._dispatch(ray, workers)
            finally:
                for w in workers:
                    with contextlib.suppress(Exception):
                        ray.kill(w.handle)

    def _start(self, ray: Any, declared: dict[str, float]) -> list[Worker]:
        """The actors: a display slot per desktop worker, one phone per Android worker
        (`--workers` shared between the two kinds, at least one each where needed).

        Raises:
            InputError: the cluster declares no display or no phone for tasks that need one.
        """
        desktop = sum(t.platform == "desktop" for t in self.tasks)
        android = len(self.tasks) - desktop
        slots = int(declared.get(X11, 0))
        if desktop and slots < 1:
            raise InputError(
                "--ray: no node of the cluster declares an x11 resource; start each node "
                """with ray start --resources='{"x11": N}' (N private displays)"""
            )
        phones = declared_phones(declared, self.android)
        if android and not phones:
            named = f" ({', '.join(self.android)})" if self.android else ""
            raise InputError(
                f"--ray: no node of the cluster declares a phone{named}; start each node with "
                """ray start --resources='{"android:SERIAL": 1, ...}' (one per phone it holds)"""
            )
        held = [serial for serial, count in phones.items() for _ in range(count)]
        n_phone = min(len(held), android, max(1, self.workers - (1 if desktop else 0)))
        n_desk = min(slots, desktop, max(1, self.workers - n_phone)) if desktop else 0
        actor = ray.remote(TaskWorker)
        workers = []
        for serial in held[:n_phone]:
            handle = actor.options(num_cpus=0, resources={phone_resource(serial): 1},
                                   max_concurrency=3).remote(self.child_args, self.child_env,
                                                             serial)  # fmt: skip
            workers.append(Worker(len(workers) + 1, handle, "android", serial))
        for _ in range(n_desk):
            handle = actor.options(num_cpus=0, resources={X11: 1}, max_concurrency=3).remote(
                self.child_args, self.child_env
            )
            workers.append(Worker(len(workers) + 1, handle, "desktop"))
        return workers

    def _dispatch(self, ray: Any, workers: list[Worker]) -> bool:
        pending = list(self.tasks)
        idle = list(workers)
        running: dict[Any, tuple[Planned, Worker]] = {}
        try:
            while pending or running:
                for worker in list(idle):  # each idle actor takes the next task of its kind
                    task = next((t for t in pending if t.platform == worker.platform), None)
                    if task is None:
                        continue
                    pending.remove(task)
                    idle.remove(worker)
                    ref = worker.handle.run.remote(self._payload(task), worker.number)
                    running[ref] = (task, worker)
                    task.state, task.worker, task.step = "running", worker.number, 0
                    if worker.serial is not None:
                        task.extra["device"] = worker.serial
                    task.started = time.time()
                    self.on_change()
                if not running:  # no actor of their kind left: what is left cannot run
                    for task in pending:
                        self._failed(task, "no Ray worker left")
                    return False
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
                if not ready:
                    self._show_steps(ray, running)
                for ref in ready:
                    task, worker = running.pop(ref)
                    if self._collect(ray, task, ref):
                        idle.append(worker)
        except KeyboardInterrupt:
            self.stop.set()
            for _, worker in running.values():
                with contextlib.suppress(Exception):
                    worker.handle.stop.remote()
            deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS + 10
            for ref, (task, _) in list(running.items()):
                left = max(0.1, deadline - time.monotonic())
                ready, _ = ray.wait([ref], timeout=left)
                if ready:
                    self._collect(ray, task, ref)
            return True
        return False

    def _show_steps(self, ray: Any, running: dict[Any, tuple[Planned, Worker]]) -> None:
        """The running tasks' steps into the live table (best effort: a slow node waits)."""
        asked = {worker.handle.step.remote(): task for task, worker in running.values()}
        ready, _ = ray.wait(list(asked), num_returns=len(asked), timeout=0.5)
        changed = False
        for ref in ready:
            with contextlib.suppress(Exception):
                step = ray.get(ref)
                task = asked[ref]
                if isinstance(step, int) and step != task.step and task.result is None:
                    task.step, changed = step, True
        if changed:
            self.on_change()

    def _collect(self, ray: Any, task: Planned, ref: Any) -> bool:
        """Record a finished task; False when its actor is gone."""
        from ray.exceptions import RayActorError, RayTaskError

        try:
            result = ray.get(ref)
        except RayActorError as exc:
            self._failed(task, f"Ray worker lost: {str(exc).splitlines()[0]}")
            return False
        except RayTaskError as exc:
            self._failed(task, f"on the node: {str(exc).strip().splitlines()[-1]}")
            return True
        self._record(task, result)
        return True
