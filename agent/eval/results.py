"""The ScreenSpot result file: official detail rows + metrics, read and written safely.

The file is what the official harness writes - ``{"details": [...], "metrics":
{...}}`` with the official row keys - so leaderboard tooling reads ours
unchanged. screenpilot adds two top-level keys the official tools ignore:
``run`` (what was run: dataset, model, settings, timings) and ``extra`` (one
object per detail row, same order: sample id, image size, zoom's first
guess, seconds, errors).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.errors import InputError
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
    pred_first: tuple[float, float] | None = Field(
        None, description="--zoom: the full-screenshot guess before refinement"
    )
    raw_first: str | None = None
    crop: tuple[int, int, int, int] | None = Field(None, description="--zoom: crop box, px")


class ResultFile(BaseModel):
    """A whole result file."""

    model_config = ConfigDict(extra="allow")

    details: list[ResultRow]
    metrics: dict[str, Any] = Field(default_factory=dict)
    run: dict[str, Any] | None = None
    extra: list[SampleExtra] | None = None


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


def rescored(result: ResultFile) -> tuple[list[dict[str, Any]], int]:
    """Official rows with correctness recomputed from pred and bbox, and how many changed."""
    rows: list[dict[str, Any]] = []
    changed = 0
    for index, row in enumerate(result.details):
        data = row.official()
        if data.get("gt_type", "positive") == "positive" and data.get("bbox") is None:
            raise InputError(f"details row {index}: positive sample without 'bbox'")
        verdict = rescore(data)
        changed += verdict != data["correctness"]
        data["correctness"] = verdict
        rows.append(data)
    return rows, changed


def build_report(
    rows: list[dict[str, Any]],
    *,
    run: dict[str, Any] | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The result-file object: details, official metrics, then screenpilot's additions."""
    report: dict[str, Any] = {"details": rows, "metrics": compute_metrics(rows)}
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
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
