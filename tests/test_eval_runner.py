"""`agent eval screenspot` end to end on made datasets: OCR, the tiny Qwen, SIGKILL + resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from actions.frames import CoordinateFrame
from agent.cli.main import main
from agent.eval.metrics import compute_metrics, judge_point
from agent.eval.results import ROW_KEYS
from agent.eval.runner import Outcome, Sidecar, sidecar_path
from tests.made_data import made_dataset

REPO = Path(__file__).resolve().parents[1]


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


def test_ocr_backend_end_to_end_with_report(tmp_path: Path, capsys) -> None:
    pytest.importorskip("rapidocr")
    data = made_dataset()
    out = tmp_path / "ocr.json"
    args = ["eval", "screenspot", "--data", str(data), "--backend", "ocr", "--out", str(out)]
    assert main([*args, "--limit", "12", "--no-progress"]) == 0
    report = _load(out)
    rows = report["details"]
    assert len(rows) == 12 and len(report["extra"]) == 12
    for row in rows:
        assert tuple(row) == ROW_KEYS  # the official keys, in the official order
        assert row["correctness"] == judge_point(row["pred"], row["bbox"])
        if row["ui_type"] == "icon":
            assert row["correctness"] == "wrong_format"  # text matching cannot find a picture
    texts = [r for r in rows if r["ui_type"] == "text"]
    assert texts and sum(r["correctness"] == "correct" for r in texts) >= 0.6 * len(texts)
    assert report["metrics"] == json.loads(json.dumps(compute_metrics(rows)))
    assert not sidecar_path(out).exists()
    capsys.readouterr()
    assert main(["eval", "score", str(out), "--check"]) == 0
    html = tmp_path / "report.html"
    assert main(["eval", "report", str(out), "-o", str(html)]) == 0
    page = html.read_text()
    failures = sum(r["correctness"] != "correct" for r in rows)
    assert page.count('src="data:image/jpeg;base64,') == failures
    assert "By application" in page and "desktop" in page


def test_tiny_qwen_end_to_end_maps_points_back_to_original_pixels(
    tmp_path: Path, trained_qwen: Path
) -> None:
    """The trained model always clicks model-space (364, 217): the rows must hold exactly
    that point in each screenshot's own pixels, batched or not."""
    from tests.fixtures.tiny_qwen_build import FIXED_POINT

    data = made_dataset()
    base = ["eval", "screenspot", "--data", str(data), "--model", str(trained_qwen),
            "--max-new-tokens", "40", "--limit", "12", "--no-progress"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "b4.json"), "--batch-size", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "b1.json"), "--batch-size", "1"]) == 0
    batched, single = _load(tmp_path / "b4.json"), _load(tmp_path / "b1.json")
    assert batched["details"] == single["details"]
    for row, extra in zip(batched["details"], batched["extra"], strict=True):
        size = tuple(extra["img_size"])
        frame = CoordinateFrame.for_image(size, max_pixels=16384 * 28 * 28)
        assert tuple(extra["model_size"]) == frame.model_size
        assert row["pred"] == pytest.approx(list(frame.model_to_image(*FIXED_POINT)), abs=1e-9)
        assert row["correctness"] == judge_point(row["pred"], row["bbox"])


def test_zoom_records_both_points_and_maps_the_second_back(
    tmp_path: Path, trained_qwen: Path
) -> None:
    from agent.eval.zoom import zoom_window
    from tests.fixtures.tiny_qwen_build import FIXED_POINT

    data = made_dataset()
    out = tmp_path / "zoom.json"
    args = ["eval", "screenspot", "--data", str(data), "--model", str(trained_qwen), "--zoom",
            "--zoom-size", "0.5", "--limit", "6", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    report = _load(out)
    assert report["run"]["zoom"]["enabled"] is True
    for row, extra in zip(report["details"], report["extra"], strict=True):
        size = tuple(extra["img_size"])
        first = CoordinateFrame.for_image(size).model_to_image(*FIXED_POINT)
        assert extra["pred_first"] == pytest.approx(list(first))
        window = zoom_window(size, first, (0.5, 0.5))
        assert extra["crop"] == list(window.box)
        zoom_frame = CoordinateFrame.for_image(window.size)
        expected = window.to_image(zoom_frame.model_to_image(*FIXED_POINT))
        assert row["pred"] == pytest.approx(list(expected))
        left, top, right, bottom = window.box
        assert left <= row["pred"][0] < right and top <= row["pred"][1] < bottom


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
            "--no-progress", "--task", ann.stem]  # fmt: skip
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
    assert "2 bad record(s) skipped" in capsys.readouterr().out


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
        frame = CoordinateFrame.for_image(tuple(extra["img_size"]), max_pixels=16384 * 28 * 28)
        w, h = frame.model_size
        assert row["pred"] == pytest.approx(list(frame.model_to_image(w // 2, h // 2)))
        assert row["correctness"] == judge_point(row["pred"], row["bbox"])
