"""The locate cache in a run: look a target up before asking the model, learn it after.

For a scripted step that names a target (``click: "the Save button"``):

* **hit**: an entry for the same instruction, model and screen has a crop that
  still matches the screenshot at its cached place: act there, no model call;
* **relocated**: the crop matches at exactly one other place (the window
  moved): act there, and remember the new place;
* a target whose crop had look-alikes on screen when it was learned (the same
  Delete button on every row) also keeps its row (`context_rect`): a hit or a
  relocation then needs the row to match too, so "Delete in Alice's row" never
  lands on Bob's after the rows were re-sorted;
* **miss**: no entry, or the crop matches nowhere, or at two comparable places
  (never guess between them): the model is asked, and what it found is stored
  once the step has succeeded;
* **off**: the cache is not read (``--cache off`` or ``write``).

Modes: ``read-write`` (default), ``read`` (use, never change: e.g. a cache
committed for CI), ``write`` (always ask the model, refresh every entry),
``off``. A dry run reads but never writes. Goal-mode steps never come here.

Secrets: an instruction holding a secret is stored and looked up by a keyed
hash, never in clear (`agent.cache.identity.instruction_identity`). After text
holding a secret was typed, the band of the screen around
the field it went to (the last point clicked) is never stored, nor is any crop
in which OCR reads a secret. When the field was reached by keyboard (a key
since the last click) or without OCR, nothing more is stored for the rest of
the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from PIL import Image

from actions.project_errors import InputError
from actions.types import Action, Type
from actions.vocabulary import spec_of
from agent.cache.fingerprint import (
    Screen,
    context_rect,
    crop_rect,
    distinct,
    search,
    strip_matches,
    verify_at,
)
from agent.cache.identity import (
    LocateKey,
    ModelIdentity,
    instruction_identity,
    screen_identity,
)
from agent.cache.store import MAX_VARIANTS, CropRef, Entry, LocateStore, Snapshot, crop_digest
from agent.cache.store import crop_file as crop_file_name
from agent.trajectory import CacheUse, StepRecord

log = logging.getLogger(__name__)

CacheMode = Literal["off", "read", "write", "read-write"]
CACHE_MODES: tuple[str, ...] = get_args(CacheMode)
NO_KEY = "not cached: the target holds a secret and there is no key to hash it"
SECRET_BAND = 64
"""Half-height (pixels at scale 1) of the band kept out of the cache around a typed secret."""


def parse_mode(value: str) -> CacheMode:
    """A cache mode from the CLI or a task file; `InputError` names the choices."""
    if value not in CACHE_MODES:
        raise InputError(f"cache mode {value!r}: choose one of {', '.join(CACHE_MODES)}")
    return value  # type: ignore[return-value]


@dataclass
class CacheStats:
    """What the cache did during a run."""

    hits: int = 0
    relocated: int = 0
    misses: int = 0
    stored: int = 0

    @property
    def saved(self) -> int:
        """Model calls the cache made unnecessary."""
        return self.hits + self.relocated


@dataclass
class SecretAreas:
    """Where typed secrets may be visible: bands across the screen around the field typed into."""

    bands: list[tuple[float, float]] = field(default_factory=list)
    everywhere: bool = False
    last_point: tuple[float, float] | None = None

    def pointer(self, x: float, y: float) -> None:
        self.last_point = (x, y)

    def typed_secret(self, scale: float = 1.0) -> None:
        if self.last_point is None:
            self.everywhere = True  # typed into whatever had the focus: nowhere is safe
            return
        half = SECRET_BAND * max(scale, 1.0)
        self.bands.append((self.last_point[1] - half, self.last_point[1] + half))

    def overlaps(self, rect: tuple[int, int, int, int]) -> bool:
        _, top, _, height = rect
        return self.everywhere or any(top < y2 and top + height > y1 for y1, y2 in self.bands)

    def note_action(self, action: Action, secret: bool, scale: float = 1.0) -> None:
        """Follow the pointer, and mark where a secret was typed."""
        if isinstance(action, Type):
            if secret:
                self.typed_secret(scale)
            return
        if spec_of(action).moves_focus:
            self.last_point = None  # the focus may have moved (Tab): where is unknown now
            return
        points = action.points()
        if points:  # where the pointer rests: a drag's or swipe's end
            self.pointer(*points[-1])


def shows_secret(pixels: np.ndarray, secrets: list[str]) -> bool | None:
    """Whether OCR reads a secret in a crop, inside a word too; None when OCR is not installed."""
    from agent.secrets import Redactor
    from agent.secrets import shows_secret as shows_in_text

    try:
        from agent.models.ocr import read_text

        lines = read_text(Image.fromarray(pixels))
    except Exception as exc:  # no OCR extra: the caller decides what is safe
        log.debug("cannot read crops for secrets: %s", exc)
        return None
    redactor = Redactor(secrets)
    return any(shows_in_text(line.text, redactor) for line in lines)


@dataclass
class _Pending:
    entry: Entry
    pixels: dict[str, np.ndarray]  # sha256 -> the crop's (and context strip's) pixels
    replaces: Entry | None = None


class LocateCache:
    """A run's view of one cache folder; see the module docstring."""

    def __init__(
        self,
        store: LocateStore | None,
        identity: ModelIdentity | None,
        mode: CacheMode = "read-write",
        *,
        dry_run: bool = False,
    ) -> None:
        """
        Raises:
            InputError: the cache file is corrupt, foreign or invalid (nothing has run yet).
        """
        self.store = store
        self.identity = identity
        self.mode: CacheMode = mode if store is not None and identity is not None else "off"
        self.reads = self.mode in ("read", "read-write")
        self.writes = self.mode in ("write", "read-write") and not dry_run
        self.snapshot = store.load() if store is not None and self.mode != "off" else Snapshot()
        if store is not None and self.writes:
            store.check(writing=True)  # a folder that is not a cache is refused before running
        self.stats = CacheStats()
        self.secrets = SecretAreas()
        self._pending: dict[int, _Pending] = {}

    @classmethod
    def disabled(cls) -> LocateCache:
        return cls(None, None, "off")

    @property
    def folder(self) -> Path | None:
        return self.store.folder if self.store is not None else None

    def summary(self) -> dict[str, Any]:
        """For run.json: where the cache is, its mode, and what it did."""
        return {
            "folder": str(self.folder) if self.folder else None,
            "mode": self.mode,
            "hits": self.stats.hits,
            "relocated": self.stats.relocated,
            "misses": self.stats.misses,
            "stored": self.stats.stored,
        }

    # -- before the model ----------------------------------------------------------------
    def lookup(
        self, rec: StepRecord, obs: Any, instruction: str,
        secrets: list[str] | tuple[str, ...] | frozenset[str] = (),
    ) -> tuple[float, float] | None:  # fmt: skip
        """The target's point from the cache, or None (ask the model); notes it in `rec`.

        `secrets`: the run's secret values; an instruction holding one is looked up by
        its keyed hash (`instruction_identity`), never by its text.
        """
        start = time.perf_counter()
        try:
            return self._lookup(rec, obs, instruction, secrets)
        finally:
            rec.timings.cache += time.perf_counter() - start

    def _lookup(
        self, rec: StepRecord, obs: Any, instruction: str, secrets: Any
    ) -> tuple[float, float] | None:
        if not self.reads or self.identity is None:
            rec.cache = CacheUse(status="off")
            return None
        identity = instruction_identity(instruction, secrets)
        if identity is None:
            rec.cache = CacheUse(status="off", note=NO_KEY)
            return None
        key = self._key(obs, identity)
        candidates = self.snapshot.usable(key)
        if not candidates:
            self.stats.misses += 1
            rec.cache = CacheUse(status="miss", note="not in the cache")
            return None
        screen = Screen(obs.image)
        best = None
        elsewhere = False  # the crop matched, but its row did not
        for entry, crop in candidates:
            found = verify_at(screen, crop, entry.crop.x, entry.crop.y)
            if found.score.matches:
                if self._row_matches(screen, entry, found):
                    self.stats.hits += 1
                    return self._use(rec, "hit", entry, found, moved=False)
                elsewhere = True
            if best is None or found.score.ncc > best.score.ncc:
                best = found
        places = []
        ambiguous = False
        for entry, crop in candidates:
            found = search(screen, crop)
            similar = [f for f in found if f.score.similar]
            kept = [f for f in similar if self._row_matches(screen, entry, f)]
            elsewhere = elsewhere or len(kept) < len(similar)
            similar = kept
            matching = [f for f in similar if f.score.matches]
            if matching and len(similar) > 1:
                ambiguous = True
            elif len(matching) == 1:
                places.append((entry, matching[0]))
        spots = {(round(e.point[0] + f.x - e.crop.x), round(e.point[1] + f.y - e.crop.y))
                 for e, f in places}  # fmt: skip
        if places and not ambiguous and len(spots) == 1:
            entry, found = places[0]
            self.stats.relocated += 1
            return self._use(rec, "relocated", entry, found, moved=True)
        self.stats.misses += 1
        if ambiguous or len(spots) > 1:
            note = "the cached target matches at more than one place"
        elif elsewhere:
            note = ("the cached target's look-alike is there, but not its row (what is beside "
                    "it changed): asking the model")  # fmt: skip
        else:
            note = "the cached target no longer matches (changed, or not on screen)"
        rec.cache = CacheUse(
            status="miss",
            score=best.score.ncc if best else None,
            changed=best.score.changed if best else None,
            note=note,
        )
        return None

    def _row_matches(self, screen: Screen, entry: Entry, found: Any) -> bool:
        """Whether the entry's context strip (if it has one) matches beside where its crop was
        found."""
        if entry.context is None:
            return True
        pixels = self.snapshot.crops[entry.context.sha256]
        dx, dy = found.x - entry.crop.x, found.y - entry.crop.y
        return strip_matches(screen, pixels, entry.context.x + dx, entry.context.y + dy)

    def _use(
        self, rec: StepRecord, status: Literal["hit", "relocated"], entry: Entry, found: Any,
        *, moved: bool,
    ) -> tuple[float, float]:  # fmt: skip
        dx, dy = found.x - entry.crop.x, found.y - entry.crop.y
        point = (round(entry.point[0] + dx, 2), round(entry.point[1] + dy, 2))
        box = entry.box and (entry.box[0] + dx, entry.box[1] + dy, entry.box[2] + dx,
                             entry.box[3] + dy)  # fmt: skip
        rec.cache = CacheUse(
            status=status,
            score=found.score.ncc,
            changed=found.score.changed,
            moved=(float(dx), float(dy)) if moved else None,
            box=box or None,
            entry=entry.crop.file,
        )
        if moved and self.writes:
            crop = entry.crop.model_copy(update={"x": found.x, "y": found.y})
            context = entry.context and entry.context.model_copy(
                update={"x": entry.context.x + dx, "y": entry.context.y + dy}
            )
            new = entry.model_copy(
                update={"point": point, "box": box, "crop": crop, "context": context}
            )
            pixels = {sha: self.snapshot.crops[sha] for sha in entry.shas}
            self._pending[rec.index] = _Pending(new, pixels, replaces=entry)
        return point

    # -- after the model -----------------------------------------------------------------
    def propose(
        self,
        rec: StepRecord,
        obs: Any,
        instruction: str,
        point: tuple[float, float],
        box: tuple[float, float, float, float] | None,
        secrets: list[str] | tuple[str, ...] = (),
    ) -> None:
        """Prepare an entry for what the model found; stored by `finish` if the step succeeds."""
        if not self.writes or self.identity is None:
            return
        identity = instruction_identity(instruction, secrets)
        if identity is None:
            rec.cache = (rec.cache or CacheUse(status="off")).model_copy(update={"note": NO_KEY})
            return
        geometry = obs.geometry
        rect = crop_rect(point, box, geometry.size, geometry.scale)
        x, y, w, h = rect
        pixels = np.asarray(obs.image.crop((x, y, x + w, y + h)).convert("RGB")).copy()
        reason = None
        if self.secrets.overlaps(rect):
            reason = "near where a secret was typed"
        elif not distinct(pixels):
            reason = "the area is too plain to recognise again"
        elif secrets:
            seen = shows_secret(pixels, list(secrets))
            if seen or (seen is None and (self.secrets.bands or self.secrets.everywhere)):
                reason = "it may show a secret"
        context, strip = None, None
        if reason is None and sum(f.score.similar for f in search(Screen(obs.image), pixels)) > 1:
            # look-alikes on screen: what tells them apart is beside the target (its row)
            cx, cy, cw, ch = context_rect(rect, geometry.size, geometry.scale)
            strip = np.asarray(obs.image.crop((cx, cy, cx + cw, cy + ch)).convert("RGB")).copy()
            if secrets and shows_secret(strip, list(secrets)) is not False:
                reason = "its row may show a secret"
            c_sha = crop_digest(strip)
            context = CropRef(file=crop_file_name(c_sha), x=cx, y=cy, width=cw, height=ch,
                              sha256=c_sha)  # fmt: skip
        if reason is not None:
            note = f"not cached: {reason}"
            rec.cache = (rec.cache or CacheUse(status="off")).model_copy(update={"note": note})
            return
        sha = crop_digest(pixels)
        entry = Entry(
            instruction=identity,
            verb=rec.verb,
            model=self.identity,
            platform=obs.platform,
            screen=screen_identity(geometry),
            point=(round(point[0], 2), round(point[1], 2)),
            box=tuple(round(v, 2) for v in box) if box is not None else None,
            crop=CropRef(file=crop_file_name(sha), x=x, y=y, width=w, height=h, sha256=sha),
            context=context,
            learned=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        crops = {sha: pixels} | ({context.sha256: strip} if context is not None else {})
        self._pending[rec.index] = _Pending(entry, crops)

    def note_action(self, action: Action, secret: bool, scale: float = 1.0) -> None:
        """Called for every action sent: follows the pointer and typed secrets."""
        self.secrets.note_action(action, secret, scale)

    def finish(self, rec: StepRecord) -> None:
        """At the end of every step: store its pending entry if the step succeeded."""
        pending = self._pending.pop(rec.index, None)
        if pending is None or rec.status != "ok" or not rec.sent or not self.writes:
            return
        try:
            self.add([pending.entry], pending.pixels, replaces=pending.replaces)
        except Exception as exc:  # the cache must never fail a step that succeeded
            log.warning("cannot update the locate cache in %s: %s; not writing it any more",
                        self.folder, exc)  # fmt: skip
            self.writes = False
            return
        self.stats.stored += 1
        if rec.cache is not None:
            rec.cache = rec.cache.model_copy(update={"stored": True})

    def add(
        self, entries: list[Entry], crops: dict[str, np.ndarray], *, replaces: Entry | None = None
    ) -> None:
        """Write entries (newest first within their key), keeping at most MAX_VARIANTS per key."""
        assert self.store is not None

        def change(current: list[Entry]) -> list[Entry]:
            for new in entries:
                current = [
                    e for e in current
                    if e != replaces and not (e.key == new.key and e.crop.sha256 == new.crop.sha256)
                ]  # fmt: skip
                same = [i for i, e in enumerate(current) if e.key == new.key]
                current.insert(same[0] if same else len(current), new)
                extra = [e for e in current if e.key == new.key][MAX_VARIANTS:]
                current = [e for e in current if not any(e is x for x in extra)]
            return current

        self.snapshot = self.store.update(change, crops, known=self.snapshot.crops)

    def _key(self, obs: Any, instruction: str) -> LocateKey:
        assert self.identity is not None
        return LocateKey(
            instruction=instruction.strip(),
            model=self.identity,
            platform=obs.platform,
            screen=screen_identity(obs.geometry),
        )
