"""The ScreenSpot run: ground every sample, resumably, batched, with images decoded ahead.

* **Resumable, crash-safe**: finished samples go to a journal
  (`agent.eval.journal`); a rerun with the same settings skips every sample id
  found there (or in a finished ``--out`` of the same run). A SIGKILL loses at
  most the samples in flight. The final file is written to a temporary file and
  renamed over ``--out``.
* **Fast**: a background thread decodes each screenshot and resizes it to the
  model's input size while the model works on the previous batch; batches go
  to the model's `answer` (batched generation locally, bounded concurrent
  requests for an OpenAI-compatible server).
* **Judged as the official harness**: every answer is read by the run's parser,
  chosen from the profile (`agent.eval.protocol`), in the frame the model
  answered in (the reply's resized size and coordinate space); never clamped or
  repaired under ``--parser official``. The official rows are always the first
  pass; ``--zoom`` refinements go to their own non-official rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from actions.frames import CoordinateFrame
from actions.project_errors import InputError
from agent.eval.harness_readers import ParserName, Reading, to_pixels
from agent.eval.journal import Outcome, Sidecar, sidecar_path
from agent.eval.metrics import Correctness, judge_fraction, judge_point
from agent.eval.protocol import AnswerParser, answer_parser, deviations, protocol_record
from agent.eval.results import build_report, load_results, write_json_atomic
from agent.eval.samples import Dataset, Sample
from agent.eval.two_stage_eval import ground_in_two_stages
from agent.eval.zoom import SecondPass, second_pass
from agent.models.base import ModelReply, ModelRequest
from agent.models.spec import ModelSpec

log = logging.getLogger(__name__)


class RunSettings(BaseModel):
    """What changes the answers of a run (a resumed run must match these)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: ModelSpec
    zoom: bool = False
    zoom_size: tuple[float, float] | tuple[int, int] | None = None
    parser: ParserName = "official"
    # Why the profile pinned in `spec` was chosen (detected, --family); not a setting.
    profile_reason: str | None = None

    def fingerprint(self) -> str:
        spec = self.spec.model_dump(
            mode="json",
            exclude={"api_key", "batch_size", "concurrency", "timeout", "retries", "endpoints"},
        )
        blob = json.dumps(
            {"spec": spec, "limits": self.spec.pixel_limits(), "prefill": self.spec.use_prefill(),
             "zoom": self.zoom, "zoom_size": self.zoom_size, "parser": self.parser},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
        return spec.concurrency * (1 + len(spec.endpoints))
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
        # The profile is the one the model will run with (cmd_eval pins it in the spec).
        self.profile = spec.resolve().profile if spec.backend != "ocr" else None
        family = spec.family if spec.coordinate_override() is not None else None
        self.parser: AnswerParser = answer_parser(
            settings.parser, self.profile, backend=spec.backend, family=family
        )
        if spec.two_stage is not None and (settings.zoom or spec.backend == "ocr"):
            other = "--zoom" if settings.zoom else "--backend ocr"
            raise InputError(f"--two-stage cannot run with {other} (choose one)")
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
                        self._ground(model, batch, done, stats, started, on_progress)
                        batch = []
                if batch:
                    self._ground(model, batch, done, stats, started, on_progress)
            stats.seconds = time.perf_counter() - started
        finally:
            self.sidecar.close()
        report = self._write_final(done, stats)
        return report, stats

    def _answer(
        self, model: Any, images: list[Image.Image], instructions: list[str]
    ) -> list[ModelReply]:
        """The model's raw answers, each with the frame (resized size, coordinate space) it
        answered in and its profile."""
        requests = [
            ModelRequest(kind="ground", image=image, instruction=text)
            for image, text in zip(images, instructions, strict=True)
        ]
        replies = model.answer(requests)
        for reply in replies:
            if reply.profile != self.parser.profile and reply.profile is not None:
                raise InputError(
                    f"the model answered as profile {reply.profile}, but this run reads "
                    f"answers as profile {self.parser.profile}'s; pass --profile {reply.profile}"
                )
        return replies

    def _read(self, reply: ModelReply) -> Reading:
        """The run's parser on one answer, in the frame the model answered in."""
        return self.parser.read(reply.raw, reply.frame)

    def _ground(
        self,
        model: Any,
        batch: list[Prepared],
        done: dict[str, Outcome],
        stats: RunStats,
        started: float,
        on_progress: Callable[[RunStats], None] | None,
    ) -> None:
        if self.settings.spec.two_stage is not None:
            self._ground_two_stage(model, batch, done, stats, started, on_progress)
            return
        t0 = time.perf_counter()
        instructions = [p.sample.instruction for p in batch]
        replies = self._answer(model, [p.model_image for p in batch], instructions)  # type: ignore[misc]
        readings = [self._read(r) for r in replies]
        firsts = [
            to_pixels(r.point, p.sample.img_size) for r, p in zip(readings, batch, strict=True)
        ]
        seconds = (time.perf_counter() - t0) / len(batch)
        zoomed: dict[int, SecondPass] = {}
        if self.settings.zoom:
            t1 = time.perf_counter()
            zoomed = second_pass(
                [p.original for p in batch], instructions,
                [None if r.refused else first for r, first in zip(readings, firsts, strict=True)],
                self.settings.zoom_size,
                ground=lambda images, texts: self._answer(model, images, texts),
                read=self._read,
            )  # fmt: skip
            seconds += (time.perf_counter() - t1) / len(batch)
        for i, (prepared, reply) in enumerate(zip(batch, replies, strict=True)):
            sample, reading = prepared.sample, readings[i]
            verdict = judge_fraction(reading.point, sample.bbox, sample.img_size)
            outcome = Outcome(
                sample_id=sample.sample_id,
                row=_official_row(sample, firsts[i], reply.raw, verdict),
                extra={
                    "sample_id": sample.sample_id,
                    "img_size": list(sample.img_size),
                    "error": reading.error,
                    "refused": reading.refused,
                    "seconds": round(seconds, 4),
                    "visual_tokens": reply.visual_tokens,
                    "model_size": list(reply.frame.model_size),
                    "pred_fraction": list(reading.point) if reading.point else None,
                },
            )
            if self.settings.zoom:
                self._refine(outcome, sample, firsts[i], reply.raw, zoomed.get(i))
            self.sidecar.append(outcome)
            done[sample.sample_id] = outcome
            stats.done_now += 1
            stats.correct += outcome.row["correctness"] == "correct"
        stats.seconds = time.perf_counter() - started
        if on_progress is not None:
            on_progress(stats)

    def _ground_two_stage(
        self,
        model: Any,
        batch: list[Prepared],
        done: dict[str, Outcome],
        stats: RunStats,
        started: float,
        on_progress: Callable[[RunStats], None] | None,
    ) -> None:
        """`_ground` for a two-stage run (`agent.eval.two_stage_eval`), one sample at a time."""
        settings = self.settings.spec.two_stage
        assert settings is not None
        answer = partial(self._answer, model)
        for prepared in batch:
            sample, t0 = prepared.sample, time.perf_counter()
            image = prepared.original
            assert image is not None
            found = ground_in_two_stages(
                model, image, sample.instruction, settings, answer, self._read
            )
            pred = list(found.point) if found.point is not None else None
            width, height = sample.img_size
            outcome = Outcome(
                sample_id=sample.sample_id,
                row=_official_row(sample, pred, found.raw, judge_point(pred, sample.bbox)),
                extra={
                    "sample_id": sample.sample_id, "img_size": list(sample.img_size),
                    "error": found.error, "refused": False,
                    "seconds": round(time.perf_counter() - t0, 4),
                    "visual_tokens": found.visual_tokens, "model_size": list(found.model_size),
                    "pred_fraction": [pred[0] / width, pred[1] / height] if pred else None,
                    "two_stage": found.two_stage,
                },
            )  # fmt: skip
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
            if reading.point is not None and not reading.refused:
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

    def _write_final(self, done: dict[str, Outcome], stats: RunStats) -> dict[str, Any]:
        ordered = [done[s.sample_id] for s in self.dataset.samples if s.sample_id in done]
        spec = self.settings.spec
        skipped = len(self.dataset.skipped) + len(stats.skipped_bad)
        found = deviations(self.parser, spec, self.profile, skipped=skipped)
        protocol = protocol_record(self.parser, spec, found, reason=self.settings.profile_reason)
        run = {
            "tool": "screenpilot",
            "dataset": str(self.dataset.root),
            "format": self.dataset.format.value,
            "model": spec.describe(),
            "backend": spec.backend,
            "profile": protocol["profile"],
            "protocol": protocol,  # the same object as the file's top-level "protocol"
            "zoom": {"enabled": self.settings.zoom, "size": self.settings.zoom_size},
            "two_stage": protocol.get("two_stage"),  # None: one pass (the official protocol)
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
            protocol=protocol,
            zoom_rows=[o.zoom_row for o in zoomed] if self.settings.zoom else None,  # type: ignore[misc]
            zoom_extra=[o.zoom_extra for o in zoomed] if self.settings.zoom else None,  # type: ignore[misc]
        )
        write_json_atomic(self.out, report)
        self.sidecar.path.unlink(missing_ok=True)
        return report
