"""`agent compile RUN_DIR -o task.yaml`: a finished run (goal runs too) as a replayable task."""

from __future__ import annotations

from pathlib import Path

import typer


def compile_command(
    run_dir: Path = typer.Argument(..., help="A run folder written by `agent run`."),
    out: Path = typer.Option(..., "--out", "-o", help="The task file to write (YAML)."),
    name: str = typer.Option(None, "--name", help="The task's name (default: the run's)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing task file."),
) -> None:
    """Write a scripted task that does what the run did, with its locate cache seeded.

    Clicks the model chose become `click: "<text at the point>"` steps; typed
    secrets stay ${VAR}; the cache beside the new file holds where each click
    went, so `agent run` of the result makes no model call while the screen
    looks the same. Exit 2 if the run cannot be compiled (nothing is written).
    """
    from tasks.compile import compile_run, write_compiled

    compiled = compile_run(run_dir, name=name)
    folder = write_compiled(compiled, out, force=force)
    steps = len(compiled.task.steps)
    typer.echo(
        f"wrote {out}: {steps} steps, {compiled.named} named clicks, "
        f"{compiled.coordinates} at fixed coordinates"
    )
    if folder is not None:
        typer.echo(f"seeded {len(compiled.entries)} cache entries in {folder}")
    for note in compiled.notes:
        typer.echo(f"note: {note}")


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_command)
