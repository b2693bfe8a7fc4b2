"""`agent dataset make`: real Tk and GTK screens under Xvfb, exact boxes, deterministic."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.cli.main import main
from tasks.screenspot import DatasetFormat, load_dataset
from tests.conftest import need
from tests.made_data import made_dataset


def _annotations(root: Path) -> dict[str, list[dict]]:
    return {
        p.name: json.loads(p.read_text()) for p in sorted((root / "annotations").glob("*.json"))
    }


def test_made_dataset_loads_as_screenspot_pro_with_two_sizes_and_both_types() -> None:
    root = made_dataset()
    ds = load_dataset(root)
    assert ds.format is DatasetFormat.PRO
    assert len(ds) >= 20
    assert {s.img_size for s in ds.samples} == {(1280, 800), (1600, 900)}
    assert {s.ui_type for s in ds.samples} == {"text", "icon"}
    for sample in ds.samples:
        with Image.open(sample.image_path) as img:
            assert img.size == sample.img_size
        x1, y1, x2, y2 = sample.bbox
        assert 0 <= x1 < x2 < sample.img_size[0] and 0 <= y1 < y2 < sample.img_size[1]
    cn = load_dataset(root, lang="cn")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in s.instruction) for s in cn.samples)


def test_gtk_dialogs_are_part_of_the_dataset() -> None:
    need(shutil.which("zenity") is not None, "zenity is not installed")
    need(shutil.which("gdbus") is not None, "gdbus is not installed")
    apps = {s.application for s in load_dataset(made_dataset()).samples}
    assert "zenity" in apps and len(apps) >= 3


def test_same_seed_same_dataset(tmp_path: Path) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    args = ["--sizes", "1024x768", "--scenes", "2", "--per-scene", "5", "--seed", "3", "--no-gtk"]
    assert main(["dataset", "make", "--out", str(tmp_path / "a"), *args]) == 0
    assert main(["dataset", "make", "--out", str(tmp_path / "b"), *args]) == 0
    assert _annotations(tmp_path / "a") == _annotations(tmp_path / "b")
    for image in sorted((tmp_path / "a" / "images").rglob("*.png")):
        twin = tmp_path / "b" / image.relative_to(tmp_path / "a")
        assert Image.open(image).tobytes() == Image.open(twin).tobytes()
    other = ["--sizes", "1024x768", "--scenes", "2", "--per-scene", "5", "--seed", "4", "--no-gtk"]
    assert main(["dataset", "make", "--out", str(tmp_path / "c"), *other]) == 0
    assert _annotations(tmp_path / "a") != _annotations(tmp_path / "c")


def test_out_folder_that_is_not_empty_needs_force(tmp_path: Path, capsys) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["dataset", "make", "--out", str(tmp_path), "--scenes", "1"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_tk_boxes_are_the_exact_pixels_on_screen(tmp_path: Path) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    import tkinter as tk

    from env.virtual_display import VirtualDisplay
    from tasks.datasets.make import _capture
    from tasks.datasets.tk_scene import _box, _settle

    with VirtualDisplay((800, 600)):
        root = tk.Tk()
        root.overrideredirect(True)
        root.geometry("800x600+0+0")
        root.configure(bg="#000000")
        probe = tk.Frame(root, bg="#ff00ff", width=37, height=19)
        probe.place(x=123, y=45)
        _settle(root)
        box = _box(probe)
        image = _capture((800, 600))
        root.destroy()
    magenta = [
        (x, y) for y in range(600) for x in range(800) if image.getpixel((x, y)) == (255, 0, 255)
    ]
    xs, ys = [p[0] for p in magenta], [p[1] for p in magenta]
    assert box == (min(xs), min(ys), max(xs), max(ys)) == (123, 45, 159, 63)


def test_text_targets_are_read_inside_their_boxes_by_ocr() -> None:
    """The words of text samples (Tk and GTK alike) are where their boxes say."""
    rapidocr = pytest.importorskip("rapidocr")
    engine = rapidocr.RapidOCR(params={"Global.use_cls": False})
    root = made_dataset()
    rows = [r for rows in _annotations(root).values() for r in rows if r["ui_type"] == "text"]
    rows = random.Random(0).sample(rows, k=min(10, len(rows)))
    found = 0
    for row in rows:
        x1, y1, x2, y2 = row["bbox"]
        with Image.open(root / "images" / row["img_filename"]) as img:
            crop = img.convert("RGB").crop((x1, y1, x2 + 1, y2 + 1))
        crop = crop.resize((crop.width * 3, crop.height * 3))
        result = engine(np.asarray(crop))
        text = " ".join(result.txts or ()).replace(" ", "").casefold()
        want = row["target_text"].replace(" ", "").casefold()
        found += want[:4] in text
    assert found >= 0.7 * len(rows), f"only {found}/{len(rows)} target texts were inside the box"
