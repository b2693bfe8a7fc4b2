"""The locate cache: scripted targets found once are reused while they still look the same.

    fingerprint.py   crops around targets; is it still there, or uniquely elsewhere?
    store.py         cache.yaml + PNG crops in one folder: validated, locked, atomic
    folder.py        the folder as untrusted input: links refused, reads share the lock
    identity.py      the model and screen an entry is valid for; secrets as keyed hashes
    policy.py        hit / relocated / miss / off during a run; secrets kept out

Where a cache lives: next to its task file (``notes.yaml`` -> ``notes.cache/``)
unless the task says ``cache: {path: DIR}``; for the Python API under
``~/.cache/screenpilot/locate/<name>``. ``SCREENPILOT_LOCATE_CACHE=DIR`` moves
every default location under DIR (``off``: no cache unless a path is given).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from agent.cache.identity import (
    ModelIdentity,
    identity_of,
    instruction_identity,
    model_identity,
)
from agent.cache.policy import CACHE_MODES, CacheMode, LocateCache, parse_mode
from agent.cache.store import LocateStore

__all__ = [
    "CACHE_MODES",
    "CacheMode",
    "LocateCache",
    "LocateStore",
    "ModelIdentity",
    "api_folder",
    "identity_of",
    "instruction_identity",
    "model_identity",
    "parse_mode",
    "task_folder",
]

ENV_ROOT = "SCREENPILOT_LOCATE_CACHE"


def _root_override() -> Path | None | bool:
    value = os.environ.get(ENV_ROOT, "").strip()
    if not value:
        return None
    if value.lower() in ("off", "none", "0"):
        return False
    return Path(value).expanduser()


def task_folder(task_file: str | Path) -> Path | None:
    """The default cache folder of a task file; None when $SCREENPILOT_LOCATE_CACHE is off."""
    path = Path(task_file).resolve()
    root = _root_override()
    if root is False:
        return None
    if root is None:
        return path.with_name(f"{path.stem}.cache")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return Path(root) / f"{path.stem}-{digest}"  # type: ignore[arg-type]


def api_folder(name: str) -> Path | None:
    """The default cache folder of a Python API agent called `name`."""
    root = _root_override()
    if root is False:
        return None
    if root is None:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        root = base / "screenpilot" / "locate"
    safe = re.sub(r"[^\w.-]+", "-", name).strip("-.") or "api"
    return Path(root) / safe  # type: ignore[arg-type]
