"""Official ScreenSpot-Pro scoring: the real result file's stored metrics are reproduced."""

from __future__ import annotations

import json

import pytest

from agent.cli.main import main
from agent.eval.metrics import (
    METRIC_GROUPS,
    METRIC_KEYS,
    compute_metrics,
    judge_point,
    seeclick_split_table,
)
from tests.conftest import REAL_RESULTS

REAL = REAL_RESULTS


@pytest.fixture(scope="module")
def stored() -> dict:
    return json.loads(REAL.read_text())


def test_score_reproduces_every_stored_metric_key_by_key(stored, capsys) -> None:
    assert main(["eval", "score", str(REAL), "--json"]) == 0
    recomputed = json.loads(capsys.readouterr().out)
    assert set(recomputed) == set(stored["metrics"]) == set(METRIC_GROUPS)
    for group in METRIC_GROUPS:
        want, got = stored["metrics"][group], recomputed[group]
        if group == "overall":
            want, got = {"": want}, {"": got}
        assert set(got) == set(want), group
        for key in want:
            assert set(got[key]) == set(METRIC_KEYS)
            for field in METRIC_KEYS:
                assert got[key][field] == want[key][field], (group, key, field)
    # the file's own numbers, as the leaderboard would read them
    assert recomputed["overall"]["num_correct_action"] == 23
    assert recomputed["overall"]["num_total"] == 1581
    assert recomputed["overall"]["wrong_format_num"] == 139


def test_score_rejudges_from_pixels_not_from_stored_verdicts(stored, tmp_path, capsys) -> None:
    data = json.loads(json.dumps(stored))
    # Flip every stored verdict: score must ignore them and judge pred against bbox again.
    flip = {"correct": "wrong", "wrong": "correct", "wrong_format": "correct"}
    for row in data["details"]:
        row["correctness"] = flip[row["correctness"]]
    path = tmp_path / "flipped.json"
    path.write_text(json.dumps(data))
    assert main(["eval", "score", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == stored["metrics"]
    assert main(["eval", "score", str(path), "--check"]) == 1
    assert "correctness changed on re-judging: 1581" in capsys.readouterr().out


def test_score_check_fails_when_stored_metrics_disagree(stored, tmp_path, capsys) -> None:
    data = json.loads(json.dumps(stored))
    data["metrics"]["leaderboard_simple_style"]["group:CAD"]["num_correct_action"] += 1
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(data))
    assert main(["eval", "score", str(path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "group:CAD" in out and "num_correct_action" in out


def test_point_on_the_box_edge_is_correct_and_no_point_is_wrong_format() -> None:
    box = (10, 20, 30, 40)
    assert judge_point((10, 20), box) == "correct"
    assert judge_point((30, 40), box) == "correct"
    assert judge_point((30.0001, 40), box) == "wrong"
    assert judge_point((9.999, 25), box) == "wrong"
    assert judge_point(None, box) == "wrong_format"


def _row(app: str, ui: str, verdict: str, platform: str = "linux", group="Dev") -> dict:
    return {
        "group": group,
        "platform": platform,
        "application": app,
        "instruction_style": "instruction",
        "gt_type": "positive",
        "ui_type": ui,
        "correctness": verdict,
    }


def test_wrong_format_stays_in_every_denominator_and_accuracies_pool() -> None:
    rows = [
        _row("a", "text", "correct"),
        _row("a", "text", "wrong_format"),
        _row("a", "icon", "wrong"),
        _row("b", "icon", "correct", group="CAD"),
    ]
    m = compute_metrics(rows)
    assert m["overall"] == {
        "num_correct_action": 2,
        "num_total": 4,
        "wrong_format_num": 1,
        "action_acc": 0.5,
        "text_acc": 0.5,
        "icon_acc": 0.5,
    }
    assert m["leaderboard_detailed_style"]["app:a"]["action_acc"] == 1 / 3
    assert m["leaderboard_simple_style"]["group:CAD"]["text_acc"] == 0  # no text rows there
    assert set(m["fine_grained"]) == {
        "plat:linux app:a inst_style:instruction gt_type:positive",
        "plat:linux app:b inst_style:instruction gt_type:positive",
    }


def test_empty_combinations_are_left_out() -> None:
    rows = [_row("a", "text", "correct", "linux"), _row("b", "text", "wrong", "windows")]
    keys = set(compute_metrics(rows)["fine_grained"])
    assert keys == {
        "plat:linux app:a inst_style:instruction gt_type:positive",
        "plat:windows app:b inst_style:instruction gt_type:positive",
    }


def test_seeclick_average_is_the_plain_mean_of_cells_and_differs_from_pooled() -> None:
    rows = [_row("m", "text", "correct", "mobile")] * 3 + [_row("m", "icon", "wrong", "mobile")]
    table = seeclick_split_table(rows)
    assert table["cells"] == {"mobile text": 1.0, "mobile icon": 0.0}
    assert table["cell_mean"] == 0.5
    assert table["pooled"] == 0.75


def test_broken_results_file_is_one_line_naming_row_and_field(tmp_path, capsys) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"details": [{"img_path": "x.png", "correctness": "correct"}, {}]}))
    assert main(["eval", "score", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "details row 1" in err and "missing" in err
    path.write_text("{not json")
    assert main(["eval", "score", str(path)]) == 2
    assert "invalid JSON" in capsys.readouterr().err


def test_negative_rows_of_an_official_file_keep_their_verdict(stored, tmp_path, capsys) -> None:
    """The harness writes negative rows (its --gt_type negative) without bbox or pred; screenpilot
    never makes them, but `agent eval score` reads such files: the row's verdict stands."""
    data = json.loads(json.dumps(stored))
    base = {k: v for k, v in data["details"][0].items() if k not in ("bbox", "pred")}
    negatives = [
        {**base, "gt_type": "negative", "pred": None, "correctness": verdict}
        for verdict in ("correct", "wrong_format", "wrong")
    ]
    data["details"] = data["details"][:1] + negatives
    path = tmp_path / "negative.json"
    path.write_text(json.dumps(data))
    assert main(["eval", "score", str(path), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    key = "plat:{platform} app:{application} inst_style:instruction gt_type:negative".format(**base)
    assert metrics["fine_grained"][key]["num_total"] == 3
    assert metrics["fine_grained"][key]["num_correct_action"] == 1
    assert metrics["fine_grained"][key]["wrong_format_num"] == 1


def with_extras(stored: dict) -> dict:
    """The real result file with screenpilot's `extra`, as the runner writes it: one object
    per row, its point as fractions of an image size (pred = fraction x size)."""
    data = json.loads(json.dumps(stored))
    size = [3840, 2160]
    data["extra"] = [
        {
            "sample_id": f"{row['task_filename']}:{i}:{row['lang']}",
            "img_size": size,
            "pred_fraction": [row["pred"][0] / size[0], row["pred"][1] / size[1]]
            if row["pred"] is not None
            else None,
        }
        for i, row in enumerate(data["details"])
    ]
    return data


def test_score_check_judges_pred_over_the_extras_fraction(stored, tmp_path, capsys) -> None:
    """Issue 19.11: an edited pred (moved off its box) is judged as written, even though the
    extra's fraction still points inside the box."""
    data = with_extras(stored)
    path = tmp_path / "with-extras.json"
    path.write_text(json.dumps(data))
    assert main(["eval", "score", str(path), "--check"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    index = next(i for i, r in enumerate(data["details"]) if r["correctness"] == "correct")
    x1, y1, _, _ = data["details"][index]["bbox"]
    data["details"][index]["pred"] = [x1 - 50, y1 - 50]  # off the box; the fraction unchanged
    path.write_text(json.dumps(data))
    assert main(["eval", "score", str(path), "--check"]) == 1
    assert "correctness changed on re-judging: 1" in capsys.readouterr().out


def test_score_matches_extras_by_sample_not_by_position(stored, tmp_path, capsys) -> None:
    """Extras shifted by one (the first moved to the end): each would judge its neighbour's
    row. They are not this row's, so pred decides and the stored metrics still reproduce."""
    data = with_extras(stored)
    data["extra"] = data["extra"][1:] + data["extra"][:1]
    path = tmp_path / "shifted.json"
    path.write_text(json.dumps(data))
    assert main(["eval", "score", str(path), "--check"]) == 0, capsys.readouterr().out
    assert "correctness changed on re-judging: 0" in capsys.readouterr().out
