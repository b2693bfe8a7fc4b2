"""The locate cache on disk: ``cache.yaml`` plus one PNG crop per entry, in one folder.

Layout (by default next to the task file, ``notes.yaml`` -> ``notes.cache/``)::

    cache.yaml           the entries, human-readable; commit it with the task
    <sha16>.png          each entry's crop, named after its pixels' SHA-256
    .lock                held while the folder is written

Reading takes a snapshot (the YAML and every crop it names) under a shared
lock (or none: it never creates or writes a file). Writing takes the
exclusive lock, re-reads the file, applies the change, writes new crops
(content-addressed, so a crop file never changes once written), then replaces
the YAML atomically (temporary file, fsync, rename) and removes the crops its
own index named and no longer does: two runs of the same task at once each
see a whole file, and neither loses the other's entries.

The folder is untrusted too (it may come with a repository): a cache folder,
or a component of the path from the task's folder to it, that is a symbolic
link is refused, and so is a ``.lock`` that is not a plain file; a folder
holding other files and no cache.yaml is not written into; `clear` removes
only a file that carries this format's header, and only the crops it names.

The file is untrusted input, like a task file: one that cannot be parsed, is
not a locate cache, or holds an invalid entry is an `InputError` naming the
file, line and field (exit code 2, before anything runs). A crop that is
missing, unreadable or not the picture its checksum names only drops its
entry, with a warning: the next miss stores it again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from actions.project_errors import InputError
from actions.vocabulary import Platform
from agent.cache.folder import check_folder, shared_lock
from agent.cache.identity import LocateKey, ModelIdentity, ScreenIdentity

log = logging.getLogger(__name__)

FORMAT = "screenpilot-locate-cache"
VERSION = 1
CACHE_FILE = "cache.yaml"
LOCK_FILE = ".lock"
LOCK_TIMEOUT = 30.0
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_VARIANTS = 4
"""Entries kept per key: one instruction may name targets on several different screens."""
_CROP_NAME = re.compile(r"^[0-9a-f]{16}\.png$")
_NAMED_CROP = re.compile(r"\b([0-9a-f]{16}\.png)\b")
MARK = "# screenpilot locate cache:"
HEADER = (
    "# screenpilot locate cache: where scripted targets were found, and a crop of each\n"
    "# (the PNG files beside this one) that must still match the screen before a\n"
    "# position is reused. Safe to delete; `agent cache show|clear TASK` lists or clears it.\n"
)

Coordinate = Annotated[float, Field(ge=0, le=100_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CropRef(_Strict):
    """Where an entry's crop was taken, and which PNG holds it."""

    file: Annotated[str, Field(pattern=_CROP_NAME.pattern)]
    x: Annotated[int, Field(ge=0)]
    y: Annotated[int, Field(ge=0)]
    width: Annotated[int, Field(gt=0, le=4096)]
    height: Annotated[int, Field(gt=0, le=4096)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Entry(_Strict):
    """One target found once: where, by which model, on which screen, and what it looked like."""

    instruction: Annotated[str, Field(min_length=1, max_length=2000)]
    verb: Annotated[str, Field(min_length=1, max_length=40)] = "click"
    model: ModelIdentity
    platform: Platform
    screen: ScreenIdentity
    point: tuple[Coordinate, Coordinate]
    box: tuple[Coordinate, Coordinate, Coordinate, Coordinate] | None = None
    crop: CropRef
    context: CropRef | None = None
    """A wider strip of the target's row, kept when the crop alone had look-alikes on screen
    (the same Delete button on every row): a hit needs it to match too."""
    source: Literal["run", "compile"] = "run"
    learned: Annotated[str, Field(max_length=40)] = ""

    @model_validator(mode="after")
    def _inside(self) -> Entry:
        w, h = self.screen.width, self.screen.height
        if not (self.point[0] < w and self.point[1] < h):
            raise ValueError(f"point {list(self.point)} is outside the {w}x{h} screen")
        c = self.crop
        if c.x + c.width > w or c.y + c.height > h:
            raise ValueError(f"crop {c.width}x{c.height}+{c.x}+{c.y} is outside the {w}x{h} screen")
        # a hit acts at the point after checking the crop: the point must be what was checked
        if not (c.x <= self.point[0] < c.x + c.width and c.y <= self.point[1] < c.y + c.height):
            raise ValueError(f"point {list(self.point)} is outside its crop")
        k = self.context
        if k is not None and not (
            k.x <= c.x and k.y <= c.y and c.x + c.width <= k.x + k.width
            and c.y + c.height <= k.y + k.height and k.x + k.width <= w and k.y + k.height <= h
        ):  # fmt: skip
            raise ValueError("context strip does not hold the crop inside the screen")
        return self

    @property
    def files(self) -> set[str]:
        """The PNG files this entry names."""
        return {self.crop.file} | ({self.context.file} if self.context is not None else set())

    @property
    def shas(self) -> set[str]:
        return {self.crop.sha256} | ({self.context.sha256} if self.context else set())

    @property
    def key(self) -> LocateKey:
        return LocateKey(
            instruction=self.instruction,
            model=self.model,
            platform=self.platform,
            screen=self.screen,
        )


class CacheFile(_Strict):
    """The whole cache.yaml."""

    format: Literal["screenpilot-locate-cache"]
    version: Literal[1]
    entries: list[Entry] = Field(default_factory=list)


def crop_digest(pixels: np.ndarray) -> str:
    """SHA-256 of a crop's pixels and size (independent of how the PNG was compressed)."""
    digest = hashlib.sha256(f"{pixels.shape[1]}x{pixels.shape[0]}\n".encode())
    digest.update(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def crop_file(sha256: str) -> str:
    return f"{sha256[:16]}.png"


# -- reading ---------------------------------------------------------------------------
def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line (1-based) of the deepest YAML node on a pydantic error location."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if str(k.value) == str(part)]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _problem(path: Path, line: int | None, field: str, problem: str) -> InputError:
    where = f"{path}:{line}" if line else str(path)
    hint = f" (fix it, or start afresh with: agent cache clear {path.parent})"
    return InputError(f"{where}: {field + ': ' if field else ''}{problem}{hint}")


def parse_cache(text: str, path: Path) -> CacheFile:
    """Validate cache.yaml's text; an `InputError` names the file, line and field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "syntax error"
        raise _problem(path, mark.line + 1 if mark else None, "yaml", problem) from None
    except yaml.YAMLError as exc:
        raise _problem(path, None, "yaml", str(exc).splitlines()[0]) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _problem(path, None, "", f"not a screenpilot locate cache (no 'format: {FORMAT}')")
    if isinstance(data.get("version"), int) and data["version"] > VERSION:
        raise _problem(
            path, None, "version", f"written by a newer screenpilot (version {data['version']})"
        )
    try:
        return CacheFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err.get("loc", ()) if not str(p).startswith("function-"))
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown key"
        raise _problem(path, _line_of(node, loc), field, message) from None


def _read_crop(folder: Path, ref: CropRef, instruction: str) -> np.ndarray | None:
    """A crop an entry names, or None (with a warning) when it is missing or not what was
    stored."""
    path = folder / ref.file
    problem = None
    pixels = None
    if path.is_symlink() or not path.is_file():
        problem = "missing" if not path.is_symlink() else "a symbolic link"
    else:
        try:
            with Image.open(path) as image:
                if image.size != (ref.width, ref.height):
                    problem = f"{image.size[0]}x{image.size[1]}, not the recorded size"
                else:
                    pixels = np.asarray(image.convert("RGB")).copy()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            problem = f"unreadable ({exc})"
        if pixels is not None and crop_digest(pixels) != ref.sha256:
            problem, pixels = "changed since it was stored (checksum differs)", None
    if problem:
        log.warning("%s: crop of %r is %s; that entry is ignored", path, instruction, problem)
    return pixels


class Snapshot(BaseModel):
    """The entries of a cache and their crops, as read at one moment."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    entries: list[Entry] = Field(default_factory=list)
    crops: dict[str, Any] = Field(default_factory=dict, description="sha256 -> pixels")

    def usable(self, key: LocateKey) -> list[tuple[Entry, np.ndarray]]:
        """The entries for `key` whose crops (and context strip) could be read, in order."""
        return [
            (e, self.crops[e.crop.sha256])
            for e in self.entries
            if e.key == key and all(sha in self.crops for sha in e.shas)
        ]


# -- the folder ------------------------------------------------------------------------
class LocateStore:
    """One cache folder: read it, change it under the lock, clear it."""

    def __init__(self, folder: str | Path, *, base: str | Path | None = None) -> None:
        """
        Args:
            base: the trusted folder `folder` was named from (a task file's folder):
                no part of the path below it may be a symbolic link.
        """
        self.folder = Path(folder)
        self.file = self.folder / CACHE_FILE
        self.base = Path(base) if base is not None else None

    def check(self, *, writing: bool = False) -> None:
        """Refuse a folder that is not safe to use (`agent.cache.folder.check_folder`)."""
        check_folder(self.folder, self.base, writing=writing)

    def _lock(self) -> Any:
        from filelock import FileLock

        self.check()
        return FileLock(str(self.folder / LOCK_FILE), timeout=LOCK_TIMEOUT)

    def _shared(self) -> Any:
        self.check()
        return shared_lock(self.folder / LOCK_FILE, LOCK_TIMEOUT)

    def _read_file(self) -> CacheFile:
        if not self.file.exists():
            return CacheFile(format=FORMAT, version=VERSION)
        if self.file.is_symlink() or not self.file.is_file():
            raise _problem(self.file, None, "", "not a regular file")
        try:
            size = self.file.stat().st_size
            if size > MAX_FILE_BYTES:
                raise _problem(self.file, None, "", f"too large ({size} bytes)")
            text = self.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _problem(self.file, None, "", f"cannot read: {exc}") from None
        return parse_cache(text, self.file)

    def _snapshot(self, data: CacheFile, known: dict[str, Any] | None = None) -> Snapshot:
        crops: dict[str, Any] = {}
        for entry in data.entries:
            for ref in (entry.crop, entry.context):
                if ref is None or ref.sha256 in crops:
                    continue
                pixels = (known or {}).get(ref.sha256)
                if pixels is None:
                    pixels = _read_crop(self.folder, ref, entry.instruction)
                if pixels is not None:
                    crops[ref.sha256] = pixels
        return Snapshot(entries=list(data.entries), crops=crops)

    def load(self) -> Snapshot:
        """The entries and crops now on disk (an empty snapshot when there is no cache yet).

        Raises:
            InputError: cache.yaml is unreadable, foreign or invalid.
        """
        self.check()
        if not self.file.exists():
            return Snapshot()
        with self._shared():
            return self._snapshot(self._read_file())

    def update(
        self,
        change: Callable[[list[Entry]], list[Entry]],
        new_crops: dict[str, np.ndarray],
        known: dict[str, Any] | None = None,
    ) -> Snapshot:
        """Apply `change` to the entries on disk now, write the result, return the new snapshot.

        `new_crops` (sha256 -> pixels) are written before the YAML that names them.
        """
        self.check(writing=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock():
            before = list(self._read_file().entries)
            entries = change(list(before))
            for sha, pixels in new_crops.items():
                if any(sha in e.shas for e in entries):
                    self._write_crop(sha, pixels)
            self._write_entries(entries)
            self._remove_unused(set().union(*(e.files for e in before)), entries)
            return self._snapshot(
                CacheFile(format=FORMAT, version=VERSION, entries=entries),
                {**(known or {}), **new_crops},
            )

    def clear(self, instruction: str | None = None) -> int | None:
        """Remove every entry (or those of one instruction); the number removed.

        Clearing everything also works on an unreadable file of this format (that is
        when it is needed): then None is returned. Only this store's own files go:
        cache.yaml, the crops it names, its lock, and the folder if that leaves it empty.

        Raises:
            InputError: cache.yaml is not a screenpilot locate cache (nothing is removed),
                or the folder is unsafe (`check`).
        """
        self.check()
        if not self.file.exists() and not self.file.is_symlink():
            return 0
        unreadable = False
        with self._lock():
            try:
                entries = self._read_file().entries
                named = set().union(*(e.files for e in entries))
            except InputError:
                if instruction is not None:
                    raise
                named = self._names_in_unreadable_file()
                entries, unreadable = [], True
            kept = [e for e in entries if instruction is not None and e.instruction != instruction]
            if kept:
                self._write_entries(kept)
            else:
                self.file.unlink()
            self._remove_unused(named, kept)
        if not kept:
            for leftover in (self.folder / LOCK_FILE, self.folder):
                try:
                    if leftover.is_symlink():
                        continue
                    leftover.unlink() if leftover.is_file() else leftover.rmdir()
                except OSError:  # another run holds it, or the user keeps other files there
                    pass
        return None if unreadable else len(entries) - len(kept)

    def _names_in_unreadable_file(self) -> set[str]:
        """The crops a damaged cache.yaml names, if it is one of ours; else an InputError."""
        if self.file.is_symlink() or not self.file.is_file():
            raise _problem(self.file, None, "", "not a regular file; nothing removed")
        try:
            with open(self.file, "rb") as handle:
                text = handle.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"{self.file}: cannot read: {exc}; nothing removed") from None
        if not (text.startswith(MARK) or re.search(rf"(?m)^format:\s*{FORMAT}\s*$", text)):
            raise InputError(
                f"{self.file}: not a screenpilot locate cache (no '{MARK}' header, no "
                f"'format: {FORMAT}'); nothing removed"
            )
        return set(_NAMED_CROP.findall(text))

    # -- writing ----------------------------------------------------------------------
    def _atomic_write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _write_crop(self, sha: str, pixels: np.ndarray) -> None:
        path = self.folder / crop_file(sha)
        if path.is_file() and not path.is_symlink():
            return  # content-addressed: the same name is the same picture
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, "PNG")
        self._atomic_write(path, buffer.getvalue())

    def _write_entries(self, entries: list[Entry]) -> None:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "entries": [e.model_dump(mode="json") for e in entries],
        }
        text = HEADER + yaml.safe_dump(
            data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
        )
        self._atomic_write(self.file, text.encode("utf-8"))

    def _remove_unused(self, named: set[str], entries: list[Entry]) -> None:
        """Remove the crops cache.yaml named (`named`) that `entries` no longer name.

        Never a file the index did not list: a hex-named PNG someone else put in the
        folder is not ours to delete.
        """
        used = set().union(*(e.files for e in entries))
        for name in sorted(named - used):
            path = self.folder / name
            if _CROP_NAME.match(name) and (path.is_file() or path.is_symlink()):
                path.unlink(missing_ok=True)  # a link itself, never what it points to
