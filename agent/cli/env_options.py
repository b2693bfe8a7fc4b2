"""Command-line options that pick an environment, shared by `agent do` and `agent screenshot`.

Every command that touches a screen takes the same options and turns them into
`env.factory` options with `target_options`, so the desktop/Android choice and
its validation live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from actions.errors import InputError
from env.factory import AndroidOptions, DesktopOptions, EnvOptions

MONITOR_HELP = "Monitor index (0 = all monitors together) or 'primary'."
VIRTUAL_DISPLAY_HELP = "Start a fresh Xvfb of this size (WxH, e.g. 1920x1080) and use it."
ANDROID_HELP = "Act on an Android device (adb) instead of the desktop: --android [SERIAL]."


def monitor_option() -> str:
    return typer.Option("primary", "--monitor", help=MONITOR_HELP, show_default=True)


def virtual_display_option() -> str | None:
    return typer.Option(None, "--virtual-display", metavar="WxH", help=VIRTUAL_DISPLAY_HELP)


def android_option() -> str | None:
    # An option with an optional value: `--android` alone selects the only/default device.
    return typer.Option(
        None, "--android", is_flag=False, flag_value="", metavar="[SERIAL]", help=ANDROID_HELP
    )


def adb_host_option() -> str | None:
    return typer.Option(None, "--adb-host", help="adb server host (default: adb's own).")


def adb_port_option() -> int | None:
    return typer.Option(None, "--adb-port", help="adb server port (default: 5037).")


def optional_value_first(args: Sequence[str], option: str, words: Sequence[str]) -> list[str]:
    """Make ``OPTION WORD`` mean "option without a value, then WORD" when WORD is a command.

    Click gives an optional-value option the next token, so ``--android tap 1 2``
    would read ``tap`` as a serial; ``--android=`` keeps it empty instead.
    """
    result = list(args)
    for i, token in enumerate(result):
        if token in words:
            break
        if token == option and (i + 1 == len(result) or result[i + 1] in words):
            result[i] = f"{option}="
    return result


def target_options(
    *,
    monitor: str = "primary",
    virtual_display: str | None = None,
    android: str | None = None,
    adb_host: str | None = None,
    adb_port: int | None = None,
    failsafe: bool = True,
) -> EnvOptions:
    """The validated environment options a command line asked for."""
    if android is not None:
        if virtual_display:
            raise InputError("--virtual-display is for desktops; it cannot go with --android")
        if monitor not in ("primary", None):
            raise InputError("--monitor is for desktops; it cannot go with --android")
        return AndroidOptions(serial=android or None, adb_host=adb_host, adb_port=adb_port)
    if adb_host is not None or adb_port is not None:
        raise InputError("--adb-host/--adb-port need --android")
    return DesktopOptions(monitor=monitor, virtual_display=virtual_display, failsafe=failsafe)
