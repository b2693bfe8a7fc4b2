"""`agent replay RUN_DIR`: perform a run's recorded actions again, without a model."""

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
    from actions.errors import InputError
    from agent.replay import default_replay_dir, launches, plan_replay, recorded_size
    from agent.safety import ConfirmPolicy
    from agent.secrets import Redactor
    from agent.trajectory import RunInfo, read_run
    from env.virtual_display import parse_size
    from tasks.runner import execute
    from tasks.schema import EnvSection

    if confirm not in ("never", "risky", "always"):
        raise InputError(f"--confirm: {confirm!r} is not one of never, risky, always")
    run = read_run(run_dir)
    plan, secrets = plan_replay(run, secret)
    started = launches(plan)
    if started and not dry_run and not allow_launch:
        shown = "; ".join(started)
        if not sys.stdin.isatty():
            raise InputError(
                f"{run_dir} would start: {shown}; check the commands and pass --allow-launch "
                "to run them"
            )
        if not typer.confirm(f"{run_dir} would start: {shown}. Run them?", default=False,
                             err=True):  # fmt: skip
            raise InputError("replay cancelled: its launches were not allowed")
    size = recorded_size(run)
    if run.info.platform not in ("desktop", "android"):
        raise InputError(f"{run_dir}/run.json: unknown platform {run.info.platform!r}")
    # the environment is the user's (options and defaults): a folder may set none of it
    options = target_options(
        monitor=monitor,
        android=(serial or "") if run.info.platform == "android" else None,
        adb_host=adb_host,
        adb_port=adb_port,
        failsafe=not no_failsafe,
        xwayland=xwayland,
    )
    section = EnvSection.model_validate({run.info.platform: options.model_dump()})
    display = None
    if section.platform == "desktop":
        if virtual_display is None:
            # a private Xvfb of the recorded screen size, if the run had one: it reaches
            # nothing of the user's session, and only its size comes from the folder
            display = _recorded_virtual(run.info.env.get("virtual_display"), run_dir)
        elif virtual_display.lower() not in ("off", "no", "none"):
            width, height = parse_size(virtual_display)
            display = f"{width}x{height}"

    def check_env(env: object) -> None:
        actual = env.size  # type: ignore[attr-defined]
        if size is not None and tuple(actual) != tuple(size):
            raise InputError(
                f"the screen is {actual[0]}x{actual[1]} but the run was recorded at "
                f"{size[0]}x{size[1]}; recorded coordinates would miss"
            )

    def on_step(rec: StepRecord) -> None:
        typer.secho(format_step(rec, len(plan)), fg=STATUS_COLOURS.get(rec.status))

    def info(display_name: str | None) -> RunInfo:
        env = {**options.model_dump(mode="json"), "display": display_name}
        if section.platform == "desktop":
            env["virtual_display"] = display
        return RunInfo(
            name=f"replay of {run.info.name}",
            task_file=run.info.task_file,
            platform=run.info.platform,
            env=env,
            model={"replay_of": str(run_dir)},
            dry_run=dry_run,
        )

    from agent.replay import replay_steps

    typer.echo(f"replaying {len(plan)} steps of {run_dir}" + (" (dry run)" if dry_run else ""))
    # a dry run asks nobody: a step the real replay would ask about is refused and fails it
    ask = ask_on_terminal if sys.stdin.isatty() and not dry_run else None
    result = execute(
        section,
        settle=1.0,
        info=info,
        body=lambda session: replay_steps(session, plan),
        out=out or default_replay_dir(run_dir),
        dry_run=dry_run,
        display_size=display,
        redactor=Redactor(secrets),
        load=None,
        policy=ConfirmPolicy(confirm, ask),  # type: ignore[arg-type]
        timeout=timeout,
        check_env=check_env,
        on_step=on_step,
    )
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


def _recorded_virtual(value: object, run_dir: Path) -> str | None:
    """run.json's virtual display size (WxH), checked; None when the run had none."""
    from actions.errors import InputError
    from env.virtual_display import parse_size

    if value is None:
        return None
    try:
        width, height = parse_size(str(value))
    except InputError as exc:
        raise InputError(f"{run_dir}/run.json: env.virtual_display: {exc}") from None
    return f"{width}x{height}"


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
