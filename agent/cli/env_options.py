"""Command-line options that pick an environment, shared by `agent do` and `agent screenshot`.

Every command that touches a screen takes the same options and turns them into
`env.factory` options with `target_options`, so the desktop/Android choice and
its validation live in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from actions.project_errors import InputError
from env.factory import AndroidOptions, DesktopOptions, EnvOptions

MONITOR_HELP = "Monitor index (0 = all monitors together) or 'primary'."
VIRTUAL_DISPLAY_HELP = "Start a fresh Xvfb of this size (WxH, e.g. 1920x1080) and use it."
ANDROID_HELP = "Act on an Android device (adb) instead of the desktop: --android [SERIAL]."
XWAYLAND_HELP = (
    "In a Wayland session, drive $DISPLAY (XWayland) anyway: only X11 apps are seen and reached."
)


def monitor_option() -> str:
    return typer.Option("primary", "--monitor", help=MONITOR_HELP, show_default=True)


def virtual_display_option() -> str | None:
    return typer.Option(None, "--virtual-display", metavar="WxH", help=VIRTUAL_DISPLAY_HELP)


WINDOW_MANAGER_HELP = "With --virtual-display: openbox (titles, focus; default) or none."


def window_manager_option() -> str:
    return typer.Option("openbox", "--window-manager", metavar="openbox|none",
                        help=WINDOW_MANAGER_HELP)  # fmt: skip


def xwayland_option() -> bool:
    return typer.Option(False, "--xwayland", help=XWAYLAND_HELP)


def android_option() -> str | None:
    # `--android` alone (the default device) becomes `--android=` in `optional_value_first`,
    # which the commands below apply before click parses.
    return typer.Option(None, "--android", metavar="[SERIAL]", help=ANDROID_HELP)


def adb_host_option() -> str | None:
    return typer.Option(None, "--adb-host", help="adb server host (default: adb's own).")


def adb_port_option() -> int | None:
    return typer.Option(None, "--adb-port", help="adb server port (default: 5037).")


def optional_value_first(args: Sequence[str], option: str, words: Collection[str]) -> list[str]:
    """Give `option` an empty value (``--android=``) when no value follows it.

    No value follows when it is last, or the next token is an option or one of
    `words` (a verb of the group): ``--android tap 1 2`` is the default device,
    ``--android emulator-5554 tap 1 2`` a chosen one. Tokens after the verb are
    the verb's own.
    """
    result = list(args)
    for i, token in enumerate(result):
        if token in words or token == "--":
            break
        if token == option:
            following = result[i + 1] if i + 1 < len(result) else None
            if following is None or following.startswith("-") or following in words:
                result[i] = f"{option}="
    return result


class AndroidOptionGroup(TyperGroup):
    """A command group whose `--android` may stand without a serial."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, optional_value_first(args, "--android", self.commands))


class AndroidOptionCommand(TyperCommand):
    """A command whose `--android` may stand without a serial."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, optional_value_first(args, "--android", ()))


def target_options(
    *,
    monitor: str = "primary",
    virtual_display: str | None = None,
    android: str | None = None,
    adb_host: str | None = None,
    adb_port: int | None = None,
    failsafe: bool = True,
    xwayland: bool = False,
    window_manager: str = "openbox",
) -> EnvOptions:
    """The validated environment options a command line asked for."""
    if android is not None:
        if virtual_display:
            raise InputError("--virtual-display is for desktops; it cannot go with --android")
        if xwayland:
            raise InputError("--xwayland is for desktops; it cannot go with --android")
        if monitor not in ("primary", None):
            raise InputError("--monitor is for desktops; it cannot go with --android")
        return AndroidOptions(serial=android or None, adb_host=adb_host, adb_port=adb_port)
    if adb_host is not None or adb_port is not None:
        raise InputError("--adb-host/--adb-port need --android")
    return DesktopOptions(
        monitor=monitor,
        virtual_display=virtual_display,
        failsafe=failsafe,
        xwayland=xwayland,
        window_manager=window_manager,  # type: ignore[arg-type]
    )
