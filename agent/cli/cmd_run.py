"""`agent run TASK.yaml`: run a task file, print a line per step, write the run folder.

Exit codes: 0 success, 1 the task failed (an assertion, the model gave up, a
budget ran out, a step could not find its target), 2 bad input (nothing was
executed), 130 interrupted (the trajectory is saved all the same).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from actions.types import Click, KeyCombo, Scroll, Wait
from agent.trajectory import RecordedAction, StepRecord

if TYPE_CHECKING:
    from tasks.runner import RunResult

STATUS_COLOURS = {"ok": "green", "dry_run": "yellow", "failed": "red", "denied": "red"}


def ask_on_terminal(question: str) -> bool:
    """Ask the user on the terminal (stderr); no is the default."""
    return typer.confirm(f"confirm: {question}?", default=False, err=True)


def format_step(rec: StepRecord, budget: int | None) -> str:
    """The progress line of one step, e.g. ``[ 3/30] click 'Name' -> (75, 114)  ok  0.84 s``."""
    total = f"/{budget}" if budget else ""
    what = rec.verb
    action = rec.typed_action()
    # A goal step's instruction is the goal, the same on every line: show what was done.
    detail = _action_detail(action) if rec.source == "goal" else rec.instruction
    if detail:
        shown = detail if len(detail) <= 60 else detail[:57] + "..."
        what += f" {shown!r}"
    where = ""
    x, y = getattr(action, "x", None), getattr(action, "y", None)
    if x is not None and y is not None:
        where = f" -> ({x:.0f}, {y:.0f})"
    extra = f"  {rec.error}" if rec.error else (f"  {rec.note}" if rec.note else "")
    cache = f"  cache {rec.cache.describe()}" if rec.cache is not None else ""
    if rec.located is not None and rec.located.by == "a11y":
        cache = f"  a11y {rec.located.role} {rec.located.name!r}"
    return (
        f"[{rec.index:>2}{total}] {what}{where}  {rec.status}  {rec.timings.total:.2f} s{cache}"
        f"{extra}"
    )


def parse_locate(text: str) -> list[str]:
    """``a11y,cache,model`` -> a checked list (InputError, exit 2, on anything else)."""
    from actions.project_errors import InputError

    order = [part.strip().lower() for part in text.split(",") if part.strip()]
    bad = [part for part in order if part not in ("a11y", "cache", "model")]
    if not order or bad or len(set(order)) != len(order):
        raise InputError(
            f"--locate: expected a11y, cache and/or model, each at most once, got {text!r}"
        )
    return order


def _action_detail(action: RecordedAction | None) -> str | None:
    """The words of a (redacted) action beyond its type and point: text, keys, amount."""
    text = getattr(action, "text", None)
    if text:
        return str(text)
    if isinstance(action, KeyCombo):
        return action.combo
    for field in ("app", "button", "answer"):
        value = getattr(action, field, None)
        if value and not isinstance(action, Click):
            return str(value)
    if isinstance(action, Scroll):
        amount, pixels = action.amount, action.pixels
        return f"{amount}" if amount is not None else f"{pixels} px" if pixels is not None else None
    if isinstance(action, Wait):
        return f"{action.seconds:g} s"
    return None


def summary_line(result: RunResult) -> str:
    """The last line of a run: status, message, steps, time, model calls made and saved."""
    calls = f"model calls: {result.model_calls}"
    if result.calls_saved:
        calls += f" made, {result.calls_saved} saved by the cache"
    return (
        f"{result.status}: {result.message} ({result.steps} steps, {result.seconds:.1f} s; {calls})"
    )


def run_command(
    task_files: list[Path] = typer.Argument(
        ..., help="The task file(s) (YAML); several run at once with --workers.", show_default=False
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Run folder (default runs/<time>-<name>); with several tasks, the folder that "
        "holds one run folder per task and summary.json.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Send nothing; the report shows what would have been done."
    ),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="Override the step budget."),
    timeout: float = typer.Option(None, "--timeout", min=1, help="Override the time budget (s)."),
    virtual_display: str = typer.Option(
        None,
        "--virtual-display",
        help="Run on a fresh Xvfb of this size (WxH), or 'off' to use the current DISPLAY only.",
    ),
    model: str = typer.Option(None, "--model", help="Override model.model (checkpoint or name)."),
    backend: str = typer.Option(None, "--backend", help="Override model.backend: qwen|openai|ocr."),
    base_url: list[str] = typer.Option(
        None,
        "--base-url",
        help="Override model.base_url; repeat it for several endpoints serving the model "
        "(requests go to the least busy; one that fails is retried on another).",
    ),
    profile: str = typer.Option(
        None, "--profile", help="Override model.profile (see `agent models`)."
    ),
    confirm: str = typer.Option(
        None, "--confirm", help="Override the confirmation policy: never|risky|always."
    ),
    cache: str = typer.Option(
        None,
        "--cache",
        help="Locate cache of scripted targets: off|read|write|read-write "
        "(default: the task's cache:, else read-write).",
    ),
    locate: str = typer.Option(
        None,
        "--locate",
        help="Where scripted targets are looked for, in order, comma-separated: "
        "a11y,cache,model (default: the task's locate:, else all three in that order).",
    ),
    prefill: bool = typer.Option(
        None,
        "--prefill/--no-prefill",
        help="Override model.prefill: start grounding replies with the click call's opening.",
    ),
    workers: int = typer.Option(
        None, "--workers", min=1, help="Run the task files N at a time (one process each)."
    ),
    restart: bool = typer.Option(
        False, "--restart", help="Several tasks: run all again, not only those that failed."
    ),
    android: list[str] = typer.Option(
        None, "--android", help="Several tasks: a device to spread Android tasks over (repeatable)."
    ),
    ray: bool = typer.Option(
        False,
        "--ray",
        help="Several tasks: run them on the Ray cluster at $RAY_ADDRESS (else a local one), "
        "on nodes that declare an x11 resource or the task's phone, android:SERIAL "
        "(needs screenpilot[ray]).",
    ),
) -> None:
    """Run a task file: scripted steps and/or a goal, on a desktop or a phone.

    Prints one line per step and where the run folder and report.html are.
    Exit 0 success, 1 task failed, 2 bad input (nothing executed), 130 Ctrl-C.
    Several task files (or --workers): each runs in its own process, N at a time,
    into OUT/<name>/; OUT/summary.json lists the outcomes; exit 0 only when all
    succeeded. The same command again re-runs only those that did not.
    """
    if len(task_files) > 1 or workers is not None or ray:
        from agent.cli.run_batch import run_batch

        forwarded = [
            arg
            for flag, value in (
                ("--max-steps", max_steps),
                ("--timeout", timeout),
                ("--virtual-display", virtual_display),
                ("--model", model),
                ("--backend", backend),
                *(("--base-url", url) for url in base_url or ()),
                ("--profile", profile),
                ("--confirm", confirm),
                ("--cache", cache),
                ("--locate", locate),
            )
            if value is not None
            for arg in (flag, str(value))
        ] + (["--dry-run"] if dry_run else [])
        if prefill is not None:
            forwarded.append("--prefill" if prefill else "--no-prefill")
        run_batch(
            task_files,
            out=out,
            workers=workers or 1,
            restart=restart,
            android=android or [],
            child_args=forwarded,
            virtual_display=virtual_display,
            timeout=timeout,
            may_serve=not (model or backend or base_url),
            ray=ray,
        )
    task_file = task_files[0]
    from actions.project_errors import InputError
    from agent.models.weights import announce_loads

    announce_loads()
    from agent.cache import parse_mode
    from env.virtual_display import parse_size
    from tasks.loader import load_task
    from tasks.runner import run_task

    if cache is not None:
        parse_mode(cache)
    loaded = load_task(task_file)
    task = loaded.task
    overrides: dict[str, Any] = {}
    model_overrides = {
        k: v
        for k, v in (
            ("model", model),
            ("backend", backend),
            ("base_url", base_url[0] if base_url else None),
            ("endpoints", tuple(base_url[1:]) if base_url and len(base_url) > 1 else None),
            ("profile", profile),
        )
        if v
    }
    if prefill is not None:
        model_overrides["prefill"] = prefill
    if model_overrides:
        overrides["model"] = {**task.model.model_dump(exclude_none=True), **model_overrides}
    if max_steps is not None:
        overrides["max_steps"] = max_steps
    if timeout is not None:
        overrides["timeout"] = timeout
    if confirm is not None:
        overrides["confirm"] = confirm
    if locate is not None:
        overrides["locate"] = parse_locate(locate)
    if overrides:
        data = {**task.model_dump(by_alias=True, exclude_none=True), **overrides}
        loaded = loaded.with_task(type(task).model_validate(data))
        task = loaded.task
    if virtual_display and virtual_display.lower() not in ("off", "no", "none"):
        size = parse_size(virtual_display)
        virtual_display = f"{size[0]}x{size[1]}"
    if task.platform != "desktop" and virtual_display:
        raise InputError("--virtual-display applies to desktop tasks only")

    budget = task.max_steps
    interactive = sys.stdin.isatty()

    def on_ready(run_dir: Path) -> None:
        mode = " (dry run: nothing will be sent)" if dry_run else ""
        typer.echo(f"running {task.name} on {task.platform}{mode}; run folder {run_dir}")

    def on_step(rec: StepRecord) -> None:
        colour = STATUS_COLOURS.get(rec.status)
        typer.secho(format_step(rec, budget), fg=colour)

    result = run_task(
        loaded,
        out=out,
        dry_run=dry_run,
        virtual_display=virtual_display,
        ask=ask_on_terminal if interactive else None,
        on_step=on_step,
        on_ready=on_ready,
        cache=cache,
    )
    colour = "green" if result.exit_code == 0 else "red"
    typer.secho(
        summary_line(result),
        fg=colour,
        err=result.exit_code != 0,
    )
    if result.report is not None:
        typer.echo(f"report: {result.report}")
    elif result.run_dir is not None:
        typer.echo(f"run folder: {result.run_dir} (rebuild the report with: agent report DIR)")
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
