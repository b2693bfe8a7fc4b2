"""Phone verbs for `agent do`: tap, double_tap, long_press, swipe, open, button.

They join the verbs of `agent.cli.cmd_do` (type, key, wait, click, ...), so
``agent do --android tap 540 1200`` and ``agent do --android type 'héllo'``
go through the same validation and `perform` as every other action. The
verbs build actions of the mobile_use space; on a desktop, the desktop
environment decides what it can do with them.
"""

from __future__ import annotations

import typer

from actions.types import Click, LongPress, OpenApp, Swipe, SystemButton
from agent.cli.cmd_do import do_app, perform

X = typer.Argument(..., help="x in screenshot pixels.", show_default=False)
Y = typer.Argument(..., help="y in screenshot pixels.", show_default=False)


@do_app.command("tap")
def tap_verb(ctx: typer.Context, x: float = X, y: float = Y) -> None:
    """Tap at (X, Y)."""
    perform(ctx, Click(x=x, y=y))


@do_app.command("double_tap")
def double_tap_verb(ctx: typer.Context, x: float = X, y: float = Y) -> None:
    """Tap twice at (X, Y)."""
    perform(ctx, Click(x=x, y=y, count=2))


@do_app.command("long_press")
def long_press_verb(
    ctx: typer.Context,
    x: float = X,
    y: float = Y,
    ms: int = typer.Option(1000, "--ms", min=50, max=60_000, help="How long to hold (ms)."),
) -> None:
    """Touch and hold at (X, Y)."""
    perform(ctx, LongPress(x=x, y=y, duration=ms / 1000))


@do_app.command("swipe")
def swipe_verb(
    ctx: typer.Context,
    x1: float = typer.Argument(..., show_default=False),
    y1: float = typer.Argument(..., show_default=False),
    x2: float = typer.Argument(..., show_default=False),
    y2: float = typer.Argument(..., show_default=False),
    ms: int = typer.Option(300, "--ms", min=10, max=60_000, help="How long the swipe takes (ms)."),
) -> None:
    """Swipe from (X1, Y1) to (X2, Y2)."""
    perform(ctx, Swipe(x=x1, y=y1, to_x=x2, to_y=y2, duration=ms / 1000))


@do_app.command("open")
def open_verb(
    ctx: typer.Context,
    app: str = typer.Argument(..., help="A package (com.android.settings) or a label (Settings)."),
) -> None:
    """Open an app by package or label."""
    perform(ctx, OpenApp(app=app))


@do_app.command("button")
def button_verb(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="back, home, menu, enter or app_switch."),
) -> None:
    """Press a phone system button."""
    perform(ctx, SystemButton(button=name))  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """The verbs are added to `do_app` at import; `agent.cli.cmd_do` registers the group."""
