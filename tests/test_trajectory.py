"""Run folders: records, redaction of secrets (text and screenshots), reading back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from actions.project_errors import InputError
from agent.screen_mask import mask_text_regions
from agent.secrets import Redactor, SecretFilter
from agent.trajectory import (
    ModelCall,
    RunInfo,
    RunWriter,
    StepRecord,
    default_run_dir,
    read_run,
)

SECRET = "tr0ub4dor-horse"


def test_secrets_are_masked_in_every_string_of_a_record(tmp_path: Path) -> None:
    redactor = Redactor([SECRET, "horse"])
    writer = RunWriter(
        tmp_path / "run",
        RunInfo(name="t", platform="desktop", goal=f"log in with {SECRET}"),
        redactor=redactor,
    )
    rec = StepRecord(
        index=1,
        verb="type",
        instruction=SECRET,
        action={"type": "type", "text": f"pw={SECRET}"},
        model=ModelCall(instruction="x", raw=f'{{"text": "{SECRET}"}}', attempts=[SECRET]),
        screen_points=[(1.0, 2.0)],
    )
    written = writer.write_step(rec)
    writer.finish("failed", f"could not type {SECRET}", 1)
    text = (writer.dir / "steps.jsonl").read_text() + (writer.dir / "run.json").read_text()
    assert SECRET not in text and "horse" not in text
    assert written.action == {"type": "type", "text": "pw=***"}
    assert written.screen_points == [(1.0, 2.0)]  # numbers and structure untouched
    assert json.loads((writer.dir / "run.json").read_text())["message"] == "could not type ***"


def test_screenshot_text_with_a_secret_is_blacked_out() -> None:
    pytest.importorskip("rapidocr")
    image = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22)
    draw.text((40, 40), "Password field", fill="black", font=font)
    draw.text((40, 160), f"Note: {SECRET}", fill="black", font=font)
    masked = mask_text_regions(image, Redactor([SECRET]))
    from agent.models.ocr import find_text

    assert find_text(masked, SECRET) is None
    assert find_text(masked, "Password field") is not None


def test_secret_filter_masks_log_messages() -> None:
    import logging

    record = logging.LogRecord("x", logging.INFO, "f", 1, "typing %s now", (SECRET,), None)
    assert SecretFilter(Redactor([SECRET])).filter(record)
    assert record.getMessage() == "typing *** now"


def test_run_folder_must_be_new(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(InputError, match="already exists"):
        RunWriter(tmp_path / "busy", RunInfo(name="t", platform="desktop"))


def test_read_run_names_the_broken_line(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path / "run", RunInfo(name="t", platform="desktop"))
    writer.write_step(StepRecord(index=1, verb="wait"))
    writer.finish("success", "done", 0)
    with (writer.dir / "steps.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(InputError, match=r"steps\.jsonl:2: unreadable step"):
        read_run(writer.dir)
    with pytest.raises(InputError, match="not a run folder"):
        read_run(tmp_path)


def test_default_run_dir_is_safe_for_any_name() -> None:
    path = default_run_dir("save a/note?", root="runs")
    assert path.parent == Path("runs") and path.name.endswith("-save-a-note")


def test_a_secret_inside_a_longer_word_or_in_part_is_recognised() -> None:
    from agent.secrets import shows_secret

    redactor = Redactor(["hunter22"])
    for text in ("adminhunter22", "Password: admin hunt3r22", "…nter22", "aHVudGVyMjI="):
        assert shows_secret(text, redactor), text
    for text in ("Enter your name", "Submit", "2022-12-08"):
        assert not shows_secret(text, redactor), text


def test_the_run_masker_reads_only_changed_rows_and_keeps_earlier_boxes() -> None:
    pytest.importorskip("rapidocr")
    from agent.models import ocr
    from agent.screen_mask import ScreenMasker

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22)
    before = Image.new("RGB", (1280, 800), "white")
    ImageDraw.Draw(before).text((40, 40), "Login form", fill="black", font=font)
    typed = before.copy()
    ImageDraw.Draw(typed).text((40, 400), "User: adminhunter22", fill="black", font=font)
    later = typed.copy()
    ImageDraw.Draw(later).text((40, 700), "Signed in", fill="black", font=font)
    masker = ScreenMasker(Redactor(["hunter22"]))
    assert masker.mask(before, secret_typed=False).tobytes() == before.tobytes()
    reads = []
    original = ocr.read_text
    ocr_read = lambda image, **kw: reads.append(image.size) or original(image, **kw)  # noqa: E731
    ocr.read_text = ocr_read
    try:
        shots = [masker.mask(typed, secret_typed=True), masker.mask(later, secret_typed=True)]
    finally:
        ocr.read_text = original
    for shot in shots:
        words = " ".join(line.text for line in ocr.read_text(shot))
        assert "hunter" not in words.lower() and "Login form" in words
    assert "Signed in" in " ".join(line.text for line in ocr.read_text(shots[1]))
    assert reads and all(size[1] < 800 for size in reads)  # bands, never the whole screen
