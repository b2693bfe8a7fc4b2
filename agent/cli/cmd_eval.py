"""`agent eval`: ScreenSpot runs (`screenspot`), re-scoring (`score`), HTML reports (`report`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

eval_app = typer.Typer(
    name="eval",
    help="Evaluate grounding models on ScreenSpot benchmarks (official ScreenSpot-Pro scoring).",
    no_args_is_help=True,
)


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _short_labels(keys: list[str]) -> dict[str, str]:
    """Drop the key parts every key shares ("inst_style:instruction ..."), keep the rest."""
    parts = [key.split(" ") for key in keys]
    common = set.intersection(*(set(p) for p in parts)) if len(parts) > 1 else set()
    out = {}
    for key, tokens in zip(keys, parts, strict=True):
        kept = [t.split(":", 1)[-1] for t in tokens if t not in common]
        out[key] = " ".join(kept) or key
    return out


def metrics_table(title: str, group: dict[str, dict[str, Any]]) -> Table:
    """One rich table for one metrics group."""
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("subset", "left"),
        ("n", "right"),
        ("correct", "right"),
        ("bad format", "right"),
        ("acc %", "right"),
        ("text %", "right"),
        ("icon %", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    labels = _short_labels(list(group))
    for key, m in group.items():
        table.add_row(
            labels[key],
            str(m["num_total"]),
            str(m["num_correct_action"]),
            str(m["wrong_format_num"]),
            _pct(m["action_acc"]),
            _pct(m["text_acc"]),
            _pct(m["icon_acc"]),
        )
    return table


def print_metrics(metrics: dict[str, Any], rows: list[dict[str, Any]], console: Console) -> None:
    """The tables a user reads after a run: groups, applications, platforms, overall."""
    from agent.eval.metrics import seeclick_split_table

    simple = metrics.get("leaderboard_simple_style", {})
    if simple and list(simple) != ["group:None"]:
        console.print(metrics_table("By group", simple))
    console.print(metrics_table("By application", metrics["leaderboard_detailed_style"]))
    console.print(metrics_table("By platform (SeeClick style)", metrics["seeclick_style"]))
    console.print(metrics_table("Overall", {"all": metrics["overall"]}))
    if simple and list(simple) == ["group:None"]:
        split = seeclick_split_table(rows)
        cells = ", ".join(f"{k} {_pct(v)}" for k, v in split["cells"].items())
        console.print(f"ScreenSpot v1/v2 cells: {cells}")
        console.print(
            f"SeeClick-paper average (mean of cells): {_pct(split['cell_mean'])} %   "
            f"pooled over all samples: {_pct(split['pooled'])} %"
        )


@eval_app.command("score")
def score_command(
    results: Path = typer.Argument(..., help="A ScreenSpot result file (official format)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics object as JSON."),
    check: bool = typer.Option(
        False, "--check", help="Exit 1 unless the stored metrics are reproduced exactly."
    ),
) -> None:
    """Recompute correctness and every official metric from a result file's details."""
    from agent.eval.metrics import compute_metrics, diff_metrics
    from agent.eval.results import load_results, rescored

    result = load_results(results)
    rows, changed = rescored(result)
    metrics = compute_metrics(rows)
    problems = diff_metrics(result.metrics, metrics) if result.metrics else []
    if as_json:
        typer.echo(json.dumps(metrics, indent=4))
    else:
        console = Console()
        print_metrics(metrics, rows, console)
        console.print(f"{len(rows)} rows; correctness changed on re-judging: {changed}")
        if not result.metrics:
            console.print("the file has no stored metrics to compare with")
        elif problems:
            console.print(
                f"stored metrics differ in {len(problems)} value(s), first: {problems[0]}"
            )
        else:
            console.print("stored metrics reproduced exactly (every key of every group)")
    if check and (problems or changed or not result.metrics):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `agent eval` to the CLI."""
    app.add_typer(eval_app, name="eval")
