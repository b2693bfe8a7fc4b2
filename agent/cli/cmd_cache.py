"""`agent cache show|clear TASK`: list or clear the locate cache of a task file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="The locate cache: where scripted targets were found, reused while they look the same.",
    no_args_is_help=True,
)

TASK_HELP = "A task file (its cache is found as `agent run` finds it), or a cache folder."


def store_of(task: Path) -> Any:
    """The `LocateStore` of TASK (a task file or a cache folder), its path checked for links."""
    from agent.cache import LocateStore

    folder = cache_folder_of(task)
    base = None if task.is_dir() else task.resolve().parent
    store = LocateStore(folder, base=base)
    store.check()
    return store


def cache_folder_of(task: Path) -> Path:
    """The cache folder `agent run TASK` would use; TASK may also be the folder itself."""
    import yaml
    from pydantic import ValidationError

    from actions.project_errors import InputError, format_validation_error
    from tasks.runner import cache_folder
    from tasks.schema import CacheSettings

    if task.is_dir():
        return task
    if not task.is_file():
        raise InputError(f"{task}: no such task file or cache folder")
    try:
        data = yaml.safe_load(task.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{task}: cannot read the task file: {first}") from None
    if not isinstance(data, dict):
        raise InputError(f"{task}: not a task file (a mapping with name, env, steps/goal)")
    try:
        settings = CacheSettings.model_validate(data.get("cache", {}) or {})
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, f"{task}: cache")) from None
    folder = cache_folder(task, settings)
    if folder is None:
        raise InputError("no cache folder: SCREENPILOT_LOCATE_CACHE is off")
    return folder


def show_command(
    task: Path = typer.Argument(..., help=TASK_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
) -> None:
    """List the cached targets: instruction, point, screen, model, and whether the crop is there.

    Exit 2 if the cache file is corrupt (the error names the file and line).
    """
    store = store_of(task)
    snapshot = store.load()
    if as_json:
        rows = [
            {**e.model_dump(mode="json"), "crop_ok": e.shas <= snapshot.crops.keys()}
            for e in snapshot.entries
        ]
        typer.echo(json.dumps({"file": str(store.file), "entries": rows}, indent=2))
        return
    if not snapshot.entries:
        typer.echo(f"{store.file}: no entries")
        return
    typer.echo(f"{store.file}: {len(snapshot.entries)} entries")
    for number, e in enumerate(snapshot.entries, start=1):
        model = e.model.backend + (f":{e.model.model}" if e.model.model else "")
        if e.model.profile:
            model += f" ({e.model.profile})"
        crop = e.crop.file if e.crop.sha256 in snapshot.crops else f"{e.crop.file} (missing)"
        if e.context is not None:
            crop += " + row " + e.context.file + ("" if e.context.sha256 in snapshot.crops
                                                  else " (missing)")  # fmt: skip
        typer.echo(
            f"{number:>3}. {e.verb} {e.instruction!r} -> ({e.point[0]:.0f}, {e.point[1]:.0f})  "
            f"{e.platform} {e.screen.width}x{e.screen.height}  {model}  crop {crop}  "
            f"{e.source} {e.learned}"
        )


def clear_command(
    task: Path = typer.Argument(..., help=TASK_HELP, show_default=False),
    target: str = typer.Option(
        None, "--target", help="Clear only the entries of this instruction (exact text)."
    ),
) -> None:
    """Delete the cache (or one instruction's entries); the next run asks the model again.

    Works on a corrupt cache file too (without --target).
    """
    from actions.project_errors import InputError

    store = store_of(task)
    removed = store.clear(target)
    if removed is None:
        typer.echo(f"removed the unreadable {store.file}")
    elif removed == 0 and target is not None:
        raise InputError(f"{store.file}: no entry for {target!r}; nothing removed")
    else:
        what = f" of {target!r}" if target is not None else ""
        typer.echo(
            f"removed {removed} entr{'y' if removed == 1 else 'ies'}{what} from {store.file}"
        )


def register(root: typer.Typer) -> None:
    app.command("show")(show_command)
    app.command("clear")(clear_command)
    root.add_typer(app, name="cache")
