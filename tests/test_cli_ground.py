"""`agent ground` through the real console entry point, on the tests' tiny checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from actions.frames import CoordinateFrame
from agent.models.spec import AGENT_MAX_PIXELS
from tests.fixtures.tiny_qwen_build import FIXED_ANSWER, FIXED_POINT

AGENT = [sys.executable, "-m", "agent.cli.main"]


def run(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_vars}
    return subprocess.run(
        [*AGENT, *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


@pytest.fixture
def shot_png(tmp_path) -> Path:
    path = tmp_path / "shot.png"
    image = Image.new("RGB", (1920, 1080), (245, 245, 245))
    image.paste((30, 110, 210), (1500, 40, 1620, 80))
    image.save(path)
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str):
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_ground_json_prints_the_mapped_point_and_draws_it(trained_qwen_dir, shot_png, tmp_path):
    drawn = tmp_path / "drawn.png"
    result = run(
        "ground",
        str(shot_png),
        "the Save button",
        "--model",
        str(trained_qwen_dir),
        "--json",
        "--draw",
        str(drawn),
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    frame = CoordinateFrame.for_image((1920, 1080), max_pixels=AGENT_MAX_PIXELS)
    x, y = frame.model_to_image(*FIXED_POINT)
    assert out["point"] == [round(x, 2), round(y, 2)]
    assert out["bbox"] is None
    assert out["raw"] == FIXED_ANSWER
    assert out["model_xy"] == list(FIXED_POINT)
    assert out["model_size"] == [1316, 728] and out["image_size"] == [1920, 1080]
    assert out["visual_tokens"] == 1222
    assert {"preprocess", "model", "parse", "total"} <= set(out["seconds"])
    picture = Image.open(drawn).convert("RGB")
    assert picture.size == (1920, 1080)
    # The red ring around the point: pure red pixels near it, none far away.
    near = [
        picture.getpixel((int(x) + dx, int(y) + dy))
        for dx in range(-30, 31, 2)
        for dy in range(-30, 31, 2)
    ]
    assert (255, 0, 0) in near
    assert picture.getpixel((100, 1000)) == (245, 245, 245)


def test_a_hub_id_in_the_local_cache_loads_without_network(trained_qwen_dir, shot_png, tmp_path):
    # The Hugging Face cache layout a download leaves: refs/main -> snapshots/<commit>/.
    repo = tmp_path / "hub" / "models--Qwen--Qwen2.5-VL-3B-Instruct"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    shutil.copytree(trained_qwen_dir, snapshot)
    result = run(
        "ground",
        str(shot_png),
        "the Save button",
        "--model",
        "Qwen/Qwen2.5-VL-3B-Instruct",
        "--json",
        HF_HUB_CACHE=str(tmp_path / "hub"),
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["raw"] == FIXED_ANSWER and out["model_xy"] == list(FIXED_POINT)


def test_ground_human_output_and_max_pixels(trained_qwen_dir, shot_png):
    result = run(
        "ground", str(shot_png), "Save", "-m", str(trained_qwen_dir), "--max-pixels", "12845056"
    )
    assert result.returncode == 0, result.stderr
    assert "point: 361.7, 214.6  (in the 1920x1080 image)" in result.stdout
    assert "model: 364, 217  (in the 1932x1092 image it saw, 2691 visual tokens)" in result.stdout


def test_two_stage_prints_both_passes_and_their_agreement_labelled(trained_qwen_dir, shot_png):
    # The trained model answers FIXED_POINT in whatever image it sees: pass 1 in the screen
    # scaled to 588x336 (256 visual tokens at most), pass 2 in the native-resolution crop.
    args = ["ground", str(shot_png), "Save", "-m", str(trained_qwen_dir), "--two-stage",
            "--first-max-pixels", str(256 * 28 * 28)]  # fmt: skip
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    record = out["two_stage"]
    assert record["protocol"] == "two-stage (not an official protocol)"
    assert record["first_size"] == [588, 336]
    first = (FIXED_POINT[0] * 1920 / 588, FIXED_POINT[1] * 1080 / 336)
    assert record["first_point"] == pytest.approx(first)
    left, top, right, bottom = record["crop"]
    assert left <= first[0] <= right and top <= first[1] <= bottom
    assert out["point"] == pytest.approx([left + FIXED_POINT[0], top + FIXED_POINT[1]], abs=0.01)
    assert 0 <= out["confidence"] <= 1 and record["confidence"] == out["confidence"]
    assert record["visual_tokens"][0] == 252
    assert out["visual_tokens"] == sum(record["visual_tokens"])

    text = run(*args)
    assert text.returncode == 0, text.stderr
    x, y = out["point"]
    assert f"point: {x:.1f}, {y:.1f}  (in the 1920x1080 image)" in text.stdout
    assert "two-stage (not an official protocol)" in text.stdout
    assert "pass 1: whole screen at 588x336 (252 visual tokens)" in text.stdout
    assert f"pass 2: crop ({left}, {top}, {right}, {bottom}) at native resolution" in text.stdout
    assert f"confidence: {out['confidence']:.2f}" in text.stdout


def test_two_stage_options_without_two_stage_exit_2(shot_png):
    result = run("ground", str(shot_png), "Save", "--min-confidence", "0.5")
    assert_one_line_error(result, 2, "need --two-stage")


def test_an_answer_with_no_coordinate_exits_1_showing_the_raw_answer(tiny_qwen_dir, shot_png):
    result = run(
        "ground", str(shot_png), "the Save", "-m", str(tiny_qwen_dir), "--max-new-tokens", "12"
    )
    assert_one_line_error(result, 1, "no usable point in the answer", '<tool_call>\\n{"name"')
    assert result.stdout == ""


def test_bad_input_exits_2_before_any_model_is_loaded(tmp_path, shot_png):
    missing = run("ground", str(tmp_path / "nope.png"), "x")
    assert_one_line_error(missing, 2, "nope.png", "no such image file")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"GIF89a not really")
    assert_one_line_error(run("ground", str(corrupt), "x"), 2, "not a readable image")
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    result = run("ground", str(shot_png), "x", "--model", str(folder))
    assert_one_line_error(result, 2, "not a model checkpoint (no config.json")
    bad_draw = run("ground", str(shot_png), "x", "--draw", str(tmp_path / "out.txt"))
    assert_one_line_error(bad_draw, 2, "--draw")
    bad_dtype = run("ground", str(shot_png), "x", "--dtype", "float8")
    assert_one_line_error(bad_dtype, 2, "dtype")


def test_an_unreachable_server_exits_2(shot_png):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "ground",
        str(shot_png),
        "x",
        "--backend",
        "openai",
        "--base-url",
        f"http://127.0.0.1:{port}/v1",
        "--model",
        "qwen2.5-vl",
    )
    assert_one_line_error(result, 2, "cannot reach the model server", str(port))


def test_a_point_far_outside_the_frame_exits_1_showing_the_raw_answer(shot_png):
    # Issue 15: an answer far outside the model's frame is unusable, not a point at the edge.
    from tests.test_models_openai import FakeServer

    far = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [2600, 9]}}
    server = FakeServer()

    def answer_far(body: dict, number: int) -> tuple[int, dict, float]:
        payload = server.completion(body)  # the real reply, with the far point as its text
        payload["choices"][0]["message"]["content"] = (
            f"<tool_call>\n{json.dumps(far)}\n</tool_call>"
        )
        return 200, payload, 0.0

    server.script = answer_far
    try:
        result = run(
            *("ground", str(shot_png), "Save", "--backend", "openai"),
            *("--base-url", server.base_url, "--model", "Qwen/Qwen2.5-VL-7B-Instruct"),
        )
    finally:
        server.close()
    assert_one_line_error(result, 1, "far outside", "(2600, 9)", '"coordinate": [2600, 9]')
    assert result.stdout == ""
