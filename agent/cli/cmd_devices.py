"""`agent devices`: the monitors of this display and, where available, Android devices.

Sections come from `env.devices` (each platform contributes its own), so a
missing adb or adbutils shows as one "unavailable" line, never as a failure.
"""

from __future__ import annotations

import json

import typer

from agent.cli.env_options import (
    adb_host_option,
    adb_port_option,
    virtual_display_option,
    xwayland_option,
)


def devices_command(
    as_json: bool = typer.Option(False, "--json", help="Print the sections as JSON."),
    virtual_display: str = virtual_display_option(),
    xwayland: bool = xwayland_option(),
    adb_host: str = adb_host_option(),
    adb_port: int = adb_port_option(),
) -> None:
    """List monitors (index, geometry, primary, scale) and other devices."""
    from functools import partial

    from env.devices import PROVIDERS, device_sections
    from env.virtual_display import VirtualDisplay

    saved = dict(PROVIDERS)
    if adb_host is not None or adb_port is not None:
        from env.android import android_devices

        PROVIDERS["android"] = partial(android_devices, host=adb_host, port=adb_port)
    if xwayland:
        from env.desktop import desktop_devices

        PROVIDERS["monitors"] = partial(desktop_devices, xwayland=True)
    display = VirtualDisplay(virtual_display).start() if virtual_display else None
    try:
        sections = device_sections()
    finally:
        PROVIDERS.update(saved)
        if display is not None:
            display.stop()
    if as_json:
        typer.echo(json.dumps([s.model_dump() for s in sections], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for section in sections:
        if section.rows:
            table = Table(title=section.title, title_justify="left")
            for column in section.columns:
                table.add_column(column)
            for row in section.rows:
                table.add_row(*row)
            console.print(table)
        else:
            console.print(f"[bold]{section.title}[/bold]: {section.note or 'none'}")


def register(app: typer.Typer) -> None:
    app.command("devices")(devices_command)
