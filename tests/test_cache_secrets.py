"""A `${VAR}` in a click target never reaches the locate cache in clear (issue 19.6).

A real `agent run` (ocr backend, which may see secrets) clicks a Tk button on Xvfb
with a target that names a secret; the cache must still work (second run: a hit),
and neither cache.yaml, any file beside it, nor `agent cache show` (text or JSON)
may hold the secret in any encoding the redactor masks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.secrets import encodings
from tests.conftest import need
from tests.fixtures.button_board import clicked, start_board
from tests.fixtures.run_logs import steps_of

ROOT = Path(__file__).resolve().parents[1]
SECRET = "alice-Hunter22 acct"
TASK = """name: secret target
env: {desktop: {}}
model: {backend: ocr}
steps:
  - click: 'the "Open" button of ${SP_ACCOUNT}'
  - click: the Save button
settle: 0.5
"""


def run(task: Path, out: Path, display: str, config: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    env.update(DISPLAY=display, SP_ACCOUNT=SECRET, XDG_CONFIG_HOME=str(config))
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", *args, str(task), *(["--out", str(out)]
         if args == ("run",) else [])],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip


def leaks(text: str) -> list[str]:
    return sorted(form for form in encodings(SECRET) if form in text)


def test_a_secret_in_a_target_is_hashed_in_the_cache_and_never_shown(
    xvfb_session, tmp_path
) -> None:
    pytest.importorskip("rapidocr")
    need(__import__("shutil").which("xdotool") is not None, "xdotool is not installed")
    task = tmp_path / "secret.yaml"
    task.write_text(TASK)
    config = tmp_path / "config"
    app = start_board(tmp_path / "app.jsonl", xvfb_session.name)
    try:
        first = run(task, tmp_path / "run1", xvfb_session.name, config, "run")
        assert first.returncode == 0, first.stdout + first.stderr
        steps = steps_of(tmp_path / "run1")
        assert steps[0]["cache"]["status"] == "miss" and steps[0]["cache"]["stored"], steps
        mark = app.mark()
        second = run(task, tmp_path / "run2", xvfb_session.name, config, "run")
        assert second.returncode == 0, second.stdout + second.stderr
        assert steps_of(tmp_path / "run2")[0]["cache"]["status"] == "hit"  # still cached
        assert clicked(app, mark) == ["open", "save"]
    finally:
        app.stop()
    folder = tmp_path / "secret.cache"
    text = (folder / "cache.yaml").read_text()
    assert "instruction: secret:" in text, text
    for path in folder.iterdir():
        assert leaks(path.read_bytes().decode("latin-1")) == [], path
    show = run(task, tmp_path, xvfb_session.name, config, "cache", "show")
    as_json = run(task, tmp_path, xvfb_session.name, config, "cache", "show", "--json")
    assert show.returncode == 0 and as_json.returncode == 0, show.stderr + as_json.stderr
    assert "secret:" in show.stdout
    assert leaks(show.stdout + show.stderr + as_json.stdout + as_json.stderr) == []
    # The key lives with the user, not in the (committable) cache folder.
    assert (config / "screenpilot" / "locate-cache.key").stat().st_mode & 0o077 == 0
    assert not any(leaks(p.read_text(errors="replace")) for p in (tmp_path / "run2").rglob("*")
                   if p.is_file() and p.suffix in (".json", ".jsonl", ".html"))  # fmt: skip
