"""`agent report RUN_DIR`: rebuild a run folder's report.html from its records."""

from __future__ import annotations

from pathlib import Path

import typer


def report_command(
    run_dir: Path = typer.Argument(..., help="A run folder written by `agent run`."),
) -> None:
    """Rebuild report.html (screenshots with markers, model answers, timings) and print its path."""
    from agent.report import write_report

    typer.echo(str(write_report(run_dir)))


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
