"""report.html rendered by headless Chromium: every step's screenshot carries its marker."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from agent.report import MARKER_COLOR, write_report
from agent.trajectory import ModelCall, RunInfo, RunWriter, StepRecord, Timings, read_run
from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
MAGENTA = tuple(int(MARKER_COLOR[i : i + 2], 16) for i in (1, 3, 5))

# each step's screenshot has its own flat colour, so the test can find it on the page
STEPS = [
    ((200, 200, 200), (800, 500), {"type": "click", "x": 550, "y": 120, "button": "left"}),
    ((180, 220, 180), (800, 500), {"type": "click", "x": 100, "y": 400, "count": 2}),
    ((170, 190, 230), (600, 900), {"type": "long_press", "x": 300, "y": 750}),
]


def screenshot_page(html: Path, out: Path, size: tuple[int, int]) -> Image.Image:
    """Render a page with Debian's chromium, isolated from the network and any profile."""
    need(Path(CHROMIUM).exists(), "chromium is not installed (apt-get install chromium)")
    profile = out.parent / "chromium-profile"
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={out}", f"--window-size={size[0]},{size[1]}",
        "--hide-scrollbars", html.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return Image.open(out).convert("RGB")


def region_of(page: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box of the pixels of exactly `colour` (a step's flat screenshot)."""
    bands = [
        band.point(lambda v, c=c: 255 if v == c else 0)
        for band, c in zip(page.split(), colour, strict=True)
    ]
    both = ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])
    return both.getbbox()


def marker_centre(page: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, float] | None:
    crop = page.crop(box)
    pixels = crop.load()
    points = [
        (x, y)
        for y in range(crop.height)
        for x in range(crop.width)
        if all(abs(pixels[x, y][i] - MAGENTA[i]) <= 24 for i in range(3))
    ]
    if len(points) < 10:
        return None
    return (
        box[0] + sum(p[0] for p in points) / len(points),
        box[1] + sum(p[1] for p in points) / len(points),
    )


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    writer = RunWriter(tmp_path / "run", RunInfo(name="report-test", platform="desktop"))
    for index, (colour, size, action) in enumerate(STEPS, start=1):
        rel = writer.save_screenshot(Image.new("RGB", size, colour), f"step-{index:03d}")
        x, y = action["x"], action["y"]
        writer.write_step(
            StepRecord(
                index=index,
                verb=action["type"],
                instruction=f"target {index}",
                screenshot=rel,
                geometry={"width": size[0], "height": size[1], "scale": 1.0, "offset": [0, 0]},
                model=ModelCall(
                    instruction=f"target {index}",
                    raw='```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "<b>not html</b>"}]\n```',
                    box=(x - 30, y - 12, x + 30, y + 12),
                ),
                action=action,
                screen_points=[(x, y)],
                sent=True,
                timings=Timings(capture=0.002, model=0.4, act=0.003, settle=0.2, total=0.61),
            )
        )
    writer.finish("success", "done", 0)
    return writer.dir


def test_every_step_shows_its_marker_where_the_action_went(run_dir: Path, tmp_path: Path) -> None:
    report = write_report(run_dir)
    html = report.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "&lt;b&gt;not html&lt;/b&gt;" in html  # model text is escaped
    page = screenshot_page(report, tmp_path / "page.png", (1400, 3600))
    for colour, size, action in STEPS:
        box = region_of(page, colour)
        assert box is not None, f"screenshot {colour} not rendered"
        scale = (box[2] - box[0]) / size[0]
        expected = (box[0] + action["x"] * scale, box[1] + action["y"] * scale)
        centre = marker_centre(page, box)
        assert centre is not None, f"no marker on screenshot {colour}"
        assert abs(centre[0] - expected[0]) <= 4 and abs(centre[1] - expected[1]) <= 4, (
            centre,
            expected,
        )


def test_report_can_be_rebuilt_from_the_records(run_dir: Path) -> None:
    first = write_report(run_dir).read_text()
    (run_dir / "report.html").unlink()
    assert write_report(run_dir).read_text() == first
    assert len(read_run(run_dir).steps) == len(STEPS)
    assert first.count('class="step"') == len(STEPS)


def test_agent_report_cli(run_dir: Path, tmp_path: Path) -> None:
    from agent.cli.main import main

    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
