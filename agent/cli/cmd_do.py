"""`agent do VERB ARGS...`: perform one action now, as the agent would.

Coordinates are screenshot pixels of the chosen monitor (what `agent screenshot`
saves). Each verb only builds an action from actions/types.py (so validation is
the same as for model answers and task files) and hands it to `perform`, which
opens the environment through `env.factory.open_env`, validates everything,
and sends it (or, with --dry-run, prints what it would send).

Adding verbs from another module: define ``register(app)`` in an
``agent/cli/cmd_*.py`` module sorting after this one, and in it::

    from agent.cli.cmd_do import do_app, perform

    @do_app.command("tap")
    def tap(ctx: typer.Context, x: float, y: float) -> None:
        perform(ctx, Click(x=x, y=y))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from actions.types import Action, Click, Drag, Key, Move, Scroll, Type, Wait
from actions.verb_args import build, describe, fields_of, scalar_type
from actions.vocabulary import ActionSpec, simple_specs
from agent.cli.env_options import (
    AndroidOptionGroup,
    adb_host_option,
    adb_port_option,
    android_option,
    monitor_option,
    target_options,
    virtual_display_option,
    window_manager_option,
    xwayland_option,
)
from env.factory import EnvOptions

do_app = typer.Typer(
    name="do",
    cls=AndroidOptionGroup,
    no_args_is_help=True,
    help="Perform one action now (coordinates: screenshot pixels of the chosen monitor).",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass(frozen=True)
class DoOptions:
    """What the `do` group's options chose, passed to every verb through the context."""

    target: EnvOptions
    dry_run: bool
    settle: float


@do_app.callback()
def _do_options(
    ctx: typer.Context,
    monitor: str = monitor_option(),
    virtual_display: str = virtual_display_option(),
    window_manager: str = window_manager_option(),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what would be sent; send nothing."
    ),
    settle: float = typer.Option(
        0.0, "--settle", min=0, max=60, help="Then wait up to this long for the screen to settle."
    ),
    failsafe: bool = typer.Option(
        True, "--failsafe/--no-failsafe", help="A pointer resting in a screen corner aborts."
    ),
    xwayland: bool = xwayland_option(),
    android: str = android_option(),
    adb_host: str = adb_host_option(),
    adb_port: int = adb_port_option(),
) -> None:
    """Perform one action now (coordinates: screenshot pixels of the chosen monitor)."""
    target = target_options(
        monitor=monitor,
        virtual_display=virtual_display,
        android=android,
        adb_host=adb_host,
        adb_port=adb_port,
        failsafe=failsafe,
        xwayland=xwayland,
        window_manager=window_manager,
    )
    ctx.obj = DoOptions(target=target, dry_run=dry_run, settle=settle)


def perform(ctx: typer.Context, action: Action) -> None:
    """Open the chosen environment, perform `action` (validated first), print one line."""
    from env.factory import open_env

    options = ctx.find_object(DoOptions)
    if options is None:  # a verb invoked outside the group
        options = DoOptions(target=target_options(), dry_run=False, settle=0.0)
    with open_env(options.target, dry_run=options.dry_run, settle=options.settle) as env:
        result = env.act(action)
        geometry = env.geometry
    where = ""
    if result.input_points:
        points = ", ".join(f"({x:g}, {y:g})" for x, y in result.input_points)
        where = f" -> input {points}"
    if result.scroll is not None and result.scroll.notches is not None:
        where += f" ({abs(result.scroll.notches)} wheel notches)"
    if geometry.scale != 1 or geometry.offset != (0.0, 0.0):
        where += f" [offset {geometry.offset[0]:g},{geometry.offset[1]:g} scale {geometry.scale:g}]"
    prefix = "sent" if result.sent else "dry run: would send"
    typer.echo(f"{prefix} {action.describe()}{where}")


X = typer.Argument(..., help="x in screenshot pixels.", show_default=False)
Y = typer.Argument(..., help="y in screenshot pixels.", show_default=False)


@do_app.command("click")
def click_verb(
    ctx: typer.Context,
    x: float = X,
    y: float = Y,
    button: str = typer.Option("left", "--button", help="left, right or middle."),
    count: int = typer.Option(1, "--count", help="1, 2 (double) or 3 (triple)."),
) -> None:
    """Click at (X, Y)."""
    perform(ctx, Click(x=x, y=y, button=button, count=count))  # type: ignore[arg-type]


@do_app.command("double_click")
def double_click_verb(ctx: typer.Context, x: float = X, y: float = Y) -> None:
    """Double-click at (X, Y)."""
    perform(ctx, Click(x=x, y=y, count=2))


@do_app.command("right_click")
def right_click_verb(ctx: typer.Context, x: float = X, y: float = Y) -> None:
    """Right-click at (X, Y)."""
    perform(ctx, Click(x=x, y=y, button="right"))


@do_app.command("move")
def move_verb(ctx: typer.Context, x: float = X, y: float = Y) -> None:
    """Move the pointer to (X, Y)."""
    perform(ctx, Move(x=x, y=y))


@do_app.command("drag")
def drag_verb(
    ctx: typer.Context,
    x1: float = typer.Argument(..., show_default=False),
    y1: float = typer.Argument(..., show_default=False),
    x2: float = typer.Argument(..., show_default=False),
    y2: float = typer.Argument(..., show_default=False),
    duration: float = typer.Option(0.3, "--duration", help="Seconds the glide takes."),
    button: str = typer.Option("left", "--button", help="left, right or middle."),
) -> None:
    """Press at (X1, Y1), move to (X2, Y2), release."""
    perform(
        ctx,
        Drag(x=x1, y=y1, to_x=x2, to_y=y2, duration=duration, button=button),  # type: ignore[arg-type]
    )


@do_app.command("scroll", context_settings={"ignore_unknown_options": True})
def scroll_verb(
    ctx: typer.Context,
    x: float = X,
    y: float = Y,
    amount: int = typer.Argument(
        ..., help="Wheel notches: positive = up (right with --horizontal).", show_default=False
    ),
    horizontal: bool = typer.Option(False, "--horizontal", help="Turn the horizontal wheel."),
    pixels: bool = typer.Option(
        False, "--pixels", help="AMOUNT is a distance in screenshot pixels, not notches."
    ),
) -> None:
    """Turn the mouse wheel AMOUNT notches (or --pixels: scroll AMOUNT pixels) at (X, Y)."""
    axis = "horizontal" if horizontal else "vertical"
    size = {"pixels": amount} if pixels else {"amount": amount}
    perform(ctx, Scroll(x=x, y=y, axis=axis, **size))  # type: ignore[arg-type]


@do_app.command("type")
def type_verb(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Text to type exactly; newlines press Enter."),
) -> None:
    """Type TEXT into the focused widget (text starting with '-': agent do type -- -TEXT)."""
    perform(ctx, Type(text=text))


@do_app.command("key")
def key_verb(
    ctx: typer.Context,
    combo: str = typer.Argument(..., help="A key or combo: enter, ctrl+s, alt+tab, f5 ..."),
) -> None:
    """Press a key or a key combo."""
    perform(ctx, Key(keys=combo))


@do_app.command("wait")
def wait_verb(
    ctx: typer.Context,
    seconds: float = typer.Argument(..., help="Seconds to wait.", show_default=False),
) -> None:
    """Wait SECONDS (the screen keeps changing meanwhile)."""
    perform(ctx, Wait(seconds=seconds))


# -- the simple actions' verbs, generated from their vocabulary entries ------------------
def _simple_verb(spec: ActionSpec) -> Callable[..., None]:
    """An `agent do` verb for a simple action: its class's fields as arguments and options."""
    assert spec.simple is not None and spec.do_verb is not None
    fields = fields_of(spec.cls)
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("ctx", keyword, annotation=typer.Context)]
    annotations: dict[str, Any] = {"ctx": typer.Context}
    for name, info in fields.items():
        kind, required = scalar_type(info), info.is_required()
        default = ... if required else info.default
        if name in spec.simple.positional:
            shown = f"{describe(info, name)}" + ("" if required else f" (default {default})")
            param = typer.Argument(default, help=shown, show_default=False, metavar=name.upper())
        else:
            param = typer.Option(default, f"--{name.replace('_', '-')}", help=describe(info, name))
        params.append(inspect.Parameter(name, keyword, annotation=kind, default=param))
        annotations[name] = kind
    params.sort(key=lambda p: spec.simple.positional.index(p.name)  # type: ignore[union-attr]
                if p.name in spec.simple.positional else -1 if p.name == "ctx" else 99)  # fmt: skip
    verb_name = spec.do_verb

    def verb(ctx: typer.Context, **values: Any) -> None:
        perform(ctx, build(spec.cls, values, where=verb_name))

    verb.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    verb.__annotations__ = annotations
    verb.__name__ = verb.__qualname__ = f"{verb_name}_verb"
    doc = (spec.cls.__doc__ or verb_name).strip().splitlines()[0]
    only = "" if "android" in spec.platforms else " (desktop only)"
    verb.__doc__ = doc.rstrip(".") + only + "."
    return verb


for _spec in simple_specs():
    if _spec.do_verb is not None:
        do_app.command(_spec.do_verb)(_simple_verb(_spec))


def register(app: typer.Typer) -> None:
    app.add_typer(do_app, name="do")
