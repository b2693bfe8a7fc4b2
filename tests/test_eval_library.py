"""`agent eval screenspot` as a library call (`tasks.screenspot_eval.run_screenspot`).

A Python caller gets the very result file the CLI writes; the tiny Qwen2.5-VL trained
to one answer (FIXED_POINT) makes every row known in advance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.eval.results import OFFICIAL_LABEL
from agent.models.spec import ModelSpec
from tasks.screenspot import Filters
from tasks.screenspot_eval import EvalOptions, run_screenspot
from tests.made_data import made_dataset

LIMIT = 3


@pytest.fixture(scope="module")
def trained_qwen() -> Path:
    pytest.importorskip("transformers")
    from tests.fixtures.tiny_qwen_build import trained_checkpoint

    return trained_checkpoint()


def _stable(path: Path) -> dict:
    """The result file without what differs between two identical runs (times, paths)."""
    report = json.loads(path.read_text())
    run = {k: v for k, v in report["run"].items() if k not in ("seconds", "samples_per_second")}
    extra = [{k: v for k, v in e.items() if k != "seconds"} for e in report["extra"]]
    return {**report, "run": run, "extra": extra}


def test_a_python_caller_gets_the_result_file_the_cli_writes(
    tmp_path: Path, trained_qwen: Path
) -> None:
    data = made_dataset()
    cli_out, lib_out = tmp_path / "cli.json", tmp_path / "lib.json"
    args = ["eval", "screenspot", "--data", str(data), "--model", str(trained_qwen),
            "--max-new-tokens", "40", "--task", "desktop_linux", "--limit", str(LIMIT),
            "--no-progress", "--out", str(cli_out)]  # fmt: skip
    assert main(args) == 0
    seen = []
    result = run_screenspot(
        EvalOptions(
            data=data,
            out=lib_out,
            filters=Filters(tasks=["desktop_linux"], limit=LIMIT),
            spec=ModelSpec(model=str(trained_qwen), max_new_tokens=40),
        ),
        on_progress=lambda stats: seen.append(stats.done_now),
    )
    assert result.out == lib_out and seen[-1] == LIMIT
    assert result.stats.done_now == LIMIT and result.label == OFFICIAL_LABEL
    assert _stable(lib_out) == _stable(cli_out)
    assert result.report["details"] == json.loads(cli_out.read_text())["details"]
    # the same call again resumes from the finished file: nothing is grounded twice
    again = run_screenspot(
        EvalOptions(
            data=data,
            out=lib_out,
            filters=Filters(tasks=["desktop_linux"], limit=LIMIT),
            spec=ModelSpec(model=str(trained_qwen), max_new_tokens=40),
        )
    )
    assert (again.stats.resumed, again.stats.done_now) == (LIMIT, 0)


def test_bad_options_fail_in_one_line_before_any_model_loads(tmp_path: Path) -> None:
    from actions.errors import InputError

    options = EvalOptions(
        data=tmp_path / "missing", out=tmp_path / "r.json", spec=ModelSpec(model="/nowhere")
    )
    with pytest.raises(InputError, match="dataset folder .*missing does not exist"):
        run_screenspot(options)
    assert not (tmp_path / "r.json").exists()
