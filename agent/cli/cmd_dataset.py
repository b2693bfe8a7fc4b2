"""`agent dataset make`: build a ScreenSpot-Pro-format dataset from real app screens."""

from __future__ import annotations

from pathlib import Path

import typer

dataset_app = typer.Typer(
    name="dataset",
    help="Build grounding datasets from real application screens.",
    no_args_is_help=True,
)


@dataset_app.command("make")
def make_command(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (ScreenSpot-Pro layout)."),
    sizes: str = typer.Option(
        "1280x800,1920x1080", "--sizes", help="Screen sizes, comma-separated WIDTHxHEIGHT."
    ),
    scenes: int = typer.Option(4, "--scenes", help="Screens rendered per size."),
    per_scene: int = typer.Option(10, "--per-scene", help="Samples taken from each screen."),
    icon_share: float = typer.Option(0.35, "--icon-share", help="Share of icon samples."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same dataset."),
    gtk: bool | None = typer.Option(
        None, "--gtk/--no-gtk", help="GTK (zenity) dialogs; default: when zenity + AT-SPI exist."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder."),
) -> None:
    """Render Tk and GTK app screens under Xvfb and write annotations + screenshots."""
    from env.virtual_display import parse_size
    from tasks.datasets.make import MakeConfig, make_dataset

    cfg = MakeConfig(
        out=out,
        sizes=[parse_size(s) for s in sizes.split(",") if s.strip()],
        scenes=scenes,
        per_scene=per_scene,
        icon_share=icon_share,
        seed=seed,
        gtk=gtk,
        force=force,
    )
    made = make_dataset(cfg)
    typer.echo(
        f"wrote {made.samples} samples from {made.images} screens to {made.out} "
        f"(by size {made.by_size}; by type {made.by_ui_type})"
    )
    typer.echo(f"applications: {made.by_application}")
    if not made.gtk:
        typer.echo(f"GTK dialogs left out: {made.gtk_note}")


def register(app: typer.Typer) -> None:
    """Add `agent dataset` to the CLI."""
    app.add_typer(dataset_app, name="dataset")
