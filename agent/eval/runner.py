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
* **Judged as the official harness**: every answer is read by the run's parser
  (`agent.eval.answers`), never clamped or repaired under ``--parser official``.
  The official rows are always the first pass; ``--zoom`` refinements go to
  their own non-official rows.
"""

from __future__ import annotations

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

from filelock import FileLock, Timeout
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from actions.errors import InputError
from actions.frames import CoordinateFrame
from agent.eval.answers import AnswerParser, ParserName, Reading, answer_parser, to_pixels
from agent.eval.metrics import Correctness, judge_fraction, judge_point
from agent.eval.results import build_report, load_results, make_protocol, write_json_atomic
from agent.eval.zoom import SecondPass, second_pass
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
    parser: ParserName = "official"

    def fingerprint(self) -> str:
        spec = self.spec.model_dump(
            mode="json", exclude={"api_key", "batch_size", "concurrency", "timeout", "retries"}
        )
        blob = json.dumps(
            {"spec": spec, "limits": self.spec.pixel_limits(), "prefill": self.spec.use_prefill(),
             "zoom": self.zoom, "zoom_size": self.zoom_size, "parser": self.parser},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Outcome(BaseModel):
    """One finished sample: the official row, screenpilot's extra record, and with --zoom
    the (non-official) refined row and its crop record."""

    sample_id: str
    row: dict[str, Any]
    extra: dict[str, Any]
    zoom_row: dict[str, Any] | None = None
    zoom_extra: dict[str, Any] | None = None


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


def _official_row(
    sample: Sample, pred: list[float] | None, raw: str, correctness: Correctness
) -> dict[str, Any]:
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
        "pred": pred,
        "raw_response": raw,
        "bbox": [int(v) if float(v).is_integer() else v for v in sample.bbox],
        "correctness": correctness,
    }


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
        spec = settings.spec
        # Chosen before any model loads: no official reader is a one-line error up front.
        self.parser: AnswerParser = answer_parser(
            settings.parser, spec.family, backend=spec.backend
        )
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
        zoom = previous.zoom_refined
        zoom_rows = zoom.details if zoom is not None else []
        zoom_extras = (zoom.extra or []) if zoom is not None else []
        done = {}
        for index, (row, extra) in enumerate(zip(previous.details, previous.extra, strict=False)):
            refined = zoom_rows[index] if index < len(zoom_rows) else None
            crop = zoom_extras[index] if index < len(zoom_extras) else None
            done[extra.sample_id] = Outcome(
                sample_id=extra.sample_id, row=row.official(), extra=extra.model_dump(),
                zoom_row=refined.official() if refined is not None else None,
                zoom_extra=crop.model_dump() if crop is not None else None,
            )  # fmt: skip
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

    def _read(self, result: Any, family: Any) -> Reading:
        """The run's parser on one answer, in the frame of the image the model saw."""
        frame = CoordinateFrame(
            family=family, image_size=result.image_size, model_size=result.model_size
        )
        return self.parser.read(result.raw, frame)

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
        readings = [self._read(r, model.family) for r in results]
        firsts = [
            to_pixels(r.point, p.sample.img_size) for r, p in zip(readings, batch, strict=True)
        ]
        seconds = (time.perf_counter() - t0) / len(batch)
        zoomed: dict[int, SecondPass] = {}
        if self.settings.zoom:
            t1 = time.perf_counter()
            zoomed = second_pass(
                [p.original for p in batch], instructions, firsts, self.settings.zoom_size,
                ground=lambda images, texts: ground_batch(model, images, texts),
                read=lambda result: self._read(result, model.family),
            )  # fmt: skip
            seconds += (time.perf_counter() - t1) / len(batch)
        for i, (prepared, result) in enumerate(zip(batch, results, strict=True)):
            sample, reading = prepared.sample, readings[i]
            verdict = judge_fraction(reading.point, sample.bbox, sample.img_size)
            outcome = Outcome(
                sample_id=sample.sample_id,
                row=_official_row(sample, firsts[i], result.raw, verdict),
                extra={
                    "sample_id": sample.sample_id,
                    "img_size": list(sample.img_size),
                    "error": reading.error,
                    "seconds": round(seconds, 4),
                    "visual_tokens": result.visual_tokens,
                    "model_size": list(result.model_size),
                    "pred_fraction": list(reading.point) if reading.point else None,
                },
            )
            if self.settings.zoom:
                self._refine(outcome, sample, firsts[i], result.raw, zoomed.get(i))
            self.sidecar.append(outcome)
            done[sample.sample_id] = outcome
            stats.done_now += 1
            stats.correct += outcome.row["correctness"] == "correct"
        stats.seconds = time.perf_counter() - started
        if on_progress is not None:
            on_progress(stats)

    @staticmethod
    def _refine(
        outcome: Outcome,
        sample: Sample,
        first: list[float] | None,
        first_raw: str,
        zoomed: SecondPass | None,
    ) -> None:
        """Fill the outcome's non-official zoom row: the refined point when the second pass
        read one, else the first pass's."""
        pred, raw, source, window, error = first, first_raw, "first pass", None, None
        if zoomed is not None:
            window, reading, error = zoomed.window, zoomed.reading, zoomed.reading.error
            if reading.point is not None:
                w, h = window.size
                pred = list(window.to_image((reading.point[0] * w, reading.point[1] * h)))
                raw, source = zoomed.raw, "zoom"
        verdict = judge_point(pred, sample.bbox)
        outcome.zoom_row = _official_row(sample, pred, raw, verdict)
        outcome.zoom_extra = {
            "sample_id": sample.sample_id,
            "crop": list(window.box) if window is not None else None,
            "zoom_scale": round(window.scale, 4) if window is not None else None,
            "source": source,
            "error": error,
        }

    def _deviations(self, stats: RunStats) -> list[str]:
        """What makes this run's official rows non-official, each said in one phrase."""
        deviations = []
        if not self.parser.official:
            deviations.append(
                "--parser robust: answers read by the agent's lenient parser (malformed "
                "answers repaired), not by the harness's reader"
            )
        skipped = len(self.dataset.skipped) + len(stats.skipped_bad)
        if skipped:
            deviations.append(
                f"--skip-bad: {skipped} bad record(s) or image(s) left out of every denominator"
            )
        return deviations

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
        zoomed = [o for o in ordered if o.zoom_row is not None] if self.settings.zoom else []
        report = build_report(
            [o.row for o in ordered],
            run=run,
            extra=[o.extra for o in ordered],
            protocol=make_protocol(self.parser.describe(), self._deviations(stats)),
            zoom_rows=[o.zoom_row for o in zoomed] if self.settings.zoom else None,  # type: ignore[misc]
            zoom_extra=[o.zoom_extra for o in zoomed] if self.settings.zoom else None,  # type: ignore[misc]
        )
        write_json_atomic(self.out, report)
        self.sidecar.path.unlink(missing_ok=True)
        return report
