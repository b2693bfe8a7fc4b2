"""Entry point of the `agent` command.

Every module named ``agent/cli/cmd_*.py`` exposes ``register(app)``; they are
discovered here so that adding a command never edits this file. Errors the
toolkit raises for the user (`ScreenpilotError`, pydantic validation errors)
become one line on stderr and the documented exit code: 2 for bad input
(nothing was executed), 1 for a failed task or an unusable model answer.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys

import typer
from pydantic import ValidationError

from actions.project_errors import ScreenpilotError, format_validation_error

app = typer.Typer(
    name="agent",
    help="screenpilot: drive desktop and Android GUIs with a vision-language model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version() -> str:
    """The installed screenpilot version ("unknown" when run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("screenpilot")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"screenpilot {version()} (Python {sys.version.split()[0]})")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More logging (-vv: debug)."
    ),
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """screenpilot: drive desktop and Android GUIs with a vision-language model."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _register_commands() -> None:
    package = importlib.import_module("agent.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"agent.cli.{info.name}")
            module.register(app)


def fail(message: str, code: int) -> typer.Exit:
    """Print one error line to stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    _register_commands()
    try:
        code = app(args=argv, standalone_mode=False)
    except ScreenpilotError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except ValidationError as exc:
        typer.echo(f"error: {format_validation_error(exc)}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        # Usage errors of (typer's vendored) click arrive here with standalone_mode=False.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        if os.environ.get("SCREENPILOT_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
