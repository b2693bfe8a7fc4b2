"""`agent models`: the model profiles screenpilot runs, and what each one means."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.models.profile import Profile

WIDE_COLUMNS = 160
"""Below this terminal width the table would cut its cells to ellipses: one block a profile."""


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
    console = Console()
    if console.width < WIDE_COLUMNS:
        _print_narrow(console, PROFILES.values())
    else:
        _print_table(console, PROFILES.values())
    console.print(
        "Published figures come from the model cards and GUI-Agent/grounding-leaderboard; "
        "they were not measured here (no weights). Not supported: " + OUT_OF_SCOPE + "."
    )


def _pixels(p: Profile) -> str:
    return f"{p.agent_pixels.max_pixels:,} / {p.benchmark_pixels.max_pixels:,} (factor {p.factor})"


def _published(p: Profile) -> str:
    return ", ".join(f"{x.model} {x.ssp:.1f}" for x in p.published)


def _print_narrow(console: Console, profiles: Iterable[Profile]) -> None:
    """One block per profile, each field on its own wrapped line: readable at 80 columns."""
    width = max(console.width, 40)
    console.print("Model profiles", highlight=False)
    for p in profiles:
        console.print()
        console.print(f"[bold]{p.name}[/bold]  {', '.join(_modes(p))}", highlight=False)
        fields = (
            ("architecture", "/".join(p.architectures)),
            ("coordinates", p.space.value),
            ("pixels (agent / bench)", _pixels(p)),
            ("hub ids", ", ".join(p.hub_ids)),
            ("ScreenSpot-Pro (published)", _published(p) or "-"),
        )
        for label, value in fields:
            text = textwrap.fill(
                f"{label}: {value}",
                width=width,
                initial_indent="  ",
                subsequent_indent="    ",
                break_on_hyphens=False,  # hub ids stay whole, to copy from the terminal
                break_long_words=False,
            )
            console.print(text, highlight=False, markup=False, soft_wrap=True)


def _print_table(console: Console, profiles: Iterable[Profile]) -> None:
    table = Table(title="Model profiles", title_justify="left")
    for column in ("profile", "architecture", "coords", "modes", "pixels (agent / bench)",
                   "hub ids", "ScreenSpot-Pro (published)"):  # fmt: skip
        table.add_column(column, no_wrap=column == "profile")
    for p in profiles:
        table.add_row(
            p.name,
            "/".join(p.architectures),
            p.space.value,
            ", ".join(_modes(p)),
            _pixels(p),
            "\n".join(p.hub_ids),
            _published(p),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
