"""`agent models`: the model profiles screenpilot runs, and what each one means."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.models.profile import Profile


def _modes(profile: Profile) -> list[str]:
    modes = ["ground"]
    act = profile.act
    if act is not None:
        where = [w for w, ok in (("desktop", act.desktop), ("mobile", act.mobile)) if ok]
        modes.append(f"act ({', '.join(where)})")
    return modes


def profile_json(profile: Profile) -> dict[str, Any]:
    """One profile as printed by ``agent models --json``."""
    return {
        "name": profile.name,
        "summary": profile.summary,
        "architectures": list(profile.architectures),
        "hub_ids": list(profile.hub_ids),
        "coordinates": profile.space.value,
        "factor": profile.factor,
        "modes": _modes(profile),
        "agent_pixels": profile.agent_pixels.model_dump(),
        "benchmark_pixels": profile.benchmark_pixels.model_dump(),
        "max_new_tokens": profile.decoding.max_new_tokens,
        "prefill": profile.decoding.prefill is not None,
        "published_screenspot_pro": [
            {"model": p.model, "accuracy": p.ssp, "label": "published", "source": p.source}
            for p in profile.published
        ],
        "sources": list(profile.sources),
        "notes": profile.notes or None,
    }


def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """List the model profiles: architecture, coordinates, modes, pixels, hub ids, and the
    published ScreenSpot-Pro accuracy (published by the authors, not measured here).

    Choose one with --profile (or model.profile in a task file); without it the profile
    is detected from the checkpoint's config.json and its hub id, folder or served name.
    """
    from agent.models.profiles import OUT_OF_SCOPE, PROFILES

    if as_json:
        payload = {
            "profiles": [profile_json(p) for p in PROFILES.values()],
            "not_supported": OUT_OF_SCOPE,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    table = Table(title="Model profiles", title_justify="left")
    for column in ("profile", "architecture", "coords", "modes", "pixels (agent / bench)",
                   "hub ids", "ScreenSpot-Pro (published)"):  # fmt: skip
        table.add_column(column, no_wrap=column == "profile")
    for p in PROFILES.values():
        published = ", ".join(f"{x.model} {x.ssp:.1f}" for x in p.published)
        pixels = (
            f"{p.agent_pixels.max_pixels:,} / {p.benchmark_pixels.max_pixels:,} (factor {p.factor})"
        )
        table.add_row(
            p.name,
            "/".join(p.architectures),
            p.space.value,
            ", ".join(_modes(p)),
            pixels,
            "\n".join(p.hub_ids),
            published,
        )
    console = Console()
    console.print(table)
    console.print(
        "Published figures come from the model cards and GUI-Agent/grounding-leaderboard; "
        "they were not measured here (no weights). Not supported: " + OUT_OF_SCOPE + "."
    )


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
