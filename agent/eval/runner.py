"""The ScreenSpot run: ground every sample, resumably, batched, with images decoded ahead.

* **Resumable, crash-safe**: each finished sample is one JSON line appended to
  ``<out>.partial.jsonl`` and flushed + fsync'd before the next is counted.
  A rerun with the same settings skips every sample id found there (or in a
  finished ``--out`` of the same run). A SIGKILL loses at most the samples in
  flight; a torn last line is cut off on resume, so nothing is duplicated.
  The final file is written to a temporary file and renamed over ``--out``.
* **Fast**: a background thread decodes each screenshot and resizes it to the
  model's input size while the model works on the previous batch; batches go
  through `ground_batch` (batched generation locally, bounded concurrent
  requests for an OpenAI-compatible server).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from actions.errors import InputError
from actions.frames import CoordinateFrame
from agent.eval.metrics import judge_point
from agent.eval.results import build_report, load_results, write_json_atomic
from agent.eval.zoom import ZoomWindow, tile_windows, zoom_window, zoomed_image
from agent.models.spec import ModelSpec
from tasks.screenspot import Dataset, Sample

log = logging.getLogger(__name__)
SIDECAR_SUFFIX = ".partial.jsonl"


class RunSettings(BaseModel):
    """What changes the answers of a run (a resumed run must match these)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: ModelSpec
    zoom: bool = False
    zoom_size: tuple[float, float] | tuple[int, int] | None = None

    def fingerprint(self) -> str:
        spec = self.spec.model_dump(
            mode="json", exclude={"api_key", "batch_size", "concurrency", "timeout", "retries"}
        )
        blob = json.dumps(
            {"spec": spec, "limits": self.spec.pixel_limits(), "prefill": self.spec.use_prefill(),
             "zoom": self.zoom, "zoom_size": self.zoom_size},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Outcome(BaseModel):
    """One finished sample: the official row and screenpilot's extra record."""

    sample_id: str
    row: dict[str, Any]
    extra: dict[str, Any]


class RunStats(BaseModel):
    """What a run did this time."""

    total: int
    resumed: int
    done_now: int = 0
    correct: int = 0
    seconds: float = 0.0
    skipped_bad: list[str] = Field(default_factory=list)

    @property
    def samples_per_second(self) -> float:
        return self.done_now / self.seconds if self.seconds > 0 else 0.0


def sidecar_path(out: Path) -> Path:
    """Where finished samples are appended while a run goes on."""
    return out.with_name(out.name + SIDECAR_SUFFIX)


class Sidecar:
    """The append-only JSONL journal of finished samples (first line: the run fingerprint)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self._fh: Any = None

    def open(self, *, restart: bool) -> dict[str, Outcome]:
        """Lock the journal, read what is done, cut a torn last line; returns id -> outcome."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+b")  # noqa: SIM115 - held open for the whole run
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise InputError(
                f"{self.path} is in use by another run writing the same --out"
            ) from None
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
                    self.close()
                    raise InputError(
                        f"{self.path} was written by a run with other settings (model, pixels "
                        "or zoom); pass --restart to start over, or choose another --out"
                    )
                header_ok = True
            elif item.get("id") and item["id"] not in done:
                done[item["id"]] = Outcome(
                    sample_id=item["id"], row=item["row"], extra=item["extra"]
                )
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
        self._write({"id": outcome.sample_id, "row": outcome.row, "extra": outcome.extra})

    def close(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class Prepared(BaseModel):
    """A decoded sample, ready for the model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    sample: Sample
    original: Image.Image | None = None
    model_image: Image.Image | None = None
    error: str | None = None


def _decode(sample: Sample, frame_for: Callable[[Image.Image], CoordinateFrame] | None) -> Prepared:
    try:
        with Image.open(sample.image_path) as opened:
            opened.load()
            image = opened.convert("RGB")
    except (FileNotFoundError, UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        where = f"{sample.task_filename} record {sample.record_index}"
        return Prepared(
            sample=sample, error=f"{sample.image_path} ({where}): cannot decode ({exc})"
        )
    model_image = image
    if frame_for is not None:
        size = frame_for(image).model_size
        if size != image.size:
            # PIL's bicubic, as the official harness resizes (`image.resize((w, h))`): the
            # model sees the very pixels it sees there. This runs ahead, off the model's path.
            model_image = image.resize(size, Image.Resampling.BICUBIC)
    return Prepared(sample=sample, original=image, model_image=model_image)


def prefetch(
    samples: list[Sample],
    frame_for: Callable[[Image.Image], CoordinateFrame] | None,
    depth: int,
) -> Iterator[Prepared]:
    """Decode (and resize) samples in a background thread, `depth` ahead of the consumer."""
    q: queue.Queue[Prepared | None] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def work() -> None:
        for sample in samples:
            if stop.is_set():
                return
            q.put(_decode(sample, frame_for))
        q.put(None)

    thread = threading.Thread(target=work, name="screenspot-prefetch", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not None:
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def _official_row(sample: Sample, pred: tuple[float, float] | None, raw: str) -> dict[str, Any]:
    return {
        "img_path": str(sample.image_path),
        "group": sample.group,
        "platform": sample.platform,
        "application": sample.application,
        "lang": sample.lang,
        "instruction_style": sample.instruction_style,
        "prompt_to_evaluate": sample.instruction,
        "gt_type": sample.gt_type,
        "ui_type": sample.ui_type,
        "task_filename": sample.task_filename,
        "pred": list(pred) if pred is not None else None,
        "raw_response": raw,
        "bbox": [int(v) if float(v).is_integer() else v for v in sample.bbox],
        "correctness": judge_point(pred, sample.bbox),
    }


def _point_in_original(
    result: Any, original: Image.Image, family: Any
) -> tuple[float, float] | None:
    """The answer in the original screenshot's pixels, from the model-space point."""
    if result.point is None or result.model_xy is None:
        return None
    if tuple(result.image_size) == original.size:
        return result.point
    frame = CoordinateFrame(family=family, image_size=original.size, model_size=result.model_size)
    return frame.model_to_image(*result.model_xy)


def batch_default(spec: ModelSpec, model: Any) -> int:
    """Samples per model call: the request bound for a server, the batch size on a GPU,
    and 1 on a CPU, where batched generation was measured slower than one at a time
    (bench/eval_throughput.py: padded batches cost more per sample on 2 cores)."""
    if spec.backend == "openai":
        return spec.concurrency
    device = str(getattr(model, "device", "cpu"))
    return spec.batch_size if device.startswith(("cuda", "mps")) else 1


class ScreenSpotRun:
    """One evaluation run over a loaded dataset."""

    def __init__(
        self, dataset: Dataset, settings: RunSettings, out: Path, *, skip_bad: bool = False
    ) -> None:
        self.dataset = dataset
        self.skip_bad = skip_bad
        self.settings = settings
        self.out = out
        self.sidecar = Sidecar(sidecar_path(out), settings.fingerprint())

    def _finished_file(self) -> dict[str, Outcome]:
        """Samples of an earlier, finished run of the same settings written to --out."""
        if not self.out.exists():
            return {}
        try:
            previous = load_results(self.out)
        except InputError:
            return {}
        run = previous.run or {}
        if run.get("fingerprint") != self.settings.fingerprint() or previous.extra is None:
            return {}
        done = {}
        for row, extra in zip(previous.details, previous.extra, strict=False):
            done[extra.sample_id] = Outcome(
                sample_id=extra.sample_id, row=row.official(), extra=extra.model_dump()
            )
        return done

    def run(
        self,
        model: Any,
        *,
        restart: bool = False,
        on_progress: Callable[[RunStats], None] | None = None,
        load_model: Callable[[], Any] | None = None,
        batch_size: int | None = None,
    ) -> tuple[dict[str, Any], RunStats]:
        """Ground every pending sample and write the result file; returns (report, stats).

        `batch_size` None picks `batch_default` for the model's device.
        """
        from agent.grounding import ground_batch

        done = self.sidecar.open(restart=restart)
        try:
            if not restart:
                for key, outcome in self._finished_file().items():
                    if key not in done:
                        self.sidecar.append(outcome)
                        done[key] = outcome
            pending = [s for s in self.dataset.samples if s.sample_id not in done]
            # Batches of one image size pad least; the result file keeps the dataset order.
            pending.sort(key=lambda s: s.img_size)
            stats = RunStats(
                total=len(self.dataset.samples), resumed=len(self.dataset.samples) - len(pending)
            )
            stats.correct = sum(
                1 for s in self.dataset.samples
                if s.sample_id in done and done[s.sample_id].row["correctness"] == "correct"
            )  # fmt: skip
            if pending and model is None and load_model is not None:
                model = load_model()
            started = time.perf_counter()
            if pending:
                spec = self.settings.spec
                chunk = batch_size or batch_default(spec, model)
                frame_for = getattr(model, "frame_for", None)
                batch: list[Prepared] = []
                for item in prefetch(pending, frame_for, depth=2 * chunk):
                    if item.error is not None:
                        stats.skipped_bad.append(item.error)
                        if not self.skip_bad:
                            raise InputError(item.error)
                        continue
                    batch.append(item)
                    if len(batch) >= chunk:
                        self._ground(model, ground_batch, batch, done, stats, started, on_progress)
                        batch = []
                if batch:
                    self._ground(model, ground_batch, batch, done, stats, started, on_progress)
            stats.seconds = time.perf_counter() - started
        finally:
            self.sidecar.close()
        report = self._write_final(done, stats)
        return report, stats

    def _ground(
        self,
        model: Any,
        ground_batch: Callable[..., Any],
        batch: list[Prepared],
        done: dict[str, Outcome],
        stats: RunStats,
        started: float,
        on_progress: Callable[[RunStats], None] | None,
    ) -> None:
        t0 = time.perf_counter()
        instructions = [p.sample.instruction for p in batch]
        results = ground_batch(model, [p.model_image for p in batch], instructions)
        firsts = [
            _point_in_original(r, p.original, model.family)
            for r, p in zip(results, batch, strict=True)
        ]
        seconds = (time.perf_counter() - t0) / len(batch)
        zoomed: dict[int, tuple[ZoomWindow, Any]] = {}
        if self.settings.zoom:
            size = self.settings.zoom_size
            todo: list[tuple[int, ZoomWindow]] = []
            for i, p in enumerate(batch):
                if firsts[i] is not None:
                    todo.append((i, zoom_window(p.original.size, firsts[i], size)))
                else:  # nothing to zoom on: search the quadrants at the zoomed resolution
                    todo.extend((i, w) for w in tile_windows(p.original.size, size))
            if todo:
                t1 = time.perf_counter()
                crops = [zoomed_image(batch[i].original, w) for i, w in todo]
                second = ground_batch(model, crops, [instructions[i] for i, _ in todo])
                for (i, window), result in zip(todo, second, strict=True):
                    if i not in zoomed or (zoomed[i][1].point is None and result.point is not None):
                        zoomed[i] = (window, result)
                seconds += (time.perf_counter() - t1) / len(batch)
        for i, (prepared, result) in enumerate(zip(batch, results, strict=True)):
            sample = prepared.sample
            pred, raw = firsts[i], result.raw
            extra: dict[str, Any] = {
                "sample_id": sample.sample_id,
                "img_size": list(sample.img_size),
                "error": result.error,
                "seconds": round(seconds, 4),
                "visual_tokens": result.visual_tokens,
                "model_size": list(result.model_size),
            }
            if i in zoomed:
                window, second = zoomed[i]
                extra.update(
                    pred_first=list(pred) if pred else None, raw_first=raw, crop=list(window.box),
                    zoom_scale=round(window.scale, 4), error=second.error,
                )  # fmt: skip
                pred = window.to_image(second.point) if second.point is not None else pred
                raw = second.raw
            outcome = Outcome(
                sample_id=sample.sample_id, row=_official_row(sample, pred, raw), extra=extra
            )
            self.sidecar.append(outcome)
            done[sample.sample_id] = outcome
            stats.done_now += 1
            stats.correct += outcome.row["correctness"] == "correct"
        stats.seconds = time.perf_counter() - started
        if on_progress is not None:
            on_progress(stats)

    def _write_final(self, done: dict[str, Outcome], stats: RunStats) -> dict[str, Any]:
        ordered = [done[s.sample_id] for s in self.dataset.samples if s.sample_id in done]
        spec = self.settings.spec
        low, high = spec.pixel_limits()
        run = {
            "tool": "screenpilot",
            "dataset": str(self.dataset.root),
            "format": self.dataset.format.value,
            "model": spec.describe(),
            "backend": spec.backend,
            "family": spec.family.value if spec.family else None,
            "profile": spec.profile,
            "protocol": spec.protocol_record(),
            "min_pixels": low,
            "max_pixels": high,
            "zoom": {"enabled": self.settings.zoom, "size": self.settings.zoom_size},
            "fingerprint": self.settings.fingerprint(),
            "samples": len(ordered),
            "resumed": stats.resumed,
            "seconds": round(stats.seconds, 3),
            "samples_per_second": round(stats.samples_per_second, 4),
            "skipped_bad": [b.describe() for b in self.dataset.skipped] + stats.skipped_bad,
        }
        report = build_report([o.row for o in ordered], run=run, extra=[o.extra for o in ordered])
        write_json_atomic(self.out, report)
        self.sidecar.path.unlink(missing_ok=True)
        return report
