"""`agent run A.yaml B.yaml ... --workers N --out DIR`: the many-tasks path of `agent run`.

Every task file is loaded and checked first (bad input: exit 2, nothing run),
then `agent.parallel.batch` runs one child `agent run` per task, N at a time,
while a live table shows task, worker, step and status. At the end: a summary
table and ``DIR/summary.json``. Exit 0 when every task succeeded, 1 otherwise,
130 on Ctrl-C (every started task's run folder is complete, marked interrupted).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import typer

from agent.parallel.batch import Planned, SummaryEntry

STATUS_STYLES = {"success": "green", "failed": "red", "error": "red", "running": "cyan"}


def table(tasks: list[Planned], title: str) -> Any:
    """The batch as a rich table: task, worker, step, status, seconds, model calls, message."""
    from rich.table import Table

    grid = Table(title=title, expand=False)
    for column in ("task", "worker", "step", "status", "seconds", "calls", "message"):
        grid.add_column(column, overflow="fold")
    for t in tasks:
        r = t.result
        seconds = r.seconds if r else (time.time() - t.started if t.started else None)
        grid.add_row(
            t.name,
            str(t.worker) if t.worker else "",
            str(t.step) if t.step else "",
            f"[{STATUS_STYLES.get(t.state, 'white')}]{t.state}[/]",
            f"{seconds:.1f}" if seconds is not None else "",
            str(r.model_calls) if r else "",
            (r.message[:70] if r else t.extra.get("device", "")),
        )
    return grid


def run_batch(
    task_files: list[Path],
    *,
    out: Path | None,
    workers: int,
    restart: bool,
    android: list[str],
    child_args: list[str],
    virtual_display: str | None,
    timeout: float | None,
    may_serve: bool = True,
    ray: bool = False,
) -> None:
    """Run many task files at once (see the module docstring); raises typer.Exit."""
    from rich.console import Console

    from actions.project_errors import InputError
    from agent.parallel.batch import (
        Batch,
        android_serials,
        plan,
        read_summary,
        remove_stale,
        write_summary,
    )
    from agent.parallel.shared_model import served_model, shared_local_model
    from tasks.loader import load_task

    console = Console()
    out = out or Path("runs") / time.strftime("%Y%m%d-%H%M%S-batch")
    loaded = [(path, load_task(path).task) for path in task_files]
    tasks = plan(loaded, out, virtual_display=virtual_display, timeout=timeout)
    if ray:  # checked before anything runs: exit 2, nothing half-done
        from agent.parallel.ray_batch import check_placeable
        from agent.parallel.ray_cluster import import_ray

        import_ray()
        check_placeable(tasks)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if restart:
        remove_stale(out)
    previous = {e.run_dir: e for e in read_summary(out)}
    done: list[SummaryEntry] = []
    todo: list[Planned] = []
    for t in tasks:
        before = previous.get(str(t.run_dir))
        if before is not None and before.status == "success" and before.task == str(t.path):
            t.result, t.state = before, "success (kept)"
            done.append(before)
        else:
            todo.append(t)
    # Under --ray the phones are the cluster's (its nodes declare them), not this machine's.
    phones = not ray and any(t.platform == "android" for t in todo)
    serials = android_serials(android) if phones else []
    shared = [t for t in todo if t.platform == "desktop" and not t.own_display]
    if shared:
        typer.echo(f"{len(shared)} task(s) use the real display: they run one at a time")
    if done:
        typer.echo(f"{len(done)} task(s) already succeeded in {out}: kept (--restart runs all)")

    if ray:
        from agent.parallel.ray_batch import RayBatch

        batch: Batch = RayBatch(todo, workers=workers, child_args=child_args, android=android,
                                out=out)  # fmt: skip
    else:
        batch = Batch(todo, workers=workers, child_args=child_args, serials=serials, out=out)
    title = f"{len(tasks)} tasks, {workers} workers -> {out}"
    with contextlib.ExitStack() as stack:
        # A model served here is on this machine's loopback, out of a cluster node's reach.
        serve = may_serve and not ray
        local = shared_local_model([task.model for _, task in loaded]) if serve else None
        if local is not None and len(todo) > 1 and workers > 1:
            typer.echo(f"starting one model server for the workers: {local[0]}")
            options, env = stack.enter_context(served_model(*local))
            batch.child_args = [*child_args, *options]
            batch.child_env = env
        interrupted = _run(batch, console, tasks, todo, title)
    entries = [t.result for t in tasks if t.result is not None]
    for t in tasks:
        if t.result is None and not interrupted:
            continue
        if t.result is None:
            t.state = "error"
            entries.append(
                SummaryEntry(
                    task=str(t.path),
                    name=t.name,
                    status="error",
                    run_dir=str(t.run_dir),
                    message="not run (interrupted)",
                )
            )
    order = {str(t.run_dir): i for i, t in enumerate(tasks)}
    entries.sort(key=lambda e: order.get(e.run_dir, len(order)))
    summary = write_summary(out, entries)
    console.print(table(tasks, title))
    ok = sum(e.status == "success" for e in entries)
    colour = "green" if ok == len(tasks) else "red"
    typer.secho(f"{ok}/{len(tasks)} succeeded; summary: {summary}", fg=colour)
    if interrupted:
        raise typer.Exit(130)
    raise typer.Exit(0 if ok == len(tasks) else 1)


def _run(batch: Any, console: Any, tasks: list[Planned], todo: list[Planned], title: str) -> bool:
    """Run the batch under a live table (a terminal) or one line per change (a pipe)."""
    from rich.live import Live

    if console.is_terminal:
        with Live(get_renderable=lambda: table(tasks, title), console=console) as live:
            batch.on_change = live.refresh
            return batch.run()

    def changed() -> None:
        for t in todo:
            key = (t.state, t.step)
            if t.extra.get("shown") != repr(key):
                t.extra["shown"] = repr(key)
                if t.state != "running" or t.step == 0:
                    typer.echo(f"{t.name}: {t.state} (worker {t.worker})")

    batch.on_change = changed
    return batch.run()
