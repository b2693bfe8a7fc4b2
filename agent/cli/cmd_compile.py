"""`agent compile RUN_DIR -o task.yaml`: a finished run (goal runs too) as a replayable task."""

from __future__ import annotations

from pathlib import Path

import typer


def compile_command(
    run_dir: Path = typer.Argument(..., help="A run folder written by `agent run`."),
    out: Path = typer.Option(..., "--out", "-o", help="The task file to write (YAML)."),
    name: str = typer.Option(None, "--name", help="The task's name (default: the run's)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing task file."),
    allow_launch: bool = typer.Option(
        False,
        "--allow-launch",
        help="Write the run's launches as steps (default: commented out, to check first).",
    ),
    virtual_display: str = typer.Option(
        None,
        "--virtual-display",
        metavar="WxH",
        help="The task's virtual display (default: "
        "the run's screen size when it ran on one; 'off' for the current DISPLAY).",
    ),  # fmt: skip
    base_url: str = typer.Option(
        None, "--base-url", help="The model's endpoint (a run folder's own is never copied)."
    ),
    secret: list[str] = typer.Option(
        [],
        "--secret",
        metavar="VAR",
        help="Keep the recorded ${VAR} of a typed secret as ${VAR} in the task (repeatable).",
    ),
) -> None:
    """Write a scripted task that does what the run did, with its locate cache seeded.

    Clicks the model chose become `click: "<text at the point>"` steps; typed
    secrets stay ${VAR} when named with --secret VAR (else compile refuses);
    the cache beside the new file holds where each click went, so `agent run`
    of the result makes no model call while the screen
    looks the same. A run folder is untrusted: a click is cached only when its
    screenshot shows the instruction's text at its point, steps that were not
    the user's stay judged (`provenance: model`), launches are commented out
    unless --allow-launch, and the env and model address come from you, not the
    folder. Exit 2 if the run cannot be compiled (nothing is written).
    """
    from tasks.compile import compile_run, write_compiled

    if virtual_display is not None and virtual_display.lower() in ("off", "no", "none"):
        virtual_display = "off"
    compiled = compile_run(
        run_dir,
        name=name,
        allow_launch=allow_launch,
        virtual_display=virtual_display,
        base_url=base_url,
        secrets=secret,
    )
    folder = write_compiled(compiled, out, force=force)
    steps = len(compiled.task.steps)
    typer.echo(
        f"wrote {out}: {steps} steps, {compiled.named} named clicks, "
        f"{compiled.coordinates} at fixed coordinates"
    )
    if folder is not None:
        typer.echo(f"seeded {len(compiled.entries)} cache entries in {folder}")
    if compiled.launches:
        typer.echo(
            f"{compiled.launches} recorded launches are commented out: check them, then remove "
            "the '#' (or compile with --allow-launch)"
        )
    for note in compiled.notes:
        typer.echo(f"note: {note}")


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_command)
