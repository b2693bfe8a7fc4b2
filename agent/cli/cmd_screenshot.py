"""`agent screenshot`: save what the agent would see (format from the file extension)."""

from __future__ import annotations

import io
import sys
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

FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def image_format(path: str) -> str:
    """The PIL format for an output path: by extension, PNG when there is none or for ``-``."""
    if path == "-":
        return "PNG"
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "PNG"
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"unsupported image format {suffix!r} for {path} (use one of: {known})")
    return FORMATS[suffix]


def screenshot_command(
    output: str = typer.Option(
        "screenshot.png", "-o", "--output", help="Where to save it (- = PNG on stdout)."
    ),
    monitor: str = monitor_option(),
    virtual_display: str = virtual_display_option(),
    xwayland: bool = xwayland_option(),
    android: str = android_option(),
    adb_host: str = adb_host_option(),
    adb_port: int = adb_port_option(),
) -> None:
    """Capture the screen and save it; prints the file, size and geometry."""
    from env.factory import open_env

    fmt = image_format(output)
    if output != "-":
        parent = Path(output).expanduser().resolve().parent
        if not parent.is_dir():
            raise InputError(f"cannot save {output}: folder {parent} does not exist")
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
    image = observation.image
    if output == "-":
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.buffer.flush()
        return
    path = Path(output).expanduser()
    image.save(path, format=fmt)
    g = observation.geometry
    typer.echo(
        f"saved {path} ({g.width}x{g.height}, {observation.platform} display {g.display}, "
        f"offset {g.offset[0]:g},{g.offset[1]:g}, scale {g.scale:g})"
    )


def register(app: typer.Typer) -> None:
    app.command("screenshot", cls=AndroidOptionCommand)(screenshot_command)
