"""ScreenSpot dataset folders: Pro, v2 and v1 layouts, filters, languages and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from actions.project_errors import InputError
from tasks.screenspot import DatasetFormat, Filters, load_dataset, xywh_to_xyxy


def _png(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 200, 200)).save(path)


def _pro_record(i: int, app: str, **over) -> dict:
    rec = {
        "img_filename": f"{app}_linux/shot{i}.png",
        "bbox": [10 + i, 20, 50 + i, 40],
        "instruction": f"open item {i}",
        "instruction_cn": f"打开项目 {i}",
        "id": f"{app}_{i}",
        "application": app,
        "platform": "linux",
        "img_size": [320, 200],
        "ui_type": "icon" if i % 2 else "text",
        "group": "Dev" if app == "editor" else "Office",
    }
    rec.update(over)
    return rec


@pytest.fixture
def pro_dir(tmp_path: Path) -> Path:
    root = tmp_path / "pro"
    for app in ("editor", "sheet"):
        records = [_pro_record(i, app) for i in range(4)]
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"{app}_linux.json").write_text(json.dumps(records))
        for i in range(4):
            _png(root / "images" / f"{app}_linux" / f"shot{i}.png", (320, 200))
    return root


def test_pro_folder_loads_with_corner_boxes_and_stable_ids(pro_dir: Path) -> None:
    ds = load_dataset(pro_dir)
    assert ds.format is DatasetFormat.PRO
    assert len(ds) == 8
    first = ds.samples[0]
    assert first.sample_id == "editor_linux:0:en"
    assert first.bbox == (10, 20, 50, 40)
    assert first.img_size == (320, 200)
    assert first.group == "Dev" and first.task_filename == "editor_linux"
    assert first.image_path == pro_dir / "images/editor_linux/shot0.png"
    assert load_dataset(pro_dir).samples == ds.samples  # deterministic order


def test_filters_and_limit(pro_dir: Path) -> None:
    only_sheet = load_dataset(pro_dir, filters=Filters(applications=["sheet"]))
    assert {s.application for s in only_sheet.samples} == {"sheet"}
    icons = load_dataset(pro_dir, filters=Filters(ui_types=["icon"], groups=["office"]))
    assert [s.sample_id for s in icons.samples] == ["sheet_linux:1:en", "sheet_linux:3:en"]
    by_task = load_dataset(pro_dir, filters=Filters(tasks=["editor_linux"], limit=3))
    assert [s.record_index for s in by_task.samples] == [0, 1, 2]
    with pytest.raises(InputError, match="unknown task file.*nope.*editor_linux"):
        load_dataset(pro_dir, filters=Filters(tasks=["nope"]))


def test_chinese_instructions(pro_dir: Path) -> None:
    cn = load_dataset(pro_dir, lang="cn", filters=Filters(limit=1)).samples[0]
    assert cn.instruction == "打开项目 0" and cn.lang == "cn" and cn.sample_id.endswith(":cn")
    both = load_dataset(pro_dir, lang="all", filters=Filters(tasks=["editor_linux"]))
    assert len(both) == 8 and {s.lang for s in both.samples} == {"en", "cn"}


def test_v2_and_v1_boxes_are_converted_from_xywh(tmp_path: Path) -> None:
    for version, suffix, images in (("v2", "_v2", "screenspotv2_image"), ("v1", "", "imgs")):
        root = tmp_path / version
        records = [
            {
                "img_filename": "web_1.png",
                "bbox": [100, 50, 40, 20],
                "instruction": "search",
                "data_type": "text",
                "data_source": "shop",
            },
            {
                "img_filename": "web_2.png",
                "bbox": [0.0, 0.0, 10.5, 7.25],
                "instruction": "logo",
                "data_type": "icon",
                "data_source": "news",
            },
        ]
        root.mkdir()
        (root / f"screenspot_web{suffix}.json").write_text(json.dumps(records))
        _png(root / images / "web_1.png", (640, 360))
        _png(root / images / "web_2.png", (300, 500))
        ds = load_dataset(root)
        assert ds.format.value == version
        a, b = ds.samples
        assert a.bbox == (100, 50, 140, 70)
        assert b.bbox == (0.0, 0.0, 10.5, 7.25)
        assert (a.img_size, b.img_size) == ((640, 360), (300, 500))  # read from the images
        assert (a.platform, a.application, a.ui_type, a.group) == ("web", "shop", "text", None)
        assert a.sample_id == f"screenspot_web{suffix}:0:en"
    assert xywh_to_xyxy([1, 2, 3, 4]) == (1, 2, 4, 6)


def test_missing_annotation_folder(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(InputError, match="not a ScreenSpot folder"):
        load_dataset(tmp_path)
    with pytest.raises(InputError, match="annotations/ folder is missing"):
        load_dataset(tmp_path, fmt="pro")
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_bad_records_name_file_and_record(pro_dir: Path) -> None:
    ann = pro_dir / "annotations" / "sheet_linux.json"
    records = json.loads(ann.read_text())
    del records[1]["bbox"]
    records[2]["img_filename"] = "sheet_linux/missing.png"
    records[3]["img_filename"] = "sheet_linux/broken.png"
    (pro_dir / "images/sheet_linux/broken.png").write_bytes(b"\x89PNG not really")
    ann.write_text(json.dumps(records))
    with pytest.raises(InputError) as err:
        load_dataset(pro_dir)
    message = str(err.value)
    assert "\n" not in message
    assert "sheet_linux.json record 1" in message and "'bbox'" in message
    assert "and 2 more" in message
    ds = load_dataset(pro_dir, skip_bad=True)
    assert len(ds) == 5
    reasons = {b.index: b.reason for b in ds.skipped}
    assert set(reasons) == {1, 2, 3}
    assert "does not exist" in reasons[2] and "cannot be decoded" in reasons[3]


def test_img_size_disagreeing_with_the_image_is_bad(pro_dir: Path) -> None:
    ann = pro_dir / "annotations" / "editor_linux.json"
    records = json.loads(ann.read_text())
    records[0]["img_size"] = [3840, 2160]
    ann.write_text(json.dumps(records))
    with pytest.raises(InputError, match=r"editor_linux.json record 0: img_size \[3840, 2160\]"):
        load_dataset(pro_dir)
