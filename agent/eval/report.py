"""`agent eval report`: one self-contained HTML page for a ScreenSpot result file.

Accuracy by group, application, platform and ui_type (tables with CSS bar
charts), the run's settings, and a gallery of failures: a crop of the
screenshot around the target with the ground-truth box (green), the
predicted point (red) and, with --zoom runs, the refined point (orange).
The tables are the official rows; a file whose protocol is non-official says
so at the top and on every table, and the --zoom refinement has its own,
labelled section. Images are embedded as base64 JPEG, so the file can be
mailed or archived.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, UnidentifiedImageError

from agent.eval.metrics import compute_metrics, metric_for
from agent.eval.results import ResultFile, rescored

log = logging.getLogger(__name__)
CROP = 480


def _table(group: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for key, m in group.items():
        label = " ".join(part.split(":", 1)[-1] for part in key.split(" "))
        rows.append({"label": label, **m})
    return sorted(rows, key=lambda r: (-r["action_acc"], r["label"]))


def _by_field(rows: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    values = sorted({str(r.get(field)) for r in rows})
    out = []
    for value in values:
        subset = [r for r in rows if str(r.get(field)) == value]
        out.append({"label": value, **metric_for(subset)})
    return sorted(out, key=lambda r: (-r["action_acc"], r["label"]))


def _resolve(img_path: str, result_path: Path, images: Path | None) -> Path | None:
    candidates = [Path(img_path)]
    if images is not None:
        parts = Path(img_path).parts
        candidates += [images.joinpath(*parts[-k:]) for k in (1, 2, 3) if len(parts) >= k]
    candidates.append(result_path.parent / img_path)
    return next((p for p in candidates if p.is_file()), None)


def _crop_uri(path: Path, bbox: list[float], pred: list[float] | None, refined: Any) -> str | None:
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None
    x1, y1, x2, y2 = bbox
    marks = [p for p in (pred, refined) if p and all(math.isfinite(v) for v in p)]
    points = [(x1, y1), (x2, y2)] + [(p[0], p[1]) for p in marks]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half = max(CROP / 2, (max(xs) - min(xs)) / 2 + 40, (max(ys) - min(ys)) / 2 + 40)
    left, top = max(0, int(cx - half)), max(0, int(cy - half))
    right, bottom = min(image.width, int(cx + half)), min(image.height, int(cy + half))
    crop = image.crop((left, top, right, bottom))
    draw = ImageDraw.Draw(crop)
    width = max(2, round(crop.width / 240))
    draw.rectangle((x1 - left, y1 - top, x2 - left, y2 - top), outline=(0, 170, 0), width=width)
    for point, color in ((refined, (255, 140, 0)), (pred, (220, 0, 0))):
        if point in marks:
            px, py, r = point[0] - left, point[1] - top, 3 * width
            draw.line((px - r, py, px + r, py), fill=color, width=width)
            draw.line((px, py - r, px, py + r), fill=color, width=width)
            draw.ellipse((px - r, py - r, px + r, py + r), outline=color, width=width)
    if max(crop.size) > CROP:
        crop.thumbnail((CROP, CROP))
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def build_context(
    result: ResultFile,
    result_path: Path,
    *,
    images: Path | None = None,
    max_failures: int = 60,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything the template shows, computed from the file's details."""
    rows, changed = rescored(result)
    metrics = compute_metrics(rows)
    zoom_rows, zoom_changed = rescored(result, zoom=True)
    refined = [r.get("pred") for r in zoom_rows] + [None] * (len(rows) - len(zoom_rows))
    failures = [(i, r) for i, r in enumerate(rows) if r["correctness"] != "correct"]
    shown = sorted(random.Random(seed).sample(failures, k=min(max_failures, len(failures))))
    gallery = []
    missing_images = 0
    for index, row in shown:
        path = _resolve(row["img_path"], result_path, images)
        uri = (
            _crop_uri(path, row["bbox"], row.get("pred"), refined[index])
            if path and row.get("bbox")
            else None
        )
        missing_images += uri is None
        gallery.append(
            {
                "index": index,
                "uri": uri,
                "instruction": row.get("prompt_to_evaluate", ""),
                "application": row.get("application"),
                "ui_type": row.get("ui_type"),
                "correctness": row["correctness"],
                "pred": row.get("pred"),
                "refined": refined[index],
                "bbox": row.get("bbox"),
                "raw": (row.get("raw_response") or "")[:400],
            }
        )
    zoom = None
    if result.zoom_refined is not None:
        zoom_metrics = compute_metrics(zoom_rows)
        zoom = {
            "label": result.zoom_refined.label,
            "overall": zoom_metrics["overall"],
            "groups": _table(zoom_metrics["leaderboard_simple_style"]),
            "first_pass_correct": metrics["overall"]["num_correct_action"],
        }
    label = result.label
    return {
        "title": f"ScreenSpot report: {result_path.name}",
        "run": result.run or {},
        "label": label,
        "non_official": bool(label and label.startswith("NON-OFFICIAL")),
        "overall": metrics["overall"],
        "groups": _table(metrics["leaderboard_simple_style"]),
        "applications": _table(metrics["leaderboard_detailed_style"]),
        "platforms": _by_field(rows, "platform"),
        "ui_types": _by_field(rows, "ui_type"),
        "gallery": gallery,
        "failures": len(failures),
        "missing_images": missing_images,
        "rejudged": changed + zoom_changed,
        "zoom": zoom,
    }


def render_report(context: dict[str, Any]) -> str:
    """The HTML page (jinja2 template ``eval_report.html.j2``)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    return env.get_template("eval_report.html.j2").render(**context)


def write_report(
    result: ResultFile,
    result_path: Path,
    out: Path,
    *,
    images: Path | None = None,
    max_failures: int = 60,
) -> dict[str, Any]:
    """Build and write the report; returns its context (for the CLI's summary line)."""
    context = build_context(result, result_path, images=images, max_failures=max_failures)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(context), encoding="utf-8")
    return context
