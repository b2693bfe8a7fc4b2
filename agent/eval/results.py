"""The ScreenSpot result file: official detail rows + metrics, read and written safely.

The file is what the official harness writes - ``{"details": [...], "metrics":
{...}}`` with the official row keys - so leaderboard tooling reads ours
unchanged. ``details`` and ``metrics`` always hold the first pass (what the
official harness would record); screenpilot adds top-level keys the official
tools ignore:

* ``protocol`` (also kept as ``run.protocol``): whether ``details``/``metrics``
  follow the official protocol, the parser and reader that judged them and the
  code that reader follows, every deviation (``--parser robust``, other pixel
  limits, samples left out by ``--skip-bad``) with a one-line ``label``, and the
  profile with every setting the requests ran with;
* ``zoom_refined`` (``--zoom`` only, always non-official): the refined rows,
  their own metrics, a ``label`` and per-row crop details;
* ``run`` (what was run: dataset, model, settings, timings) and ``extra`` (one
  object per detail row, same order: sample id, image size, the point as
  image fractions, seconds, errors).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.project_errors import InputError
from agent.eval.metrics import Correctness, compute_metrics, rescore

ROW_KEYS = (
    "img_path",
    "group",
    "platform",
    "application",
    "lang",
    "instruction_style",
    "prompt_to_evaluate",
    "gt_type",
    "ui_type",
    "task_filename",
    "pred",
    "raw_response",
    "bbox",
    "correctness",
)


class ResultRow(BaseModel):
    """One official detail row. ``bbox`` is absent on negative samples."""

    model_config = ConfigDict(extra="allow")

    img_path: str
    group: str | None = None
    platform: str | None = None
    application: str | None = None
    lang: str = "en"
    instruction_style: str = "instruction"
    prompt_to_evaluate: str = ""
    gt_type: Literal["positive", "negative"] = "positive"
    ui_type: str | None = None
    task_filename: str | None = None
    pred: tuple[float, float] | None = None
    raw_response: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    correctness: Correctness

    def official(self) -> dict[str, Any]:
        """The row as the official harness writes it (key order included)."""
        data = self.model_dump(include=set(ROW_KEYS))
        row = {key: data[key] for key in ROW_KEYS if key in data}
        row["pred"] = list(self.pred) if self.pred is not None else None
        if self.bbox is None and self.gt_type == "negative":
            row.pop("bbox")
        elif self.bbox is not None:
            row["bbox"] = [_plain(v) for v in self.bbox]
        return row


class SampleExtra(BaseModel):
    """What screenpilot records beside an official row."""

    model_config = ConfigDict(extra="allow")

    sample_id: str
    img_size: tuple[int, int] | None = None
    error: str | None = None
    seconds: float | None = None
    visual_tokens: int | None = None
    model_size: tuple[int, int] | None = None
    pred_fraction: tuple[float, float] | None = Field(
        None, description="the point as fractions of the image, as the harness judges it"
    )


OFFICIAL_LABEL = "official ScreenSpot-Pro protocol"
PRED_TOLERANCE = 1e-3
"""Pixels by which a row's pred may differ from its extra's fraction x image size (floats)."""
ZOOM_LABEL = (
    "NON-OFFICIAL: --zoom refinement (a second pass on an upscaled crop around the first "
    "point, or on the four quadrants when the first pass had none); the official rows and "
    "metrics are the first pass in 'details' and 'metrics'"
)


class Protocol(BaseModel):
    """Whether ``details``/``metrics`` follow the official protocol, and what deviates.

    Built by `agent.eval.protocol.protocol_record`, which adds the profile and every
    setting the requests ran with (extra keys)."""

    model_config = ConfigDict(extra="allow")

    official: bool
    label: str
    parser: str = Field("official", description="official or robust")
    reader: str | None = Field(None, description="which answer reader judged the rows")
    reader_kind: str | None = Field(None, description="whose code the reader follows")
    source: str | None = Field(None, description="the file (and commit) the reader follows")
    deviations: list[str] = Field(default_factory=list)


class ZoomExtra(BaseModel):
    """What a refined row adds: where the crop was and how much it was scaled."""

    model_config = ConfigDict(extra="allow")

    sample_id: str
    crop: tuple[int, int, int, int] | None = Field(None, description="crop box, px")
    zoom_scale: float | None = None
    error: str | None = None


class ZoomRefined(BaseModel):
    """The non-official --zoom results, beside the official first pass."""

    model_config = ConfigDict(extra="allow")

    official: Literal[False] = False
    label: str = ZOOM_LABEL
    details: list[ResultRow]
    metrics: dict[str, Any] = Field(default_factory=dict)
    extra: list[ZoomExtra] | None = None


class ResultFile(BaseModel):
    """A whole result file."""

    model_config = ConfigDict(extra="allow")

    details: list[ResultRow]
    metrics: dict[str, Any] = Field(default_factory=dict)
    protocol: Protocol | None = None
    zoom_refined: ZoomRefined | None = None
    run: dict[str, Any] | None = None
    extra: list[SampleExtra] | None = None

    @property
    def label(self) -> str | None:
        """How the file's metrics are labelled (None: not recorded, e.g. the harness's own)."""
        return self.protocol.label if self.protocol is not None else None


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def load_results(path: str | Path) -> ResultFile:
    """Read a result file; a broken one gives a one-line error naming the row and field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"results file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("details"), list):
        raise InputError(f"{path}: not a ScreenSpot result file (no 'details' list)")
    try:
        return ResultFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err.get("loc", ()))
        where = f"details row {loc[1]}" if loc[:1] == ["details"] and len(loc) > 1 else ""
        field = ".".join(str(p) for p in loc[2:] if where) or ".".join(str(p) for p in loc)
        msg = "missing field" if err.get("type") == "missing" else err.get("msg", "invalid")
        raise InputError(f"{path}: {where + ': ' if where else ''}{field}: {msg}") from None


def rescored(result: ResultFile, *, zoom: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Rows with correctness recomputed from pred and bbox, and how many changed.

    `zoom` re-judges the ``zoom_refined`` rows instead of the official ones.
    """
    where = "details"
    details = result.details
    extras: list[Any] = list(result.extra or [])
    if zoom:
        if result.zoom_refined is None:
            return [], 0
        where, details, extras = "zoom_refined.details", result.zoom_refined.details, []
    extras += [None] * (len(details) - len(extras))
    ids = Counter(getattr(e, "sample_id", None) for e in extras)
    rows: list[dict[str, Any]] = []
    changed = 0
    for index, (row, extra) in enumerate(zip(details, extras, strict=False)):
        data = row.official()
        if data.get("gt_type", "positive") == "positive" and data.get("bbox") is None:
            raise InputError(f"{where} row {index}: positive sample without 'bbox'")
        fraction, size = None, None
        if extra is not None and ids[extra.sample_id] == 1 and _extra_fits(data, extra):
            fraction, size = extra.pred_fraction, extra.img_size
        verdict = rescore(data, fraction=fraction, img_size=size)
        changed += verdict != data["correctness"]
        data["correctness"] = verdict
        rows.append(data)
    return rows, changed


def _extra_fits(row: dict[str, Any], extra: SampleExtra) -> bool:
    """Whether `extra` is this row's: its sample id names the row's task and language, and
    its point (fractions of its image size) is the row's own ``pred``.

    ``pred`` is what the official harness judges; the fractions only reproduce the
    harness's float comparison at box edges, so an extra that disagrees with the
    row (edited, reordered, another sample's) is ignored and ``pred`` decides.
    """
    task, _, lang = extra.sample_id.rpartition(":")
    task = task.rpartition(":")[0]
    if (task, lang) != (row.get("task_filename"), row.get("lang")):
        return False
    pred, fraction, size = row.get("pred"), extra.pred_fraction, extra.img_size
    if pred is None or fraction is None or size is None:
        return False
    return all(
        abs(p - f * s) <= PRED_TOLERANCE for p, f, s in zip(pred, fraction, size, strict=True)
    )


def build_report(
    rows: list[dict[str, Any]],
    *,
    run: dict[str, Any] | None = None,
    extra: list[dict[str, Any]] | None = None,
    protocol: dict[str, Any] | None = None,
    zoom_rows: list[dict[str, Any]] | None = None,
    zoom_extra: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The result-file object: details, official metrics, then screenpilot's additions."""
    report: dict[str, Any] = {"details": rows, "metrics": compute_metrics(rows)}
    if protocol is not None:
        report["protocol"] = protocol
    if zoom_rows is not None:
        report["zoom_refined"] = {
            "official": False,
            "label": ZOOM_LABEL,
            "details": zoom_rows,
            "metrics": compute_metrics(zoom_rows),
            "extra": zoom_extra or [],
        }
    if run is not None:
        report["run"] = run
    if extra is not None:
        report["extra"] = extra
    return report


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=4, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename durable; directories cannot be opened on Windows
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
