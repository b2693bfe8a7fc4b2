"""`agent parse`: read model answers into actions in screenshot pixels."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from actions.answer_formats import AnswerFormat, parse_model_answer
from actions.frames import CoordinateFrame, family_of
from actions.parse import ParsedAnswer
from actions.project_errors import InputError
from env.virtual_display import parse_size


def _result_json(
    parsed: ParsedAnswer, frame: CoordinateFrame, profile: str | None
) -> dict[str, Any]:
    return {
        "actions": [a.model_dump() for a in parsed.actions],
        "model_xy": [list(p) for p in parsed.model_points],
        "model_size": list(frame.model_size),
        "screen_size": list(frame.image_size),
        "family": frame.family.value,
        "profile": profile,
        "space": frame.space.value,
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


def _agent_limits(
    family: str, min_pixels: int | None, max_pixels: int | None
) -> tuple[int | None, int | None]:
    """The pixel limits `agent ground` and `agent run` feed this family's model at, so that
    an answer they print maps to the same point here (1316x728 for 1920x1080, Qwen2.5-VL)."""
    from agent.models.profiles import PROFILES, get_profile
    from agent.models.spec import AGENT_MAX_PIXELS

    if family in PROFILES:
        return get_profile(family).pixel_limits(min_pixels=min_pixels, max_pixels=max_pixels)
    return min_pixels, AGENT_MAX_PIXELS if max_pixels is None else max_pixels


def parse_command(
    text: str = typer.Argument(
        None, help="Model answer to parse; read from stdin when omitted and --batch is not given."
    ),
    screen: str = typer.Option(
        ..., "--screen", help="Original screenshot size WxH (the space of the printed x, y)."
    ),
    profile: str = typer.Option(
        None,
        "--profile",
        help="Model profile (see `agent models`): its resize, coordinate space and answer format.",
    ),
    family: str = typer.Option(
        None,
        "--family",
        help="Without --profile: how the model writes coordinates: qwen2.5-vl (default), "
        "qwen2-vl, qwen3-vl, ui-tars-1.5, normalized.",
    ),
    min_pixels: int = typer.Option(None, "--min-pixels", help="Model min_pixels (its default)."),
    max_pixels: int = typer.Option(
        None, "--max-pixels", help="Model max_pixels (default: the agent limit)."
    ),
    mobile: bool = typer.Option(False, "--mobile", help="Read bare tool calls as mobile_use."),
    batch: Path = typer.Option(
        None, "--batch", help="JSONL file, one JSON string of model text per line."
    ),
) -> None:
    """Parse model output into actions (JSON) with screen coordinates.

    Understands Qwen computer_use / mobile_use tool calls (and their malformed
    real-world variants), grounding JSON (bbox_2d / point_2d, {"x", "y"}), XML
    <points>, Qwen2-VL <|box_start|> boxes, UI-TARS Action: lines, bare (x, y),
    and with --profile that model's wrappers (<think>, <answer>, [-1,-1] = not
    found). The model size is the profile's resize of --screen (agent pixel
    limits). Prints {"actions": [...], "model_xy": [...], "model_size": [W, H],
    "screen_size": [W, H], "family": ..., "profile": ..., "space": ...}.
    Unparseable single input: exit 2. With --batch: one JSON line per input,
    {"error": ...} for unparseable ones.
    """
    size = parse_size(screen)
    fmt: AnswerFormat | None = None
    name: str | None = None
    if profile is not None:
        from agent.models.profiles import get_profile

        chosen = get_profile(profile)
        name = chosen.name
        low, high = chosen.pixel_limits(min_pixels=min_pixels, max_pixels=max_pixels)
        if low > high:
            raise InputError(f"min_pixels ({low}) is larger than max_pixels ({high})")
        override = None
        if family is not None:
            from actions.frames import space_of_family

            override = space_of_family(family)
        frame = chosen.frame_for(
            size, min_pixels=low, max_pixels=high, mobile=mobile, space=override
        )
        fmt = chosen.answer
    else:
        chosen_family = family_of(family or "qwen2.5-vl")
        low, high = _agent_limits(chosen_family.value, min_pixels, max_pixels)
        frame = CoordinateFrame.for_image(size, chosen_family, min_pixels=low, max_pixels=high)
    if batch is not None:
        if text is not None:
            raise InputError("give either TEXT or --batch, not both")
        for number, item in _read_batch(batch):
            parsed = parse_model_answer(item, frame, fmt, mobile=mobile, grounding=True)
            row = (
                {"line": number, **_result_json(parsed, frame, name)}
                if parsed.ok
                else {"line": number, "error": parsed.error, "raw": parsed.raw}
            )
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if text is None:
        if sys.stdin.isatty():
            raise InputError("no model text: pass it as an argument, on stdin, or with --batch")
        text = sys.stdin.read()
    parsed = parse_model_answer(text, frame, fmt, mobile=mobile, grounding=True)
    if parsed.refused:
        raise InputError(f"the answer says the target is not on the screen: {parsed.raw!r}")
    if not parsed.ok:
        short = parsed.raw if len(parsed.raw) <= 200 else parsed.raw[:200] + "..."
        raise InputError(f"unparseable model answer: {parsed.error}: {short!r}")
    typer.echo(json.dumps(_result_json(parsed, frame, name), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command("parse")(parse_command)
