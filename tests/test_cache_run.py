"""`agent run` with the locate cache, end to end: a real Tk app on Xvfb, a model that counts.

The model is a chat-completions server (tests/fixtures/grounding_server.py) that
grounds with OCR and answers as Qwen2.5-VL does, reached by the real OpenAI
backend of a real `agent run` process; it counts every request. What reached
the app is read from the app's own log (tests/apps/button_board.py): which
button's command ran, and where each press landed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.fixtures.button_board import BUTTONS, clicked, start_board
from tests.fixtures.run_logs import steps_of

ROOT = Path(__file__).resolve().parents[1]
TASK = """name: board
env: {{desktop: {{}}}}
model: {{backend: openai, base_url: '{url}', model: Qwen/Qwen2.5-VL-7B-Instruct, timeout: 120}}
steps:
  - click: the Save button
  - click: the Open button
  - click: the Close button
settle: 0.5
"""


@pytest.fixture
def setup(xvfb_session: Any, grounding_server: Any, tmp_path: Path) -> Any:
    need(__import__("shutil").which("xdotool") is not None, "xdotool is not installed")
    task = tmp_path / "board.yaml"
    task.write_text(TASK.format(url=grounding_server.base_url))

    class Setup:
        server = grounding_server
        display = xvfb_session.name
        app: Any = None
        runs = 0

        def show(self, buttons: tuple[str, ...] = BUTTONS, geometry: str = "+40+40") -> Any:
            if self.app is not None:
                self.app.stop()
            log = tmp_path / f"app{len(list(tmp_path.glob('app*.jsonl')))}.jsonl"  # one per app
            self.app = start_board(log, self.display, buttons, geometry=geometry)
            return self.app

        def run(self, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
            """`agent run board.yaml`, its cache beside the task file as a user has it."""
            self.runs += 1
            out = tmp_path / f"run{self.runs}"
            env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
            env["DISPLAY"] = self.display
            result = subprocess.run(
                [sys.executable, "-m", "agent.cli.main", "run", str(task), "--out", str(out),
                 *extra],
                capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
            )  # fmt: skip
            return result, out

    s = Setup()
    yield s
    if s.app is not None:
        s.app.stop()


def cache_status(run_dir: Path) -> list[str]:
    return [s["cache"]["status"] for s in steps_of(run_dir)]


def landed(app: Any, since: int) -> list[str | None]:
    """The widget each press went to."""
    return [e["widget"] for e in app.events("press", since)]


def test_the_second_run_makes_no_model_call_and_every_click_lands(setup, tmp_path) -> None:
    app = setup.show()
    first, run1 = setup.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert setup.server.calls == 3
    assert clicked(app) == ["save", "open", "close"]
    assert cache_status(run1) == ["miss", "miss", "miss"]
    assert all(s["cache"]["stored"] for s in steps_of(run1))
    cache_file = tmp_path / "board.cache" / "cache.yaml"  # beside the task file
    assert len(list(cache_file.parent.glob("*.png"))) == 3
    before = cache_file.read_bytes()

    mark = app.mark()
    second, run2 = setup.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert setup.server.calls == 3  # not one more
    assert clicked(app, mark) == ["save", "open", "close"]
    assert landed(app, mark) == ["save", "open", "close"]
    assert cache_status(run2) == ["hit", "hit", "hit"]
    assert all(s["model"] is None for s in steps_of(run2))
    assert "model calls: 0 made, 3 saved by the cache" in second.stdout
    assert cache_file.read_bytes() == before  # hits leave the committed file alone
    info = json.loads((run2 / "run.json").read_text())
    assert info["model_calls"] == 0 and info["cache"]["hits"] == 3
    assert 'class="badge hit"' in (run2 / "report.html").read_text()

    mark = app.mark()
    third, run3 = setup.run("--cache", "off")
    assert third.returncode == 0, third.stdout + third.stderr
    assert setup.server.calls == 6 and cache_status(run3) == ["off", "off", "off"]
    assert clicked(app, mark) == ["save", "open", "close"]


def test_a_moved_window_is_found_again_and_the_clicks_still_land(setup) -> None:
    app = setup.show()
    assert setup.run()[0].returncode == 0 and setup.server.calls == 3
    moved = setup.show(geometry="+600+420")
    shift = (moved.widgets["save"].x - app.widgets["save"].x,
             moved.widgets["save"].y - app.widgets["save"].y)  # fmt: skip
    result, run = setup.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert setup.server.calls == 3
    assert clicked(moved) == ["save", "open", "close"]
    assert landed(moved, 0) == ["save", "open", "close"]
    steps = steps_of(run)
    assert [s["cache"]["status"] for s in steps] == ["relocated"] * 3
    assert all(s["cache"]["moved"] == pytest.approx(shift, abs=2) for s in steps)
    mark = moved.mark()
    result, run = setup.run()  # the new place was remembered
    assert result.returncode == 0 and cache_status(run) == ["hit"] * 3
    assert clicked(moved, mark) == ["save", "open", "close"]


def test_swapped_buttons_never_get_the_old_spot(setup) -> None:
    app = setup.show()
    assert setup.run()[0].returncode == 0
    old_save = app.widgets["save"]
    swapped = setup.show(("open=Open", "save=Save", "close=Close"))
    assert swapped.widgets["open"] == old_save  # Open now sits where Save was
    result, run = setup.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert clicked(swapped) == ["save", "open", "close"]
    assert landed(swapped, 0) == ["save", "open", "close"]
    assert set(cache_status(run)[:2]) <= {"relocated", "miss"}


@pytest.mark.parametrize("change", ["save=SAVE", "save=Save:#ff6060"], ids=["relabel", "recolour"])
def test_a_relabelled_or_recoloured_target_is_grounded_again(setup, change) -> None:
    setup.show()
    assert setup.run()[0].returncode == 0 and setup.server.calls == 3
    app = setup.show((change, "open=Open", "close=Close"))
    result, run = setup.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert setup.server.calls == 4
    assert setup.server.requests[-1]["instruction"] == "the Save button"
    assert cache_status(run) == ["miss", "hit", "hit"]
    assert steps_of(run)[0]["cache"]["stored"]
    assert clicked(app) == ["save", "open", "close"]
    assert "model calls: 1 made, 2 saved by the cache" in result.stdout
    mark = app.mark()
    result, run = setup.run()  # the entry was refreshed: nothing to ask now
    assert result.returncode == 0 and setup.server.calls == 4
    assert cache_status(run) == ["hit"] * 3 and clicked(app, mark) == ["save", "open", "close"]


def test_a_corrupt_cache_file_stops_before_anything_is_sent(setup, tmp_path) -> None:
    app = setup.show()
    cache_file = tmp_path / "board.cache" / "cache.yaml"
    cache_file.parent.mkdir()
    cache_file.write_text("format: screenpilot-locate-cache\nversion: 1\nentries: [{point: }\n")
    result, run = setup.run()
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {cache_file}:"), result.stderr
    assert "Traceback" not in result.stderr
    assert not run.exists() and setup.server.calls == 0 and app.events("press") == []

    off, run = setup.run("--cache", "off")  # a cache that is not read cannot be in the way
    assert off.returncode == 0 and clicked(app) == ["save", "open", "close"]

    def cache(verb: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SCREENPILOT_LOCATE_CACHE": ""}  # beside the task, as `run` had it
        argv = [sys.executable, "-m", "agent.cli.main", "cache", verb, str(tmp_path / "board.yaml")]
        return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)

    shown = cache("show")
    assert shown.returncode == 2 and str(cache_file) in shown.stderr
    cleared = cache("clear")
    assert cleared.returncode == 0 and "removed the unreadable" in cleared.stdout
    mark = app.mark()
    again, run = setup.run()
    assert again.returncode == 0 and cache_status(run) == ["miss"] * 3
    assert clicked(app, mark) == ["save", "open", "close"]
    shown = cache("show")
    assert shown.returncode == 0 and "3 entries" in shown.stdout
    assert "'the Open button'" in shown.stdout


def test_the_python_api_caches_by_default(xvfb, grounding_server, tmp_path) -> None:
    from agent import Agent
    from agent.cache import api_folder

    need(__import__("shutil").which("xdotool") is not None, "xdotool is not installed")
    app = start_board(tmp_path / "app.jsonl", xvfb.name)
    model = {"backend": "openai", "base_url": grounding_server.base_url,
             "model": "Qwen/Qwen2.5-VL-7B-Instruct"}  # fmt: skip
    name = f"api-{tmp_path.name}"
    try:
        for cache, expected in (("auto", 3), ("auto", 0), (None, 3)):  # learn, reuse, none
            with Agent.desktop(model=model, name=name, settle=0.3, cache=cache) as agent:
                for label in ("Save", "Open", "Close"):
                    agent.click(f"the {label} button")
                assert agent.model_calls == expected
        assert grounding_server.calls == 6
        assert (api_folder(name) / "cache.yaml").is_file()
        assert clicked(app) == ["save", "open", "close"] * 3
    finally:
        app.stop()
