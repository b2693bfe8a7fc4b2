"""`agent elements`: what the accessibility tree says is on screen (AT-SPI or Android).

The same elements a scripted ``click: NAME`` looks for first: role, name, box in
screenshot pixels, states. ``--draw`` marks them on a screenshot taken just
before the tree was read.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from actions.project_errors import InputError
from agent.cli.env_options import (
    AndroidOptionCommand,
    adb_host_option,
    adb_port_option,
    android_option,
    monitor_option,
    target_options,
    virtual_display_option,
    xwayland_option,
)

DRAW_COLOR = (255, 0, 255)


def elements_command(
    as_json: bool = typer.Option(False, "--json", help="One JSON array instead of a table."),
    draw: Path = typer.Option(
        None, "--draw", help="Save a screenshot (PNG) with every element's box marked."
    ),
    show_all: bool = typer.Option(
        False, "--all", help="Also elements that are hidden, disabled or off screen."
    ),
    budget: float = typer.Option(
        5.0, "--budget", min=0.05, help="Seconds the tree may take to read."
    ),
    monitor: str = monitor_option(),
    virtual_display: str = virtual_display_option(),
    xwayland: bool = xwayland_option(),
    android: str = android_option(),
    adb_host: str = adb_host_option(),
    adb_port: int = adb_port_option(),
) -> None:
    """List the elements on screen as the apps describe them (role, name, box, states)."""
    from env.a11y_read import read_elements
    from env.factory import open_env

    if draw is not None:
        parent = draw.expanduser().resolve().parent
        if not parent.is_dir():
            raise InputError(f"--draw: folder {parent} does not exist")
    options = target_options(
        monitor=monitor,
        virtual_display=virtual_display,
        android=android,
        adb_host=adb_host,
        adb_port=adb_port,
        xwayland=xwayland,
    )
    with open_env(options) as env:
        observation = env.observe()
        found, why = read_elements(env, observation.geometry, budget=budget)
    if why:
        typer.echo(f"note: {why}", err=True)
    size = observation.geometry.size
    shown = found if show_all else [e for e in found if e.usable(size)]
    if as_json:
        rows = [e.model_dump(mode="json", exclude={"target"}) for e in shown]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        typer.echo(f"{'#':>3}  {'role':<18} {'name':<32} {'box':<22} states")
        for i, e in enumerate(shown, 1):
            box = "" if e.box is None else "{},{} {},{}".format(*e.box)
            name = e.name if len(e.name) <= 32 else e.name[:29] + "..."
            typer.echo(f"{i:>3}  {e.role[:18]:<18} {name:<32} {box:<22} {','.join(e.states)}")
        typer.echo(f"{len(shown)} elements ({len(found)} read)", err=True)
    if draw is not None:
        _draw(observation.image, shown, draw.expanduser())
        typer.echo(f"saved {draw}", err=True)


def _draw(image: object, elements: list, path: Path) -> None:
    from PIL import ImageDraw

    marked = image.copy()  # type: ignore[attr-defined]
    pen = ImageDraw.Draw(marked)
    for i, e in enumerate(elements, 1):
        if e.box is None:
            continue
        pen.rectangle(e.box, outline=DRAW_COLOR, width=2)
        pen.text((e.box[0] + 3, e.box[1] + 2), str(i), fill=DRAW_COLOR)
    marked.save(path, format="PNG")


def register(app: typer.Typer) -> None:
    app.command("elements", cls=AndroidOptionCommand)(elements_command)
