"""`agent parse`: read model answers into actions in screenshot pixels."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from actions.errors import InputError
from actions.frames import CoordinateFrame, family_of
from actions.parse import ParsedAnswer, parse_answer
from env.virtual_display import parse_size


def _result_json(parsed: ParsedAnswer, frame: CoordinateFrame) -> dict[str, Any]:
    return {
        "actions": [a.model_dump() for a in parsed.actions],
        "model_xy": [list(p) for p in parsed.model_points],
        "model_size": list(frame.model_size),
        "screen_size": list(frame.image_size),
        "family": frame.family.value,
        "format": parsed.format,
        "point": list(parsed.point) if parsed.point else None,
        "box": list(parsed.box) if parsed.box else None,
    }


def _read_batch(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    items = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not a JSON string ({exc.msg})") from None
            if isinstance(value, dict) and isinstance(value.get("text"), str):
                value = value["text"]
            if not isinstance(value, str):
                raise InputError(f"{path}:{number}: expected a JSON string of model text")
            items.append((number, value))
    return items


def parse_command(
    text: str = typer.Argument(
        None, help="Model answer to parse; read from stdin when omitted and --batch is not given."
    ),
    screen: str = typer.Option(
        ..., "--screen", help="Original screenshot size WxH (the space of the printed x, y)."
    ),
    family: str = typer.Option(
        "qwen2.5-vl",
        "--family",
        help="How the model writes coordinates: qwen2.5-vl, qwen2-vl, qwen3-vl, ui-tars-1.5, "
        "normalized.",
    ),
    min_pixels: int = typer.Option(None, "--min-pixels", help="Model min_pixels (family default)."),
    max_pixels: int = typer.Option(None, "--max-pixels", help="Model max_pixels (family default)."),
    mobile: bool = typer.Option(False, "--mobile", help="Read bare tool calls as mobile_use."),
    batch: Path = typer.Option(
        None, "--batch", help="JSONL file, one JSON string of model text per line."
    ),
) -> None:
    """Parse model output into actions (JSON) with screen coordinates.

    Understands Qwen computer_use / mobile_use tool calls (and their malformed
    real-world variants), grounding JSON (bbox_2d / point_2d), XML <points>,
    Qwen2-VL <|box_start|> boxes, UI-TARS Action: lines and bare (x, y). The
    model size is smart_resize of --screen with the family's pixel limits.
    Prints {"actions": [...], "model_xy": [...], "model_size": [W, H],
    "screen_size": [W, H], "family": ...}. Unparseable single input: exit 2.
    With --batch: one JSON line per input, {"error": ...} for unparseable ones.
    """
    size = parse_size(screen)
    frame = CoordinateFrame.for_image(
        size, family_of(family), min_pixels=min_pixels, max_pixels=max_pixels
    )
    if batch is not None:
        if text is not None:
            raise InputError("give either TEXT or --batch, not both")
        for number, item in _read_batch(batch):
            parsed = parse_answer(item, frame, mobile=mobile)
            row = (
                {"line": number, **_result_json(parsed, frame)}
                if parsed.ok
                else {"line": number, "error": parsed.error, "raw": parsed.raw}
            )
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if text is None:
        if sys.stdin.isatty():
            raise InputError("no model text: pass it as an argument, on stdin, or with --batch")
        text = sys.stdin.read()
    parsed = parse_answer(text, frame, mobile=mobile)
    if not parsed.ok:
        short = parsed.raw if len(parsed.raw) <= 200 else parsed.raw[:200] + "..."
        raise InputError(f"unparseable model answer: {parsed.error}: {short!r}")
    typer.echo(json.dumps(_result_json(parsed, frame), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command("parse")(parse_command)
