"""ScreenSpot scoring, aggregated exactly as the official ScreenSpot-Pro harness does.

Facts reproduced from the official ``eval_screenspot_pro.py`` (own code):

* a sample is ``correct`` iff the predicted point lies in the box with
  inclusive edges, compared as fractions of the image (``bbox / img_size``
  against ``point / resized size``), ``wrong`` otherwise (a point off the image
  included: it is never clamped), and ``wrong_format`` when there is no point;
  wrong_format counts as wrong and stays in every denominator;
* negative rows (``gt_type: negative``, which the harness makes with
  ``--gt_type negative``) carry their verdict in the row: the file's own
  ``correctness`` is kept when re-scoring (see `rescore`);
* every accuracy is pooled: correct / total within the subset, 0 for an empty
  subset (text_acc and icon_acc pool the text and icon rows of the subset);
* groups: ``fine_grained`` over platform x application x instruction style x
  ground-truth type, ``seeclick_style`` over platform x style x type,
  ``leaderboard_simple_style`` over group, ``leaderboard_detailed_style`` over
  application, and ``overall``; combinations with no sample are left out. The
  language is not a key: English and Chinese rows of a run pool together.

The official code walks Python sets, so its key order varies from run to run;
here keys come in order of first appearance. The key *set* and every value are
identical.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Correctness = Literal["correct", "wrong", "wrong_format"]
METRIC_GROUPS = (
    "fine_grained",
    "seeclick_style",
    "leaderboard_simple_style",
    "leaderboard_detailed_style",
    "overall",
)
METRIC_KEYS = (
    "num_correct_action",
    "num_total",
    "wrong_format_num",
    "action_acc",
    "text_acc",
    "icon_acc",
)

Row = Mapping[str, Any]


def judge_point(pred: Sequence[float] | None, bbox: Sequence[float]) -> Correctness:
    """Judge a predicted point (image pixels) against a corner box (image pixels)."""
    if pred is None:
        return "wrong_format"
    x, y = pred[0], pred[1]
    x1, y1, x2, y2 = bbox[0], bbox[1], bbox[2], bbox[3]
    return "correct" if (x1 <= x <= x2 and y1 <= y <= y2) else "wrong"


def judge_fraction(
    point: Sequence[float] | None, bbox: Sequence[float], img_size: Sequence[int]
) -> Correctness:
    """Judge as the harness does: the point as fractions of the image against ``bbox / size``.

    Dividing the box rather than multiplying the point keeps the harness's exact
    float comparisons, so a point on an edge gets the harness's verdict.
    """
    if point is None:
        return "wrong_format"
    width, height = img_size[0], img_size[1]
    x1, y1, x2, y2 = bbox[0] / width, bbox[1] / height, bbox[2] / width, bbox[3] / height
    return "correct" if (x1 <= point[0] <= x2 and y1 <= point[1] <= y2) else "wrong"


def rescore(
    row: Row,
    *,
    fraction: Sequence[float] | None = None,
    img_size: Sequence[int] | None = None,
) -> Correctness:
    """The correctness of a detail row, recomputed from its pred and bbox.

    `fraction` and `img_size` (screenpilot's ``extra``, when present) give the
    harness's own comparison; without them the pixel pred is compared with the
    pixel box. Negative rows keep their stored verdict: a missing point there
    means either "negative" (correct) or an unparseable answer, which the row
    alone cannot tell.
    """
    if row.get("gt_type", "positive") == "negative":
        return row["correctness"]
    if fraction is not None and img_size is not None and row.get("pred") is not None:
        return judge_fraction(fraction, row["bbox"], img_size)
    return judge_point(row.get("pred"), row["bbox"])


def metric_for(rows: Sequence[Row]) -> dict[str, float | int]:
    """num_correct_action, num_total, wrong_format_num and the three pooled accuracies."""
    total = len(rows)
    correct = sum(1 for r in rows if r["correctness"] == "correct")
    wrong_format = sum(1 for r in rows if r["correctness"] == "wrong_format")
    text = [r for r in rows if r.get("ui_type") == "text"]
    icon = [r for r in rows if r.get("ui_type") == "icon"]
    text_correct = sum(1 for r in text if r["correctness"] == "correct")
    icon_correct = sum(1 for r in icon if r["correctness"] == "correct")
    return {
        "num_correct_action": correct,
        "num_total": total,
        "wrong_format_num": wrong_format,
        "action_acc": correct / total if total > 0 else 0,
        "text_acc": text_correct / len(text) if text else 0,
        "icon_acc": icon_correct / len(icon) if icon else 0,
    }


def _unique(rows: Iterable[Row], field: str) -> list[Any]:
    seen: dict[Any, None] = {}
    for row in rows:
        seen.setdefault(row.get(field), None)
    return list(seen)


def _grouped(
    rows: Sequence[Row], fields: Sequence[str], key_names: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """Metrics for every combination of the fields' values that has at least one row."""
    out: dict[str, dict[str, float | int]] = {}
    if not rows:
        return out
    buckets: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        buckets.setdefault(tuple(row.get(f) for f in fields), []).append(row)
    for combo in itertools.product(*(_unique(rows, f) for f in fields)):
        subset = buckets.get(combo)
        if not subset:
            continue
        key = " ".join(f"{name}:{value}" for name, value in zip(key_names, combo, strict=True))
        out[key] = metric_for(subset)
    return out


def compute_metrics(rows: Sequence[Row]) -> dict[str, Any]:
    """The official metrics object of a list of detail rows (their stored correctness)."""
    return {
        "fine_grained": _grouped(
            rows,
            ("platform", "application", "instruction_style", "gt_type"),
            ("plat", "app", "inst_style", "gt_type"),
        ),
        "seeclick_style": _grouped(
            rows,
            ("platform", "instruction_style", "gt_type"),
            ("plat", "inst_style", "gt_type"),
        ),
        "leaderboard_simple_style": _grouped(rows, ("group",), ("group",)),
        "leaderboard_detailed_style": _grouped(rows, ("application",), ("app",)),
        "overall": metric_for(rows),
    }


def seeclick_split_table(rows: Sequence[Row]) -> dict[str, Any]:
    """ScreenSpot v1/v2 summary: accuracy per platform x ui_type cell, and two averages.

    The SeeClick paper's "Average" is the plain mean of the cells; later papers
    pool all samples (the official ``overall.action_acc``). Both are reported,
    labelled, because they differ whenever the cells differ in size.
    """
    cells: dict[str, float] = {}
    for platform in _unique(rows, "platform"):
        for ui_type in ("text", "icon"):
            subset = [
                r for r in rows if r.get("platform") == platform and r.get("ui_type") == ui_type
            ]
            if subset:
                cells[f"{platform} {ui_type}"] = metric_for(subset)["action_acc"]
    mean = sum(cells.values()) / len(cells) if cells else 0.0
    return {"cells": cells, "cell_mean": mean, "pooled": metric_for(rows)["action_acc"]}


def diff_metrics(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two metrics objects (empty when identical)."""
    problems: list[str] = []
    for group in METRIC_GROUPS:
        exp, act = expected.get(group), actual.get(group)
        if exp is None or act is None:
            if exp != act:
                problems.append(f"{group}: present in only one of the two")
            continue
        if group == "overall":
            exp, act = {"": exp}, {"": act}
        for key in sorted(set(exp) | set(act)):
            if key not in exp or key not in act:
                side = "stored" if key in exp else "recomputed"
                problems.append(f"{group} {key!r}: only in the {side} metrics")
                continue
            for field in sorted(set(exp[key]) | set(act[key])):
                if exp[key].get(field) != act[key].get(field):
                    label = f"{group} {key!r}".replace(" ''", "")
                    problems.append(
                        f"{label} {field}: stored {exp[key].get(field)!r}, "
                        f"recomputed {act[key].get(field)!r}"
                    )
    return problems
