"""`--ray`: reaching a Ray cluster, and carrying run folders back from its nodes.

Ray's own convention picks the cluster: ``RAY_ADDRESS`` set -> connect to it;
unset -> start a local one for this command (stopped when the command ends),
declaring this machine's screens as custom resources so the same code path
runs on one machine and on many.

A node's disk is not the driver's, so a task's run folder comes back as a
``{relative path: bytes}`` map (`pack`) and is written under the driver's
folder by `unpack`, which treats it as untrusted: only plain relative paths
inside the folder, nothing through a link, and a size bound.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from actions.project_errors import InputError

log = logging.getLogger(__name__)

INSTALL_HINT = "--ray needs Ray: pip install 'screenpilot[ray]'"
X11 = "x11"
"""The custom resource a node declares per private virtual display it can run (Xvfb)."""
PHONE = "android:"
"""A node declares each phone it holds as the custom resource ``android:<adb serial>`` of 1
(``ray start --resources='{"android:emulator-5554": 1}'``): a task's actor asks for one, so it
lands where that phone is attached and never shares it."""
MAX_FOLDER_BYTES = 1 << 30
"""The most a run folder coming back from a node may hold (screenshots included)."""


def import_ray() -> Any:
    """The `ray` module, or a one-line InputError with the install hint."""
    try:
        import ray
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    return ray


@contextmanager
def connected(local_resources: dict[str, float]) -> Iterator[Any]:
    """Connected to ``$RAY_ADDRESS``, else to a local cluster started with `local_resources`.

    Yields the `ray` module; disconnects (and stops a local cluster) at the end.
    """
    ray = import_ray()
    address = os.environ.get("RAY_ADDRESS")
    problem = unreachable(address) if address else None
    if problem:  # Ray itself would retry for minutes, printing warnings
        raise InputError(f"--ray: cannot reach RAY_ADDRESS={address} ({problem})")
    quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", resources=local_resources, include_dashboard=False, **quiet)
            _watch_local_cluster()
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"RAY_ADDRESS={address}" if address else "a local Ray cluster"
        raise InputError(f"--ray: cannot reach {where} ({first})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _watch_local_cluster() -> None:
    """Tie the local cluster's processes (gcs_server, raylet, ...) to this process.

    Measured with Ray 2.60: on a SIGKILL of the driver Ray's own fate sharing ends the
    gcs_server and raylet, but the raylet's DashboardAgent and RuntimeEnvAgent are left
    running; `env.reaper` stops each of them (watched by pid: the raylet is gone first).
    """
    import psutil

    from env.reaper import watch

    try:  # Ray's own node handle: private, so a change there only loses the guard
        import ray._private.worker as ray_worker

        processes = ray_worker._global_node.live_processes()
    except Exception as exc:  # noqa: BLE001
        log.warning("--ray: cannot tie the local cluster to this process (%s)", exc)
        return
    for _kind, process in processes:
        watch(process.pid)
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            watch(child.pid)


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why a ``host:port`` cluster address takes no connection (None: it does, or it is
    another form Ray resolves itself: ``auto``, ``ray://...``)."""
    if "://" in address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def local_screens(workers: int) -> dict[str, float]:
    """What a local cluster declares: one private display per worker where Xvfb exists."""
    return {X11: float(workers)} if shutil.which("Xvfb") else {}


def phone_resource(serial: str) -> str:
    """The custom resource a node declares for the phone with this adb serial."""
    return f"{PHONE}{serial}"


def declared_phones(resources: dict[str, float], given: list[str]) -> dict[str, int]:
    """The phones a cluster declares (serial -> how many nodes hold one by that serial),
    only those `given` where any are (``--android``)."""
    found = {name.removeprefix(PHONE): int(count) for name, count in resources.items()
             if name.startswith(PHONE) and int(count) >= 1}  # fmt: skip
    return {s: n for s, n in found.items() if not given or s in given}


def pack(folder: Path, *, limit: int = MAX_FOLDER_BYTES) -> dict[str, bytes]:
    """Every plain file under `folder` (links skipped), by POSIX relative path."""
    files: dict[str, bytes] = {}
    total = 0
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        total += path.stat().st_size
        if total > limit:
            raise ValueError(f"{folder}: more than {limit} bytes")
        files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def unpack(files: object, folder: Path, *, limit: int = MAX_FOLDER_BYTES) -> int:
    """Write a `pack`ed folder under `folder`; returns the files written.

    Raises:
        ValueError: anything but plain relative paths inside `folder` within `limit`
            bytes; nothing is written then.
    """
    if not isinstance(files, dict):
        raise ValueError("not a folder map")
    checked: list[tuple[PurePosixPath, bytes]] = []
    total = 0
    for name, data in files.items():
        if not isinstance(name, str) or not isinstance(data, bytes):
            raise ValueError("not a folder map")
        rel = PurePosixPath(name)
        if (not name or "\\" in name or "\x00" in name or rel.is_absolute()
                or any(part in ("", ".", "..") for part in name.split("/"))):  # fmt: skip
            raise ValueError(f"refused path {name!r}")
        total += len(data)
        if total > limit:
            raise ValueError(f"more than {limit} bytes")
        checked.append((rel, data))
    for rel, _ in checked:  # a link already in the folder is never written through
        if any(folder.joinpath(*rel.parts[:i]).is_symlink() for i in range(1, len(rel.parts) + 1)):
            raise ValueError(f"refused path {rel.as_posix()!r} (a link)")
    if folder.is_symlink():
        raise ValueError(f"{folder} is a link")
    for rel, data in checked:
        target = folder.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return len(checked)
