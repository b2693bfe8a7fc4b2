"""A secret typed right after other text never shows in a run folder's screenshots.

The real CLI runs a task on the bundled Tk form under a private Xvfb: ``admin``
then ``${PW}`` into one field, so the field reads ``adminhunter22``. Then every
image the run folder holds (screens/*.png and the images embedded in
report.html) is read again with OCR, and no five characters of the secret in
a row may be read anywhere.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]
DEMO_APP = ROOT / "tasks" / "examples" / "demo_form.py"
SECRET = "hunter22"


def _readable_parts(text: str) -> set[str]:
    folded = "".join(unicodedata.normalize("NFKC", text).casefold().split())
    return {SECRET[i : i + 5] for i in range(len(SECRET) - 4) if SECRET[i : i + 5] in folded}


def _images(run: Path) -> dict[str, Image.Image]:
    images = {str(p.relative_to(run)): Image.open(p).convert("RGB") for p in run.glob("screens/*")}
    html = (run / "report.html").read_text(encoding="utf-8")
    for n, data in enumerate(re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)):
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        images[f"report.html image {n}"] = image.convert("RGB")
    return images


def test_a_secret_typed_after_other_text_is_masked_in_every_saved_image(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr")
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    task = tmp_path / "login.yaml"
    task.write_text(
        "name: login\n"
        "env: {desktop: {virtual_display: 1280x800}}\n"
        "model: {backend: ocr}\n"
        "steps:\n"
        f'  - launch: ["{sys.executable}", "{DEMO_APP}"]\n'
        '  - wait_for: {text: "Contact form", timeout: 20}\n'
        '  - click: "the Name field"\n'
        '  - type: "admin"\n'
        '  - type: "${PW}"\n'
        '  - click: "the Email field"\n'
        '  - type: "ada@example.com"\n'
        "settle: 0.5\n"
    )
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["PW"] = SECRET
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "run", str(task), "--out", str(run)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [json.loads(x) for x in (run / "steps.jsonl").read_text().splitlines()]
    # the field really holds admin + the secret: the last screens show it unmasked otherwise
    assert [s["action"]["text"] for s in steps if s["verb"] == "type"] == [
        "admin", "***", "ada@example.com",
    ]  # fmt: skip
    from agent.models.ocr import read_text

    images = _images(run)
    assert "screens/final.png" in images and len(images) >= 2 * 8
    for where, image in images.items():
        for line in read_text(image):
            assert not _readable_parts(line.text), f"{where} shows {line.text!r}"
    # the masking cost is part of each step's timings once a secret is in the run
    assert all("mask" in s["timings"] for s in steps)
    assert all(s["timings"]["mask"] <= s["timings"]["total"] for s in steps)
    # the rest of the screen is still readable (the form's other labels)
    final = " ".join(line.text for line in read_text(images["screens/final.png"]))
    assert "Contact form" in final and "Submit" in final
