"""`agent parse` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AGENT = [sys.executable, "-m", "agent.cli.main"]
CLICK = (
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
    '"coordinate": [658, 364]}}\n</tool_call>'
)


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_parse_prints_screen_and_model_coordinates():
    result = run("parse", "--screen", "1920x1080", CLICK)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["actions"] == [
        {"type": "click", "x": 960.0, "y": 540.0, "button": "left", "count": 1}
    ]
    assert out["model_xy"] == [[658.0, 364.0]]
    assert out["model_size"] == [1316, 728]  # the agent limit, as `agent ground` uses
    assert out["screen_size"] == [1920, 1080]
    assert out["family"] == "qwen2.5-vl"


def test_parse_reads_stdin_and_honours_family_and_max_pixels():
    result = run(
        "parse",
        "--screen",
        "2560x1440",
        "--family",
        "qwen2-vl",
        stdin="<|box_start|>(200,10),(344,143)<|box_end|>",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["actions"][0]["x"] == 696.32
    result = run("parse", "--screen", "1920x1080", "--max-pixels", "1003520", "(658, 364)")
    out = json.loads(result.stdout)
    assert out["model_size"] == [1316, 728]
    assert (out["actions"][0]["x"], out["actions"][0]["y"]) == (960.0, 540.0)


def test_readme_ground_answer_parses_to_the_same_point_without_a_profile():
    """README's `agent ground` example printed model_xy [364, 217] in a 1316x728 frame and
    point [531.06, 321.92]: `agent parse` must map that answer to the same point."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert '"point": [531.06, 321.92]' in readme and '"model_xy": [364, 217]' in readme
    answer = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [364, 217]}}\n</tool_call>'
    )
    for extra in ([], ["--profile", "qwen2.5-vl"], ["--family", "qwen2.5-vl"]):
        out = json.loads(run("parse", "--screen", "1920x1080", *extra, answer).stdout)
        assert out["model_size"] == [1316, 728]
        action = out["actions"][0]
        assert (round(action["x"], 2), round(action["y"], 2)) == (531.06, 321.92)


def test_unparseable_single_input_is_one_line_exit_2():
    result = run("parse", "--screen", "1920x1080", "I am not sure where that is.")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unparseable model answer")
    assert "Traceback" not in result.stderr


def test_bad_options_are_exit_2_without_traceback():
    for args in (["--screen", "big", "x"], ["--screen", "1920x1080", "--family", "gpt5", "x"]):
        result = run("parse", *args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr


def test_batch_file_gives_one_line_per_input(tmp_path: Path):
    batch = tmp_path / "answers.jsonl"
    batch.write_text(
        "\n".join(json.dumps(t) for t in [CLICK, "nothing here", "(10, 20)"]) + "\n",
        encoding="utf-8",
    )
    result = run("parse", "--screen", "1920x1080", "--batch", str(batch))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [False, True, False]
    assert rows[1]["raw"] == "nothing here"
    assert rows[0]["actions"][0]["x"] == 960.0


def test_batch_with_a_bad_line_names_file_and_line(tmp_path: Path):
    batch = tmp_path / "answers.jsonl"
    batch.write_text('"ok"\n{not json\n', encoding="utf-8")
    result = run("parse", "--screen", "1920x1080", "--batch", str(batch))
    assert result.returncode == 2
    assert f"{batch}:2:" in result.stderr


def test_help_documents_the_options():
    result = run("parse", "--help")
    for option in ("--family", "--screen", "--min-pixels", "--max-pixels", "--mobile", "--batch"):
        assert option in result.stdout
    top = run("--help")
    assert "parse" in top.stdout
