"""`agent eval`: ScreenSpot runs (`screenspot`), re-scoring (`score`), HTML reports (`report`)."""

from __future__ import annotations

import contextlib
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


def labelled(title: str, label: str | None) -> str:
    """A table title that carries a non-official label (official tables stay as they were)."""
    if label and "--two-stage: two-stage, not an official protocol" in label:
        return f"{title} (two-stage, not an official protocol)"  # not [..]: rich markup
    if label and label.startswith("NON-OFFICIAL"):
        return f"{title} [NON-OFFICIAL]"
    return title


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


def print_metrics(
    metrics: dict[str, Any],
    rows: list[dict[str, Any]],
    console: Console,
    *,
    label: str | None = None,
) -> None:
    """The tables a user reads after a run: groups, applications, platforms, overall.

    `label` (the file's protocol label) marks every table non-official when it is.
    """
    from agent.eval.metrics import seeclick_split_table

    if label:
        console.print(f"Metrics: {label}")
    simple = metrics.get("leaderboard_simple_style", {})
    if simple and list(simple) != ["group:None"]:
        console.print(metrics_table(labelled("By group", label), simple))
    by_app = metrics["leaderboard_detailed_style"]
    console.print(metrics_table(labelled("By application", label), by_app))
    by_platform = metrics["seeclick_style"]
    console.print(metrics_table(labelled("By platform (SeeClick style)", label), by_platform))
    console.print(metrics_table(labelled("Overall", label), {"all": metrics["overall"]}))
    if simple and list(simple) == ["group:None"]:
        split = seeclick_split_table(rows)
        cells = ", ".join(f"{k} {_pct(v)}" for k, v in split["cells"].items())
        console.print(f"ScreenSpot v1/v2 cells: {cells}")
        console.print(
            f"SeeClick-paper average (mean of cells): {_pct(split['cell_mean'])} %   "
            f"pooled over all samples: {_pct(split['pooled'])} %"
        )


def print_zoom(zoom: dict[str, Any], console: Console) -> None:
    """The --zoom refinement's own tables, apart from the official ones and labelled."""
    metrics = zoom["metrics"]
    console.print(zoom["label"])
    simple = metrics.get("leaderboard_simple_style", {})
    if simple and list(simple) != ["group:None"]:
        console.print(metrics_table("Zoom-refined, by group [NON-OFFICIAL]", simple))
    console.print(
        metrics_table("Zoom-refined, overall [NON-OFFICIAL]", {"all": metrics["overall"]})
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
    zoom = None
    if result.zoom_refined is not None:
        zoom_rows, zoom_changed = rescored(result, zoom=True)
        zoom = {"label": result.zoom_refined.label, "metrics": compute_metrics(zoom_rows)}
        changed += zoom_changed
        stored = result.zoom_refined.metrics
        problems += [f"zoom_refined: {p}" for p in diff_metrics(stored, zoom["metrics"])]
    if as_json:
        typer.echo(json.dumps(metrics, indent=4))
    else:
        console = Console()
        print_metrics(metrics, rows, console, label=result.label)
        if zoom is not None:
            print_zoom(zoom, console)
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


@eval_app.command("screenspot")
def screenspot_command(
    data: Path = typer.Option(..., "--data", help="ScreenSpot-Pro / v2 / v1 folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Result file (official format)."),
    fmt: str | None = typer.Option(None, "--format", help="pro, v2 or v1 (default: detected)."),
    images: Path | None = typer.Option(None, "--images", help="Image folder, if elsewhere."),
    task: list[str] | None = typer.Option(None, "--task", help="Task file(s), e.g. vscode_macos."),
    app_filter: list[str] | None = typer.Option(None, "--app", help="Application(s)."),
    group: list[str] | None = typer.Option(None, "--group", help="Group(s): Dev, CAD, ..."),
    platform: list[str] | None = typer.Option(None, "--platform", help="Platform(s)."),
    ui_type: list[str] | None = typer.Option(None, "--ui-type", help="text and/or icon."),
    limit: int | None = typer.Option(None, "--limit", help="At most N samples."),
    lang: str = typer.Option("en", "--lang", help="en, cn (instruction_cn) or all."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip broken records, count them."),
    backend: str = typer.Option("qwen", "--backend", help="qwen, openai or ocr."),
    model: str | None = typer.Option(None, "--model", help="Hub id, local folder, served name."),
    base_url: list[str] | None = typer.Option(
        None,
        "--base-url",
        help="OpenAI-compatible endpoint; repeat it for several serving the same model "
        "(each request goes to the least busy; one that fails is retried on another).",
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="Model profile (see `agent models`); its official protocol (prompt, order, "
        "pixels, decoding, parser) is the default. Default: detected.",
    ),
    family: str | None = typer.Option(None, "--family", help="Coordinate family (alias)."),
    min_pixels: int | None = typer.Option(None, "--min-pixels", help="Default: the profile's."),
    max_pixels: int | None = typer.Option(
        None, "--max-pixels", help="Default: the profile's benchmark limit."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Samples per generate call (qwen); default 8 on a GPU, 1 on CPU."
    ),
    concurrency: int = typer.Option(
        8, "--concurrency", help="Requests in flight per endpoint (openai)."
    ),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", help="Default: the profile's."
    ),
    device: str = typer.Option("auto", "--device"),
    dtype: str = typer.Option("auto", "--dtype"),
    parser: str = typer.Option(
        "official",
        "--parser",
        help="official: the profile's official reader (the ScreenSpot-Pro harness's model "
        "file, else the model authors' evaluation code; nothing repaired); robust: the "
        "agent's lenient parser in the profile's answer format (labelled non-official).",
    ),
    zoom: bool = typer.Option(
        False,
        "--zoom",
        help="Also a second pass on a crop around the guess (own, non-official rows).",
    ),
    zoom_size: str | None = typer.Option(
        None, "--zoom-size", help="Crop: fraction of each side (0.5, default), N or WxH pixels."
    ),
    two_stage: bool = typer.Option(
        False,
        "--two-stage",
        help="Ground in two passes: the screen scaled down, then a crop at native resolution "
        "(agent.two_stage). Two-stage, not an official protocol: labelled so.",
    ),
    restart: bool = typer.Option(False, "--restart", help="Ignore earlier progress for --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
    ray: bool = typer.Option(
        False, "--ray", help="Send the samples as Ray tasks ($RAY_ADDRESS, else a local cluster)."
    ),
) -> None:
    """Ground every sample and write the official ScreenSpot result file (resumable).

    The result file's protocol records the profile, the reader that judged the answers
    (and the code it follows) and every setting used.
    """
    from agent.models.spec import ModelSpec
    from tasks.screenspot import Filters
    from tasks.screenspot_eval import EvalOptions, run_screenspot

    if ray:
        from agent.parallel.ray_eval import check_backend

        check_backend(backend)
    if lang not in ("en", "cn", "all"):
        raise typer.BadParameter("choose en, cn or all", param_hint="--lang")
    if parser not in ("official", "robust"):
        raise typer.BadParameter("choose official or robust", param_hint="--parser")
    if fmt is not None and fmt not in ("pro", "v2", "v1"):
        raise typer.BadParameter("choose pro, v2 or v1", param_hint="--format")
    filters = Filters(
        tasks=_split(task),
        applications=_split(app_filter),
        groups=_split(group),
        platforms=_split(platform),
        ui_types=_split(ui_type),  # type: ignore[arg-type]
        limit=limit,
    )
    spec_fields: dict[str, Any] = {
        "backend": backend,
        "base_url": base_url[0] if base_url else None,
        "endpoints": tuple(base_url[1:]) if base_url else (),
        "profile": profile,
        "batch_size": batch_size or 8,
        "concurrency": concurrency,
        "max_new_tokens": max_new_tokens,
        "device": device,
        "dtype": dtype,
    }
    if model is not None:
        spec_fields["model"] = model
    if family is not None:
        spec_fields["family"] = family
    options = EvalOptions(
        data=data, out=out, format=fmt, images=images, filters=filters, lang=lang,  # type: ignore[arg-type]
        skip_bad=skip_bad, spec=ModelSpec(**spec_fields), min_pixels=min_pixels,
        max_pixels=max_pixels, parser=parser, zoom=zoom, zoom_size=zoom_size,  # type: ignore[arg-type]
        two_stage=two_stage, restart=restart, ray=ray, batch_size=batch_size,
    )  # fmt: skip
    console = Console(stderr=True)
    # The bar opens once the input is checked: a refusal stays one line on stderr.
    with contextlib.ExitStack() as stack:
        bars: list[tuple[Any, Any]] = []

        def start(total: int) -> None:
            bar = stack.enter_context(_progress_bar(console, enabled=progress))
            bars.append((bar, bar.add_task("ScreenSpot", total=total, rate="", acc="")))

        def update(stats: Any) -> None:
            finished = stats.resumed + stats.done_now
            for bar, task_id in bars:
                bar.update(
                    task_id,
                    total=stats.total,
                    completed=finished,
                    rate=f"{stats.samples_per_second:.2f} samples/s",
                    acc=f"acc {100 * stats.correct / max(finished, 1):.1f}%",
                )

        result = run_screenspot(options, on_start=start, on_progress=update)
        update(result.stats)
    report, stats = result.report, result.stats
    out_console = Console()
    print_metrics(report["metrics"], report["details"], out_console, label=result.label)
    if "zoom_refined" in report:
        print_zoom(report["zoom_refined"], out_console)
    if result.endpoints is not None:
        out_console.print(f"endpoints: {result.endpoints}")
    skipped = len(report["run"]["skipped_bad"])
    out_console.print(
        f"wrote {out} ({len(report['details'])} samples; {stats.done_now} now, "
        f"{stats.resumed} resumed; {stats.samples_per_second:.2f} samples/s"
        + (f"; {skipped} bad record(s) skipped" if skipped else "")
        + ")"
    )


@eval_app.command("report")
def report_command(
    results: Path = typer.Argument(..., help="A ScreenSpot result file."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write."),
    images: Path | None = typer.Option(
        None, "--images", help="Where the screenshots are, if not at the rows' img_path."
    ),
    failures: int = typer.Option(60, "--failures", help="Failures shown in the gallery."),
) -> None:
    """Write a self-contained HTML report: accuracy tables and charts, a failure gallery."""
    from agent.eval.report import write_report
    from agent.eval.results import load_results

    context = write_report(
        load_results(results), results, out, images=images, max_failures=failures
    )
    overall = context["overall"]
    typer.echo(
        f"wrote {out}: {100 * overall['action_acc']:.2f} % of {overall['num_total']}, "
        f"{len(context['gallery'])} failure(s) shown"
        + (
            f", {context['missing_images']} screenshot(s) not found"
            if context["missing_images"]
            else ""
        )
    )


def _progress_bar(console: Console, *, enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[acc]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )


def register(app: typer.Typer) -> None:
    """Add `agent eval` to the CLI."""
    app.add_typer(eval_app, name="eval")
