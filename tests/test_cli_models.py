"""`agent models`, `agent parse --profile`, and `agent eval screenspot --profile` (the protocol
recorded in the result file), through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.cli.main import main
from tests.test_models_openai import FakeServer
from tests.test_models_openai_profiles import answering


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_models_json_lists_every_profile_with_its_facts(capsys):
    code, out, _ = run(["models", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    profiles = {p["name"]: p for p in payload["profiles"]}
    assert list(profiles) == [
        "qwen2.5-vl", "qwen3-vl", "ui-tars-1.5", "gta1", "ui-venus-ground", "ui-venus-1.5",
        "gui-owl-1.5", "mai-ui", "holo1.5", "holo2", "infigui-g1",
    ]  # fmt: skip
    mai = profiles["mai-ui"]
    assert mai["architectures"] == ["qwen3_vl", "qwen3_vl_moe"]
    assert mai["coordinates"] == "rel1000" and mai["factor"] == 32
    assert mai["modes"] == ["ground"]
    assert mai["benchmark_pixels"] == {"min_pixels": 1024, "max_pixels": 6553600}
    assert "Tongyi-MAI/MAI-UI-8B" in mai["hub_ids"]
    figure = next(p for p in mai["published_screenspot_pro"] if p["model"] == "MAI-UI-8B")
    assert figure == {
        "model": "MAI-UI-8B",
        "accuracy": 65.7,
        "label": "published",
        "source": "GUI-Agent/grounding-leaderboard",
    }
    assert profiles["ui-tars-1.5"]["modes"] == ["ground", "act (desktop, mobile)"]
    assert profiles["gui-owl-1.5"]["modes"] == ["ground", "act (desktop)"]
    assert profiles["qwen2.5-vl"]["coordinates"] == "pixels"
    assert "GUI-Actor" in payload["not_supported"] and "OpenCUA" in payload["not_supported"]


def test_models_table_names_the_out_of_scope_models(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0
    assert "infigui-g1" in out and "published" in out.lower() and "GUI-Actor" in out


@pytest.mark.parametrize("columns", [80, 100])
def test_models_is_readable_in_a_narrow_terminal(capsys, monkeypatch, columns):
    # At 80 columns the seven-column table was a grid of ellipses (issue 24.11).
    from agent.models.profiles import PROFILES

    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run(["models"], capsys)
    assert code == 0
    assert "\u2026" not in out and max(len(line) for line in out.splitlines()) <= columns
    words = set(out.replace(",", " ").split())
    for profile in PROFILES.values():
        assert profile.name in words and set(profile.hub_ids) <= words, profile.name
        assert f"{profile.agent_pixels.max_pixels:,}" in out


def test_parse_with_the_mai_ui_profile(capsys):
    answer = '<grounding_think>.</grounding_think>\n<answer>\n{"coordinate": [250,500]}\n</answer>'
    code, out, _ = run(["parse", "--profile", "mai-ui", "--screen", "2560x1440", answer], capsys)
    assert code == 0
    parsed = json.loads(out)
    assert parsed["point"] == [640.0, 720.0]  # 250/1000*2560, 500/1000*1440
    assert parsed["profile"] == "mai-ui" and parsed["space"] == "rel1000"
    assert parsed["model_size"] == [1504, 832]
    # Without the profile the same text is still read (the answer tag is JSON anyway) ...
    code, out, _ = run(["parse", "--screen", "2560x1440", answer], capsys)
    # ... but in Qwen2.5-VL's absolute pixels of the 1316x728 image: not the same point.
    assert code == 0 and json.loads(out)["point"] != [640.0, 720.0]
    code, _, err = run(["parse", "--profile", "ui-venus-1.5", "--screen", "800x600", "[-1,-1]"],
                       capsys)  # fmt: skip
    assert code == 2 and "not on the screen" in err


def _dataset(root: Path) -> Path:
    """A two-sample ScreenSpot-Pro folder: a target on the left, one on the right."""
    (root / "images" / "app").mkdir(parents=True)
    (root / "annotations").mkdir()
    Image.new("RGB", (1920, 1080), (240, 240, 240)).save(root / "images" / "app" / "a.png")
    records = [
        {"img_filename": "app/a.png", "bbox": [400, 500, 560, 580], "instruction": "Save",
         "id": "1", "application": "app", "platform": "linux", "img_size": [1920, 1080],
         "ui_type": "icon", "group": "Dev"},
        {"img_filename": "app/a.png", "bbox": [1500, 100, 1700, 140], "instruction": "Close",
         "id": "2", "application": "app", "platform": "linux", "img_size": [1920, 1080],
         "ui_type": "text", "group": "Dev"},
    ]  # fmt: skip
    (root / "annotations" / "app_linux.json").write_text(json.dumps(records))
    return root


def test_eval_screenspot_follows_and_records_the_profile_protocol(tmp_path, capsys):
    pytest.importorskip("openai")
    data = _dataset(tmp_path / "ssp")
    server = FakeServer()
    # 250/1000*1920 = 480, 500/1000*1080 = 540: inside the first box, outside the second.
    server.script = answering('<answer>\n{"coordinate": [250,500]}\n</answer>')
    try:
        out = tmp_path / "result.json"
        args = ["eval", "screenspot", "--data", str(data), "--out", str(out),
                "--backend", "openai", "--base-url", server.base_url,
                "--model", "Tongyi-MAI/MAI-UI-8B", "--no-progress"]  # fmt: skip
        code, _, err = run(args, capsys)
        assert code == 0, err
    finally:
        server.close()
    report = json.loads(out.read_text())
    assert [d["correctness"] for d in report["details"]] == ["correct", "wrong"]
    run_info = report["run"]
    assert run_info["profile"] == "mai-ui"
    protocol = run_info["protocol"]
    assert protocol["profile"] == "mai-ui" and protocol["coordinates"] == "rel1000"
    assert (protocol["min_pixels"], protocol["max_pixels"]) == (1024, 6553600)
    assert protocol["image_first"] is False and protocol["max_new_tokens"] == 256
    assert protocol["answer_format"]["answer_tag"] == "answer"
    # The authors' limits: 1920x1080 at factor 32 under 6553600 px is 1920x1088.
    assert [e["model_size"] for e in report["extra"]] == [[1920, 1088]] * 2
    texts = sorted(b["messages"][1]["content"][0]["text"] for b in server.requests)
    assert texts == ["Close\n", "Save\n"]
