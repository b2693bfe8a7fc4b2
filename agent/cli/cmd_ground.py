"""`agent ground IMAGE INSTRUCTION`: where is it on the screenshot?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from PIL import Image, ImageDraw

from actions.project_errors import InputError, ModelOutputError
from agent.grounding import GroundingResult, ground, load_image
from agent.models.load import load_model
from agent.models.spec import ModelSpec

DRAW_FORMATS = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def result_json(result: GroundingResult, profile: str | None = None) -> dict[str, Any]:
    """The printed fields; `point` and `bbox` are pixels of the image as given."""

    def rounded(values: Any) -> list[float] | None:
        return None if values is None else [round(float(v), 2) for v in values]

    return {
        "point": rounded(result.point),
        "bbox": rounded(result.bbox),
        "raw": result.raw,
        "model_xy": rounded(result.model_xy),
        "model_size": list(result.model_size),
        "image_size": list(result.image_size),
        "visual_tokens": result.visual_tokens,
        "profile": profile,
        "seconds": {k: round(v, 4) for k, v in result.seconds.items()},
        # Both passes and their agreement, labelled as not an official protocol; else None.
        "two_stage": result.two_stage,
        "confidence": result.confidence,
    }


def two_stage_lines(record: dict[str, Any], confidence: float | None) -> list[str]:
    """Both passes of a two-stage answer, and how far they agree, for people."""
    fw, fh = record["first_size"]
    tokens = record.get("visual_tokens") or []
    first = record.get("first_point")
    where = "nothing" if first is None else f"{first[0]:.1f}, {first[1]:.1f}"
    lines = [
        f"{record['protocol']}",
        f"  pass 1: whole screen at {fw}x{fh} ({tokens[0] if tokens else '?'} visual tokens) "
        f"-> {where}",
    ]
    crop = record.get("crop")
    if crop is not None:
        second = tokens[1] if len(tokens) > 1 else "?"
        box = ", ".join(str(v) for v in crop)
        lines.append(f"  pass 2: crop ({box}) at native resolution ({second} visual tokens)")
    if confidence is not None:
        distance = record.get("distance_px")
        apart = "" if distance is None else f", {distance:.1f} px apart"
        lines.append(f"  confidence: {confidence:.2f} (the passes' agreement{apart})")
    return lines


def draw_result(image: Image.Image, result: GroundingResult, out: Path) -> None:
    """Save `image` with the box (green) and the point (red ring and cross) drawn on it."""
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    width = max(2, min(canvas.size) // 300)
    if result.bbox is not None:
        draw.rectangle(result.bbox, outline=(0, 200, 0), width=width)
    if result.point is not None:
        x, y = result.point
        r = max(8, min(canvas.size) // 60)
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(255, 0, 0), width=width)
        draw.line((x - 2 * r, y, x + 2 * r, y), fill=(255, 0, 0), width=width)
        draw.line((x, y - 2 * r, x, y + 2 * r), fill=(255, 0, 0), width=width)
    try:
        canvas.save(out)
    except OSError as exc:
        raise InputError(f"{out}: cannot write the drawing ({exc})") from None


def _check_draw_path(path: Path) -> None:
    if path.suffix.lower() not in DRAW_FORMATS:
        raise InputError(f"--draw {path}: use one of {', '.join(sorted(DRAW_FORMATS))}")
    if not path.parent.is_dir():
        raise InputError(f"--draw {path}: folder {path.parent} does not exist")


def ground_command(
    image: Path = typer.Argument(..., help="Screenshot file (PNG, JPEG, ...)."),
    instruction: str = typer.Argument(..., help='What to find, e.g. "the Save button".'),
    backend: str = typer.Option("qwen", "--backend", "-b", help="qwen, openai or ocr."),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        help="Hub id or local folder (qwen; default Qwen/Qwen2.5-VL-3B-Instruct), "
        "or the served model name (openai; default: the one the server lists).",
    ),
    profile: str = typer.Option(
        None,
        "--profile",
        help="Model profile (see `agent models`); default: detected from the checkpoint "
        "and its name.",
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1."
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the API key."
    ),
    min_pixels: int = typer.Option(None, "--min-pixels", help="Smallest image area fed."),
    max_pixels: int = typer.Option(
        None,
        "--max-pixels",
        help="Largest image area fed (default: the profile's agent limit, 1280 visual tokens).",
    ),
    family: str = typer.Option(
        None, "--family", help="Older alias for the coordinate convention (see --profile)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, bfloat16, float16, float32."),
    max_new_tokens: int = typer.Option(
        None, "--max-new-tokens", help="Answer length cap (default: the profile's)."
    ),
    mobile: bool = typer.Option(False, "--mobile", help="Use the mobile_use tool prompt."),
    prefill: bool = typer.Option(
        None,
        "--prefill/--no-prefill",
        help="Prefill the reply with the start of a click call (default: on for qwen).",
    ),
    two_stage: bool = typer.Option(
        False,
        "--two-stage",
        help="Two passes: the whole screen at a small pixel budget, then a crop around its "
        "point at native resolution (not an official protocol; see agent.two_stage).",
    ),
    first_max_pixels: int = typer.Option(
        None, "--first-max-pixels", help="--two-stage: pixel budget of the first pass."
    ),
    min_confidence: float = typer.Option(
        None,
        "--min-confidence",
        help="--two-stage: refuse a point whose passes agree less than this (0..1).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    draw: Path = typer.Option(None, "--draw", help="Save the image with the point drawn."),
) -> None:
    """Find INSTRUCTION on IMAGE and print the point in the image's own pixels.

    With --json prints {"point": [x, y], "bbox": [...] or null, "raw": "...",
    "model_xy": [x, y], "model_size": [W, H], "image_size": [W, H],
    "visual_tokens": N, "profile": NAME, "seconds": {...}, "two_stage": {...}
    or null, "confidence": C or null}. --two-stage (also a profile's or a
    task's `two_stage:`) grounds twice, records both passes and their agreement
    and is labelled "two-stage (not an official protocol)". The profile
    (prompt, pixels, coordinates, answer format) is --profile, else detected
    from the checkpoint and its name, and logged. Bad input (missing or corrupt
    image, a profile that contradicts the checkpoint, unreachable server): exit
    2. An answer with no usable coordinate (or "not on the screen"): exit 1,
    with the raw answer shown.
    """
    if draw is not None:
        _check_draw_path(draw)
    if not two_stage and (first_max_pixels is not None or min_confidence is not None):
        raise InputError("--first-max-pixels and --min-confidence need --two-stage")
    picture = load_image(image)
    if not instruction.strip():
        raise InputError("the instruction is empty")
    fields: dict[str, Any] = {
        "backend": backend,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "profile": profile,
        "family": family,
        "device": device,
        "dtype": dtype,
        "prefill": prefill,
        "max_new_tokens": max_new_tokens,
    }
    if model is None and backend == "openai" and base_url:
        from agent.models.openai_compat import the_served_model

        model = the_served_model(base_url, ModelSpec(api_key_env=api_key_env).resolved_api_key())
    if model is not None:
        fields["model"] = model
    if two_stage:
        chosen = {"first_max_pixels": first_max_pixels, "min_confidence": min_confidence}
        fields["two_stage"] = {k: v for k, v in chosen.items() if v is not None}
    spec = ModelSpec(**fields)
    with load_model(spec) as grounder:
        result = ground(grounder, picture, instruction, mobile=mobile)
        used = getattr(getattr(grounder, "profile", None), "name", None)
    if draw is not None:
        draw_result(picture, result, draw)
    if not result.ok:
        if result.two_stage is not None and not as_json:
            for line in two_stage_lines(result.two_stage, result.confidence):
                typer.echo(line)
        raw = result.raw if len(result.raw) <= 500 else result.raw[:500] + "..."
        raise ModelOutputError(f"no usable point in the answer ({result.error}): {raw!r}", raw)
    if as_json:
        typer.echo(json.dumps(result_json(result, used), ensure_ascii=False))
        return
    x, y = result.point or (0.0, 0.0)
    w, h = result.image_size
    mw, mh = result.model_size
    typer.echo(f"point: {x:.1f}, {y:.1f}  (in the {w}x{h} image)")
    if result.bbox is not None:
        typer.echo("bbox: " + ", ".join(f"{v:.1f}" for v in result.bbox))
    if result.model_xy is not None:
        mx, my = result.model_xy
        typer.echo(
            f"model: {mx:g}, {my:g}  (in the {mw}x{mh} image it saw, "
            f"{result.visual_tokens} visual tokens)"
        )
    typer.echo(f"raw: {result.raw!r}" + (f"  (profile {used})" if used else ""))
    if result.two_stage is not None:
        for line in two_stage_lines(result.two_stage, result.confidence):
            typer.echo(line)
    parts = ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items() if k != "total")
    typer.echo(f"time: {result.seconds.get('total', 0.0):.2f} s ({parts})")
    if draw is not None:
        typer.echo(f"drawn: {draw}")


def register(app: typer.Typer) -> None:
    app.command("ground")(ground_command)
