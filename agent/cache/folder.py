"""The cache folder as untrusted input: links refused, foreign folders left alone, reads shared.

A cache folder may come with a repository (README says to commit it), so
anyone may have put anything there: a ``.lock`` that is a symbolic link to a
file of the user's, a cache folder that is a link elsewhere, other tools' files.
`check_folder` refuses the first two (an `InputError`, one line, before
anything runs) and refuses to write a cache into a folder holding other files
and no cache.yaml; `shared_lock` lets readers share the lock file instead of
taking the exclusive lock, and never creates or writes it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actions.project_errors import InputError

OWN_NAMES = re.compile(
    r"^(cache\.yaml|\.lock|[0-9a-f]{16}\.png|\.(cache\.yaml|[0-9a-f]{16}\.png)\.\d+\.tmp)$"
)
"""Names the store writes: anything else in a folder means it is not (only) a cache."""


def _check_chain(folder: Path, base: Path | None) -> None:
    """An InputError when `folder` (or a part of it below `base`) is a symbolic link."""
    parts = [folder]
    if base is not None:
        try:
            relative = folder.absolute().relative_to(base.absolute())
        except ValueError:
            relative = None
        if relative is not None:
            parts = [base.absolute() / Path(*relative.parts[: i + 1])
                     for i in range(len(relative.parts))]  # fmt: skip
    for part in parts:
        if part.is_symlink():
            raise InputError(
                f"{part}: the locate cache folder is (or goes through) a symbolic link; "
                "refusing to follow it (use a real folder)"
            )


def check_folder(folder: Path, base: Path | None, *, writing: bool = False) -> None:
    """Refuse a folder that is not safe to use.

    Args:
        base: the trusted folder `folder` was named from (a task file's folder): no part
            of the path below it may be a symbolic link.

    Raises:
        InputError: the folder or its path is a symbolic link, its ``.lock`` is not a
            plain file, or (writing) it holds other files and no cache.yaml.
    """
    _check_chain(folder, base)
    lock = folder / ".lock"
    if lock.is_symlink() or (lock.exists() and not lock.is_file()):
        raise InputError(f"{lock}: not a plain file (a symbolic link?); refusing to lock it")
    if writing and folder.is_dir() and not (folder / "cache.yaml").exists():
        foreign = sorted(p.name for p in folder.iterdir() if not OWN_NAMES.match(p.name))
        if foreign:
            raise InputError(
                f"{folder}: not a screenpilot locate cache (it holds {foreign[0]!r} "
                "and no cache.yaml); choose an empty or new folder for the cache"
            )


@contextmanager
def shared_lock(path: Path, timeout: float) -> Iterator[None]:
    """A shared flock on `path` while reading, when the file is there; it is never created.

    Writers hold the exclusive flock (filelock) on the same file and replace files
    atomically, so a read without the lock still sees a whole cache.yaml; the shared
    lock only keeps a writer from removing crops mid-read. Opened without following a
    link (O_NOFOLLOW).
    """
    try:
        import fcntl
    except ImportError:  # Windows: writes are atomic, read without it
        yield
        return
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_CLOEXEC", "O_NOFOLLOW"):
        flags |= getattr(os, name, 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # no lock file yet, or not readable: read without it
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break  # a writer holds it too long: read anyway (writes are atomic)
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the shared lock
