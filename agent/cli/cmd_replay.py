"""`agent replay RUN_DIR`: perform a run's recorded actions again, without a model.

The replay itself is `agent.replay.replay`; this command translates its options and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from agent.cli.cmd_run import STATUS_COLOURS, ask_on_terminal, format_step
from agent.cli.env_options import (
    adb_host_option,
    adb_port_option,
    monitor_option,
    target_options,
    xwayland_option,
)
from agent.trajectory import StepRecord
from env.factory import EnvOptions


def replay_command(
    run_dir: Path = typer.Argument(..., help="A run folder written by `agent run`."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check and show the steps; send nothing."
    ),
    out: Path = typer.Option(None, "--out", help="Run folder of the replay (default runs/...)."),
    virtual_display: str = typer.Option(
        None,
        "--virtual-display",
        help="Xvfb size WxH, or 'off' for the current DISPLAY (default: as recorded).",
    ),
    secret: list[str] = typer.Option(
        [],
        "--secret",
        metavar="VAR",
        help="Type the recorded ${VAR} again, read from the environment (repeatable).",
    ),
    allow_launch: bool = typer.Option(
        False, "--allow-launch", help="Start the apps the run started, without asking."
    ),
    confirm: str = typer.Option(
        "risky",
        "--confirm",
        help="never|risky|always. Recorded actions are judged as a model's: risky ones "
        "(destructive keys and labels, typing into a terminal) are asked about.",
    ),
    timeout: float = typer.Option(
        600.0, "--timeout", min=1, max=86_400, help="Time budget of the replay (s)."
    ),
    monitor: str = monitor_option(),
    no_failsafe: bool = typer.Option(
        False, "--no-failsafe", help="Do not stop when the pointer is in a screen corner."
    ),
    xwayland: bool = xwayland_option(),
    serial: str = typer.Option(None, "--serial", help="Android: the device (default: adb's)."),
    adb_host: str = adb_host_option(),
    adb_port: int = adb_port_option(),
) -> None:
    """Replay recorded clicks, keys, text, launches and waits at the recorded coordinates.

    The screen must have the size the run was recorded at. A run folder is
    untrusted: typed secrets stay unknown unless named with --secret VAR, and
    recorded launches run only after a yes on the terminal or with
    --allow-launch, and risky recorded actions are confirmed as a model's would
    be (--confirm). The display, fail-safe and Android device come from these
    options, never from the folder. Exit codes as for `agent run`; a dry run
    that reaches a step the real replay would ask about fails (exit 1).
    """
    from actions.project_errors import InputError
    from agent.replay import ReplayOptions, prepare_replay, replay

    if confirm not in ("never", "risky", "always"):
        raise InputError(f"--confirm: {confirm!r} is not one of never, risky, always")
    options = ReplayOptions(
        dry_run=dry_run,
        out=out,
        virtual_display=virtual_display,
        secrets=tuple(secret),
        allow_launch=allow_launch,
        confirm=confirm,  # type: ignore[arg-type]
        timeout=timeout,
    )

    def approve(started: list[str]) -> bool:
        shown = "; ".join(started)
        return typer.confirm(f"{run_dir} would start: {shown}. Run them?", default=False,
                             err=True)  # fmt: skip

    ready = prepare_replay(
        run_dir, options, approve_launches=approve if sys.stdin.isatty() else None
    )

    def target(platform: str) -> EnvOptions:
        # the environment is the user's (options and defaults): a folder may set none of it
        return target_options(
            monitor=monitor,
            android=(serial or "") if platform == "android" else None,
            adb_host=adb_host,
            adb_port=adb_port,
            failsafe=not no_failsafe,
            xwayland=xwayland,
        )

    def on_step(rec: StepRecord) -> None:
        typer.secho(format_step(rec, len(ready.plan)), fg=STATUS_COLOURS.get(rec.status))

    n = len(ready.plan)
    typer.echo(f"replaying {n} steps of {run_dir}" + (" (dry run)" if dry_run else ""))
    # a dry run asks nobody: a step the real replay would ask about is refused and fails it
    ask = ask_on_terminal if sys.stdin.isatty() and not dry_run else None
    result = replay(ready, options, target=target, ask=ask, on_step=on_step)
    typer.secho(
        f"{result.status}: {result.message} ({result.steps} steps, {result.seconds:.1f} s)",
        fg="green" if result.exit_code == 0 else "red",
        err=result.exit_code != 0,
    )
    if dry_run and result.exit_code == 1:
        typer.secho("dry run: the real replay would stop or ask here (see the step above)",
                    fg="red", err=True)  # fmt: skip
    if result.report is not None:
        typer.echo(f"report: {result.report}")
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
