"""`agent eval screenspot` end to end on made datasets: OCR, the tiny Qwen, served answers,
SIGKILL + resume.

Expected points are worked out by hand here, never with the code under test. The made
screenshots are 1280x800 and 1600x900; with the checkpoint's own pixel limit Qwen2.5-VL sees
them at 1288x812 and 1596x896 (smart_resize: each side rounded to a multiple of 28).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agent.cli.main import main
from agent.eval.results import ROW_KEYS
from agent.eval.runner import Outcome, Sidecar, sidecar_path
from tests.made_data import made_dataset

REPO = Path(__file__).resolve().parents[1]
MODEL_SIZE = {(1280, 800): (1288, 812), (1600, 900): (1596, 896)}


def _inside(pred: list[float] | None, bbox: list[float]) -> str:
    """The verdict by the rule itself: edges inclusive, no point is wrong_format."""
    if pred is None:
        return "wrong_format"
    x1, y1, x2, y2 = bbox
    return "correct" if x1 <= pred[0] <= x2 and y1 <= pred[1] <= y2 else "wrong"


def _overall(rows: list[dict]) -> dict[str, int]:
    verdicts = [r["correctness"] for r in rows]
    return {
        "num_correct_action": verdicts.count("correct"),
        "num_total": len(rows),
        "wrong_format_num": verdicts.count("wrong_format"),
    }


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _stable(report: dict) -> tuple[list, list]:
    extra = [{k: v for k, v in e.items() if k != "seconds"} for e in report["extra"]]
    return report["details"], extra


@pytest.fixture(scope="module")
def trained_qwen() -> Path:
    pytest.importorskip("transformers")
    from tests.fixtures.tiny_qwen_build import trained_checkpoint

    return trained_checkpoint()


def test_ocr_backend_runs_without_a_parser_choice_and_is_labelled(tmp_path: Path, capsys) -> None:
    pytest.importorskip("rapidocr")
    data = made_dataset()
    out = tmp_path / "ocr.json"
    args = ["eval", "screenspot", "--data", str(data), "--backend", "ocr", "--out", str(out),
            "--limit", "12", "--no-progress"]  # fmt: skip
    # OCR returns points, not answer text: there is nothing for an official reader to
    # read, so no --parser is demanded; the rows say what judged them
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Overall [NON-OFFICIAL]" in printed and "--backend ocr" in printed
    report = _load(out)
    rows = report["details"]
    assert len(rows) == 12 and len(report["extra"]) == 12
    for row in rows:
        assert tuple(row) == ROW_KEYS  # the official keys, in the official order
        assert row["correctness"] == _inside(row["pred"], row["bbox"])
        if row["ui_type"] == "icon":
            assert row["correctness"] == "wrong_format"  # text matching cannot find a picture
    texts = [r for r in rows if r["ui_type"] == "text"]
    assert texts and sum(r["correctness"] == "correct" for r in texts) >= 0.6 * len(texts)
    assert {k: report["metrics"]["overall"][k] for k in _overall(rows)} == _overall(rows)
    protocol = report["protocol"]
    assert protocol["official"] is False and protocol["reader"] == "ocr-point"
    assert protocol["label"].startswith("NON-OFFICIAL: --backend ocr: points from OCR text")
    assert not sidecar_path(out).exists()
    assert main(["eval", "score", str(out), "--check"]) == 0
    assert "Overall [NON-OFFICIAL]" in capsys.readouterr().out
    html = tmp_path / "report.html"
    assert main(["eval", "report", str(out), "-o", str(html)]) == 0
    page = html.read_text()
    failures = sum(r["correctness"] != "correct" for r in rows)
    assert page.count('src="data:image/jpeg;base64,') == failures
    assert "By application [NON-OFFICIAL]" in page and "desktop" in page


def test_tiny_qwen_end_to_end_maps_points_back_to_original_pixels(
    tmp_path: Path, trained_qwen: Path
) -> None:
    """The trained model always clicks model-space (364, 217): the rows must hold exactly
    that point in each screenshot's own pixels, batched or not."""
    from tests.fixtures.tiny_qwen_build import FIXED_POINT

    assert FIXED_POINT == (364, 217)
    # (364, 217) of 1288x812 is (364 * 1280 / 1288, 217 * 800 / 812) of 1280x800, and of
    # 1596x896 it is (364 * 1600 / 1596, 217 * 900 / 896) of 1600x900.
    expected = {(1280, 800): [361.7391304, 213.7931034], (1600, 900): [364.9122807, 217.96875]}
    data = made_dataset()
    base = ["eval", "screenspot", "--data", str(data), "--model", str(trained_qwen),
            "--max-new-tokens", "40", "--task", "desktop_linux", "--no-progress"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "b4.json"), "--batch-size", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "b1.json"), "--batch-size", "1"]) == 0
    batched, single = _load(tmp_path / "b4.json"), _load(tmp_path / "b1.json")
    assert batched["details"] == single["details"]
    sizes = set()
    for row, extra in zip(batched["details"], batched["extra"], strict=True):
        size = tuple(extra["img_size"])
        sizes.add(size)
        assert tuple(extra["model_size"]) == MODEL_SIZE[size]
        assert row["pred"] == pytest.approx(expected[size], abs=1e-6)
        assert row["correctness"] == _inside(row["pred"], row["bbox"])
    assert sizes == set(expected)
    assert batched["protocol"]["official"] is True
    assert batched["protocol"]["reader"] == "ssp-qwen2.5-vl"


def test_zoom_keeps_the_official_first_pass_and_puts_refinements_in_their_own_rows(
    tmp_path: Path, trained_qwen: Path, capsys
) -> None:
    """First points as in the test above. The half-size crop around (361.74, 213.79) of a
    1280x800 shot starts at (round(41.74), round(13.79)) = (42, 14) and is seen at 2x, as
    1280x800 again, so the model's fixed point lands at 42 + 361.74 / 2, 14 + 213.79 / 2.
    Around (364.91, 217.97) of 1600x900 the crop would start at (-35, -7): it is shifted to
    (0, 0), seen at 2x as 1600x900, and the point lands at 364.91 / 2, 217.97 / 2."""
    first = {(1280, 800): [361.7391304, 213.7931034], (1600, 900): [364.9122807, 217.96875]}
    crops = {(1280, 800): [42, 14, 682, 414], (1600, 900): [0, 0, 800, 450]}
    refined = {(1280, 800): [222.8695652, 120.8965517], (1600, 900): [182.4561404, 108.984375]}
    data = made_dataset()
    out = tmp_path / "zoom.json"
    args = ["eval", "screenspot", "--data", str(data), "--model", str(trained_qwen), "--zoom",
            "--zoom-size", "0.5", "--task", "desktop_linux", "--limit", "6", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Zoom-refined, overall [NON-OFFICIAL]" in printed
    report = _load(out)
    assert report["run"]["zoom"]["enabled"] is True
    assert report["protocol"]["official"] is True  # the first pass is judged as usual
    zoom = report["zoom_refined"]
    assert zoom["official"] is False and zoom["label"].startswith("NON-OFFICIAL: --zoom")
    assert len(zoom["details"]) == len(zoom["extra"]) == len(report["details"]) == 6
    sizes = set()
    for row, extra, zrow, zextra in zip(
        report["details"], report["extra"], zoom["details"], zoom["extra"], strict=True
    ):
        size = tuple(extra["img_size"])
        sizes.add(size)
        assert row["pred"] == pytest.approx(first[size], abs=1e-6)  # official: first pass
        assert "pred_first" not in extra and "crop" not in extra
        assert zextra["crop"] == crops[size] and zextra["source"] == "zoom"
        assert zrow["pred"] == pytest.approx(refined[size], abs=1e-6)
        assert zrow["raw_response"] == row["raw_response"]  # the model answers the same
        assert zrow["correctness"] == _inside(zrow["pred"], zrow["bbox"])
        assert {k: zrow[k] for k in ROW_KEYS if k not in ("pred", "correctness")} == {
            k: row[k] for k in ROW_KEYS if k not in ("pred", "correctness")
        }
    assert sizes == set(first)
    assert {k: zoom["metrics"]["overall"][k] for k in ("num_total", "num_correct_action")} == {
        "num_total": 6,
        "num_correct_action": sum(r["correctness"] == "correct" for r in zoom["details"]),
    }
    # a rerun resumes both passes from the finished file
    assert main(args) == 0
    assert "0 now, 6 resumed" in capsys.readouterr().out
    again = _load(out)
    assert again["details"] == report["details"] and again["zoom_refined"] == zoom
    assert main(["eval", "score", str(out), "--check"]) == 0
    html = tmp_path / "zoom.html"
    assert main(["eval", "report", str(out), "-o", str(html)]) == 0
    assert "Zoom-in refinement [NON-OFFICIAL]" in html.read_text()


def _journal_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_then_resume_gives_the_uninterrupted_results(
    tmp_path: Path, trained_qwen: Path
) -> None:
    data = made_dataset()
    cmd = [sys.executable, "-m", "agent.cli.main", "eval", "screenspot", "--data", str(data),
           "--model", str(trained_qwen), "--batch-size", "1", "--max-new-tokens", "40",
           "--max-pixels", str(640 * 28 * 28), "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    whole = tmp_path / "whole.json"
    subprocess.run([*cmd, "--out", str(whole)], env=env, cwd=REPO, check=True, timeout=600)

    out = tmp_path / "killed.json"
    journal = sidecar_path(out)
    proc = subprocess.Popen([*cmd, "--out", str(out)], env=env, cwd=REPO)
    deadline = time.monotonic() + 300
    while _journal_lines(journal) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()
    total = len(_load(whole)["details"])
    journaled = _journal_lines(journal) - 1
    assert 3 <= journaled < total

    done = subprocess.run(
        [*cmd, "--out", str(out)], env=env, cwd=REPO, check=True, timeout=600,
        capture_output=True, text=True,
    )  # fmt: skip
    assert f"{total - journaled} now, {journaled} resumed" in done.stdout
    resumed = _load(out)
    assert _stable(resumed) == _stable(_load(whole))
    ids = [e["sample_id"] for e in resumed["extra"]]
    assert len(ids) == len(set(ids)) == total
    again = subprocess.run(
        [*cmd, "--out", str(out)], env=env, cwd=REPO, check=True, timeout=600,
        capture_output=True, text=True,
    )  # fmt: skip
    assert f"0 now, {total} resumed" in again.stdout


def test_torn_last_line_is_cut_and_nothing_is_duplicated(tmp_path: Path) -> None:
    path = tmp_path / "r.json.partial.jsonl"
    journal = Sidecar(path, "abc")
    assert journal.open(restart=False) == {}
    row = {"correctness": "wrong"}
    journal.append(Outcome(sample_id="a:0:en", row=row, extra={"sample_id": "a:0:en"}))
    journal.append(Outcome(sample_id="a:1:en", row=row, extra={"sample_id": "a:1:en"}))
    journal.close()
    with open(path, "ab") as fh:
        fh.write(b'{"id": "a:2:en", "row": {"corr')  # killed in mid-write
    again = Sidecar(path, "abc")
    assert sorted(again.open(restart=False)) == ["a:0:en", "a:1:en"]
    again.append(Outcome(sample_id="a:2:en", row=row, extra={"sample_id": "a:2:en"}))
    again.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [item.get("id") for item in lines] == [None, "a:0:en", "a:1:en", "a:2:en"]
    other = Sidecar(path, "different-settings")
    with pytest.raises(Exception, match="other settings"):
        other.open(restart=False)


def test_bad_images_fail_before_the_model_or_are_skipped_and_counted(
    tmp_path: Path, capsys
) -> None:
    pytest.importorskip("rapidocr")
    data = tmp_path / "data"
    shutil.copytree(made_dataset(), data)
    ann = sorted((data / "annotations").glob("*.json"))[0]
    records = json.loads(ann.read_text())
    records[0]["img_filename"] = "nowhere/missing.png"
    # Record 1 gets its own copy of its screenshot (others share the original).
    source = data / "images" / records[1]["img_filename"]
    records[1]["img_filename"] = "broken/only_for_record_1.png"
    (data / "images" / "broken").mkdir()
    shutil.copy(source, data / "images" / records[1]["img_filename"])
    ann.write_text(json.dumps(records))
    out = tmp_path / "r.json"
    base = ["eval", "screenspot", "--data", str(data), "--backend", "ocr", "--out", str(out),
            "--no-progress", "--task", ann.stem, "--parser", "robust"]  # fmt: skip
    assert main(base) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{ann.name} record 0" in err[0] and "does not exist" in err[0]
    assert not out.exists() and not sidecar_path(out).exists()

    # A PNG whose header reads but whose pixels do not decode: found while running.
    image = data / "images" / records[1]["img_filename"]
    blob = image.read_bytes()
    image.write_bytes(blob[: len(blob) // 3])
    with Image.open(image) as img:
        assert img.size == tuple(records[1]["img_size"])
    assert main([*base, "--skip-bad", "--limit", "3"]) == 0
    report = _load(out)
    assert len(report["details"]) == 2
    assert len(report["run"]["skipped_bad"]) == 2
    assert any("cannot decode" in s for s in report["run"]["skipped_bad"])
    printed = capsys.readouterr().out
    assert "2 bad record(s) skipped" in printed
    # the metrics miss two samples: labelled so in the file and on every printed table
    deviations = report["protocol"]["deviations"]
    assert any(d.startswith("--skip-bad: 2 bad record(s)") for d in deviations)
    assert report["protocol"]["official"] is False
    assert "--skip-bad: 2" in report["protocol"]["label"]
    assert "By application [NON-OFFICIAL]" in printed and "Overall [NON-OFFICIAL]" in printed


def test_journal_lock_works_without_posix_only_modules(tmp_path: Path) -> None:
    """The lock that keeps two runs off one --out comes from filelock, not fcntl: it works in
    a Python where fcntl cannot be imported (as on Windows)."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["fcntl"] = None  # importing it now fails, as on Windows
        from pathlib import Path
        from actions.project_errors import InputError
        from agent.eval.runner import Sidecar
        path = Path(sys.argv[1])
        first = Sidecar(path, "abc")
        first.open(restart=False)
        try:
            Sidecar(path, "abc").open(restart=False)
        except InputError as exc:
            print("refused:", exc)
        first.close()
        again = Sidecar(path, "abc")
        print("reopened:", again.open(restart=False))
        again.close()
        print("left:", sorted(p.name for p in path.parent.iterdir()))
        """
    )
    journal = tmp_path / "r.json.partial.jsonl"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script, str(journal)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"refused: {journal} is in use by another run writing the same --out" in done.stdout
    assert "reopened: {}" in done.stdout
    assert "left: ['r.json.partial.jsonl']" in done.stdout  # no lock file stays behind


def _serve(server: Any, answers: dict[str, str]) -> None:
    """Make the chat-completions server answer each instruction with the given text (cut at
    the stop string, as vLLM does)."""

    def script(body: dict, number: int) -> tuple[int, dict, float]:
        user = body["messages"][1]["content"]
        instruction = next(p["text"] for p in user if p["type"] == "text")
        content = answers[instruction]
        for stop in body.get("stop") or []:
            content = content.split(stop)[0]
        payload = server.completion(body)
        payload["choices"][0]["message"]["content"] = content
        return 200, payload, 0.0

    server.script = script


def _click(coordinate: list[float], *, close: str = "}}") -> str:
    args = json.dumps({"action": "left_click", "coordinate": coordinate})[:-1]
    return f'<tool_call>\n{{"name": "computer_use", "arguments": {args}{close}\n</tool_call>'


def test_served_answers_are_judged_as_the_official_harness_judges_them(
    tmp_path: Path, capsys
) -> None:
    """Four served answers on four 1280x800 samples (seen as 1288x812 by the model):
    a 4-number box around the target (its centre counts), a point beyond the right edge
    (wrong, kept off the image), a tool call missing its last brace (wrong_format, not
    repaired) and a plain click on the target (correct)."""
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer

    data = made_dataset()
    records = json.loads((data / "annotations" / "code_editor_linux.json").read_text())
    assert [tuple(r["img_size"]) for r in records] == [(1280, 800)] * 4
    centres = [
        ((r["bbox"][0] + r["bbox"][2]) / 2, (r["bbox"][1] + r["bbox"][3]) / 2) for r in records
    ]
    model = [(x * 1288 / 1280, y * 812 / 800) for x, y in centres]  # model-space centres
    (bx, by), (px, py) = model[0], model[3]
    answers = {
        records[0]["instruction"]: _click([bx - 30, by - 9, bx + 30, by + 9]),
        records[1]["instruction"]: _click([1300, 180]),
        records[2]["instruction"]: _click(list(model[2]), close="}"),
        records[3]["instruction"]: _click([px, py]),
    }
    server = FakeServer()
    _serve(server, answers)
    base = ["eval", "screenspot", "--data", str(data), "--backend", "openai", "--base-url",
            server.base_url, "--model", "Qwen/Qwen2.5-VL-7B-Instruct", "--task",
            "code_editor_linux", "--no-progress"]  # fmt: skip
    try:
        _judged_officially(main([*base, "--out", str(tmp_path / "official.json")]), tmp_path,
                           capsys.readouterr().out, centres)  # fmt: skip
        assert main([*base, "--out", str(tmp_path / "robust.json"), "--parser", "robust"]) == 0
        robust_out = capsys.readouterr().out
    finally:
        server.close()
    official = _load(tmp_path / "official.json")["details"]
    robust = _load(tmp_path / "robust.json")
    _, off_r, broken_r, plain_r = robust["details"]
    assert broken_r["correctness"] == "correct"  # the lenient parser repairs the brace
    assert broken_r["pred"] == pytest.approx(list(centres[2]), abs=1e-6)
    assert off_r["pred"] == official[1]["pred"] and off_r["correctness"] == "wrong"  # unclamped
    assert plain_r["correctness"] == "correct"
    assert robust["protocol"]["official"] is False and robust["protocol"]["parser"] == "robust"
    assert "Overall [NON-OFFICIAL]" in robust_out and "--parser robust" in robust_out


def _judged_officially(
    code: int, tmp_path: Path, official_out: str, centres: list[tuple[float, float]]
) -> None:
    assert code == 0
    report = _load(tmp_path / "official.json")
    rows = report["details"]
    box, off, broken, plain = rows
    assert box["correctness"] == "correct"
    assert box["pred"] == pytest.approx(list(centres[0]), abs=1e-6)
    # (1300, 180) of 1288x812 is (1300 * 1280 / 1288, 180 * 800 / 812): beyond x = 1280
    assert off["pred"] == pytest.approx([1291.9254658, 177.3399015], abs=1e-6)
    assert off["correctness"] == "wrong"
    assert broken["pred"] is None and broken["correctness"] == "wrong_format"
    assert plain["pred"] == pytest.approx(list(centres[3]), abs=1e-6)
    assert plain["correctness"] == "correct"
    overall = report["metrics"]["overall"]
    assert (overall["num_correct_action"], overall["num_total"], overall["wrong_format_num"]) == (
        2, 4, 1,
    )  # fmt: skip
    protocol = report["protocol"]
    judging = ("official", "label", "parser", "reader", "reader_kind", "source", "deviations")
    assert {key: protocol[key] for key in judging} == {
        "official": True,
        "label": "official ScreenSpot-Pro protocol",
        "parser": "official",
        "reader": "ssp-qwen2.5-vl",
        "reader_kind": "ScreenSpot-Pro harness",
        "source": "likaixin2000/ScreenSpot-Pro-GUI-Grounding @ bd8bbbb models/qwen2_5vl.py",
        "deviations": [],
    }
    # The profile and its settings in the same record, which run.protocol repeats unchanged.
    assert protocol["profile"] == "qwen2.5-vl" and protocol["family"] is None
    assert protocol["coordinates"] == "pixels" and protocol["factor"] == 28
    assert (protocol["min_pixels"], protocol["max_pixels"]) == (3136, 16384 * 28 * 28)
    assert report["run"]["protocol"] == protocol and report["run"]["profile"] == "qwen2.5-vl"
    assert "min_pixels" not in report["run"] and "family" not in report["run"]
    assert "Metrics: official ScreenSpot-Pro protocol" in official_out
    assert "NON-OFFICIAL" not in official_out


def test_openai_backend_runs_with_bounded_concurrent_requests(tmp_path: Path) -> None:
    """Against a chat-completions server that clicks the centre of the image it receives."""
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer

    server = FakeServer()
    server.script = lambda body, number: (200, {}, 0.15)  # a slow server: requests overlap
    try:
        out = tmp_path / "openai.json"
        args = ["eval", "screenspot", "--data", str(made_dataset()), "--backend", "openai",
                "--base-url", server.base_url, "--model", "Qwen/Qwen2.5-VL-7B-Instruct",
                "--concurrency", "3", "--limit", "9", "--out", str(out),
                "--no-progress"]  # fmt: skip
        assert main(args) == 0
    finally:
        server.close()
    assert len(server.requests) == 9
    assert 2 <= server.max_in_flight <= 3
    report = _load(out)
    for row, extra in zip(report["details"], report["extra"], strict=True):
        # the server clicks (644, 406) of 1288x812 or (798, 448) of 1596x896: the exact
        # centre, which is (640, 400) of 1280x800 and (800, 450) of 1600x900
        w, h = extra["img_size"]
        assert row["pred"] == pytest.approx([w / 2, h / 2], abs=1e-9)
        assert row["correctness"] == _inside(row["pred"], row["bbox"])
