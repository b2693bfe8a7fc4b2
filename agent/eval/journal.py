"""The run's journal: each finished sample appended durably, so a killed run resumes.

Each finished sample is one JSON line appended to ``<out>.partial.jsonl`` and
flushed + fsync'd before the next is counted; the first line holds the run's
settings fingerprint. A resumed run with the same settings skips every sample
found there; a torn last line (a kill in mid-write) is cut off, so nothing is
duplicated. A lock file beside the journal keeps two runs off one ``--out``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel

from actions.project_errors import InputError

log = logging.getLogger(__name__)
SIDECAR_SUFFIX = ".partial.jsonl"


class Outcome(BaseModel):
    """One finished sample: the official row, screenpilot's extra record, and with --zoom
    the (non-official) refined row and its crop record."""

    sample_id: str
    row: dict[str, Any]
    extra: dict[str, Any]
    zoom_row: dict[str, Any] | None = None
    zoom_extra: dict[str, Any] | None = None


def sidecar_path(out: Path) -> Path:
    """Where finished samples are appended while a run goes on."""
    return out.with_name(out.name + SIDECAR_SUFFIX)


class Sidecar:
    """The append-only JSONL journal of finished samples (first line: the run fingerprint)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self._fh: Any = None
        # A lock file beside the journal (filelock: flock on POSIX, msvcrt on Windows).
        self._lock = FileLock(str(path) + ".lock", timeout=0)

    def open(self, *, restart: bool) -> dict[str, Outcome]:
        """Lock the journal, read what is done, cut a torn last line; returns id -> outcome."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise InputError(
                f"{self.path} is in use by another run writing the same --out"
            ) from None
        try:
            return self._read_journal(restart=restart)
        except BaseException:
            self.close()
            raise

    def _read_journal(self, *, restart: bool) -> dict[str, Outcome]:
        self._fh = open(self.path, "a+b")  # noqa: SIM115 - held open for the whole run
        if restart:
            self._fh.truncate(0)
        self._fh.seek(0)
        data = self._fh.read()
        done: dict[str, Outcome] = {}
        good_end = 0
        header_ok = False
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn by a kill in mid-write
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                break
            if not header_ok:
                if item.get("fingerprint") != self.fingerprint:
                    raise InputError(
                        f"{self.path} was written by a run with other settings (model, pixels, "
                        "zoom or parser); pass --restart to start over, or choose another --out"
                    )
                header_ok = True
            elif item.get("id") and item["id"] not in done:
                done[item["id"]] = Outcome(
                    sample_id=item["id"], row=item["row"], extra=item["extra"],
                    zoom_row=item.get("zoom_row"), zoom_extra=item.get("zoom_extra"),
                )  # fmt: skip
            good_end += len(line)
        if good_end < len(data):
            log.warning("cutting %d torn bytes off %s", len(data) - good_end, self.path)
            self._fh.truncate(good_end)
        if not header_ok:
            self._fh.truncate(0)
            self._write({"kind": "header", "fingerprint": self.fingerprint})
        return done

    def _write(self, item: dict[str, Any]) -> None:
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(json.dumps(item, ensure_ascii=False).encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def append(self, outcome: Outcome) -> None:
        """Journal one finished sample durably."""
        item = {"id": outcome.sample_id, "row": outcome.row, "extra": outcome.extra}
        if outcome.zoom_row is not None:
            item.update(zoom_row=outcome.zoom_row, zoom_extra=outcome.zoom_extra)
        self._write(item)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock.is_locked:
            try:  # while still held, so no other run can be holding this very file
                Path(self._lock.lock_file).unlink(missing_ok=True)
            except OSError:
                pass  # Windows cannot delete an open file; filelock removes it on release
            self._lock.release()
