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
    from actions.project_errors import InputError

    options = EvalOptions(
        data=tmp_path / "missing", out=tmp_path / "r.json", spec=ModelSpec(model="/nowhere")
    )
    with pytest.raises(InputError, match="dataset folder .*missing does not exist"):
        run_screenspot(options)
    assert not (tmp_path / "r.json").exists()


# -- --two-stage: labelled, and kept apart from official figures ---------------------------
FIRST = 256 * 28 * 28
CROP_AREA = 560 * 308
# FIXED_POINT (364, 217) of pass 1 (the screen scaled to <= FIRST pixels: 1280x800 -> 560x336,
# 1600x900 -> 588x336) is p1 on the screen; pass 2 sees a native crop of CROP_AREA with the
# screen's aspect (504x336, 532x308) centred on p1 (left/top rounded) and answers FIXED_POINT
# of it. 1280x800: p1 = (364 * 1280 / 560, 217 * 800 / 336) = (832, 516.67), crop at
# (580, 349) -> (944, 566). 1600x900: p1 = (990.48, 581.25), crop at (724, 427) -> (1088, 644).
TWO_STAGE_POINT = {(1280, 800): [944.0, 566.0], (1600, 900): [1088.0, 644.0]}


def _options(data: Path, out: Path, model: Path, **more) -> EvalOptions:
    return EvalOptions(
        data=data,
        out=out,
        filters=Filters(tasks=["desktop_linux"], limit=LIMIT),
        spec=ModelSpec(model=str(model), max_new_tokens=40, **more.pop("spec", {})),
        **more,
    )


def test_two_stage_rows_are_labelled_and_never_mixed_with_official_ones(
    tmp_path: Path, trained_qwen: Path, capsys
) -> None:
    data, out = made_dataset(), tmp_path / "r.json"
    official = run_screenspot(_options(data, out, trained_qwen))
    settings = {"first_max_pixels": FIRST, "crop_pixels": CROP_AREA}
    two = run_screenspot(_options(data, out, trained_qwen, spec={"two_stage": settings}))
    # a different fingerprint: nothing of the official run was taken over
    assert (two.stats.resumed, two.stats.done_now) == (0, LIMIT)
    report = json.loads(out.read_text())
    assert report["run"]["fingerprint"] != official.report["run"]["fingerprint"]
    protocol = report["protocol"]
    assert protocol["official"] is False
    assert "--two-stage: two-stage, not an official protocol" in protocol["label"]
    assert protocol["two_stage"]["protocol"] == "two-stage, not an official protocol"
    assert report["run"]["two_stage"]["first_max_pixels"] == FIRST
    for row, extra in zip(report["details"], report["extra"], strict=True):
        assert row["pred"] == pytest.approx(TWO_STAGE_POINT[tuple(extra["img_size"])], abs=1e-6)
        assert extra["two_stage"]["crop"] is not None
    assert official.report["run"]["two_stage"] is None
    assert official.report["protocol"]["official"] is True
    # the CLI's tables carry the label; the file re-scores to the same figures
    capsys.readouterr()
    args = ["eval", "screenspot", "--data", str(data), "--model", str(trained_qwen),
            "--max-new-tokens", "40", "--task", "desktop_linux", "--limit", "1",
            "--no-progress", "--two-stage", "--out", str(tmp_path / "cli.json")]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Overall (two-stage, not an official protocol)" in printed
    assert main(["eval", "score", str(out), "--check"]) == 0


def test_two_stage_refuses_the_zoom_pass_before_any_model_loads(tmp_path: Path) -> None:
    from actions.project_errors import InputError

    options = _options(made_dataset(), tmp_path / "r.json", Path("/nowhere"), zoom=True,
                       two_stage=True)  # fmt: skip
    with pytest.raises(InputError, match="--two-stage cannot run with --zoom"):
        run_screenspot(options)
