"""Real Debian GTK/X apps on the agent's private display, through task files and `agent run`.

What a newcomer tries first (issue 24): a calculator that gets typed keys right
after launch, an editor whose title can be waited for and whose Save dialog saves
a file, a zenity entry that receives exactly what was typed. These need the
window manager the agent starts on its displays (openbox: focus, titles, dialogs
kept on screen). The OCR backend reads the screen; nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need

AGENT = Path(sys.executable).with_name("agent")


def agent_run(task: Path, out: Path) -> subprocess.CompletedProcess[str]:
    # apps keep settings and sessions in HOME (mousepad asks to restore a session that another
    # run left unfinished): each run starts from the apps' defaults in a home of its own
    home = out.parent / "home"
    home.mkdir(exist_ok=True)
    drop = ("DISPLAY", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["HOME"] = str(home)
    return subprocess.run(
        [str(AGENT), "run", str(task), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def needs(*programs: str) -> None:
    pytest.importorskip("rapidocr")
    for program in ("Xvfb", "openbox", *programs):
        need(shutil.which(program) is not None, f"{program} is not installed (scripts/setup.sh)")


def write_task(folder: Path, size: str, steps: str, name: str = "app") -> Path:
    task = folder / f"{name}.yaml"
    task.write_text(
        f"name: {name}\nenv: {{desktop: {{virtual_display: {size}}}}}\n"
        f"model: {{backend: ocr}}\ntimeout: 240\nsteps:\n{steps}"
    )
    return task


def test_calculator_computes_keys_typed_right_after_launch(tmp_path: Path) -> None:
    needs("galculator")
    task = write_task(tmp_path, "1280x800", '  - launch: galculator\n  - type: "7+5="\n'
                      '  - assert: {text: "12", timeout: 30}\n')  # fmt: skip
    result = agent_run(task, tmp_path / "run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_zenity_entry_receives_exactly_what_was_typed(tmp_path: Path) -> None:
    # The example's command line: `--entry-text ""` must stay empty (not the task folder),
    # and the typed text must reach the entry without clicking it first.
    needs("zenity")
    wrapper = tmp_path / "print_to.sh"
    wrapper.write_text('#!/bin/sh\nout="$1"; shift; exec "$@" > "$out"\n')
    wrapper.chmod(0o755)
    printed = tmp_path / "zenity.out"
    task = write_task(
        tmp_path,
        "1280x800",
        f'  - launch: [./print_to.sh, "{printed}", zenity, --entry, --title, Rename,\n'
        '             --text, "New file name:", --entry-text, ""]\n'
        "  - wait_for: {text: New file name, timeout: 30}\n"
        "  - type: report-2024.txt\n"
        "  - key: enter\n"
        "  - wait: 1\n",
    )
    result = agent_run(task, tmp_path / "run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed.read_text().strip() == "report-2024.txt"


def test_editor_title_and_save_dialog_at_1920x1080(tmp_path: Path) -> None:
    needs("mousepad")
    saved = tmp_path / "saved" / "notes.txt"
    saved.parent.mkdir()
    task = write_task(
        tmp_path,
        "1920x1080",
        "  - launch: mousepad\n"
        '  - wait_for: {text: "Untitled", timeout: 60}\n'  # the window's title bar
        '  - type: "hello from screenpilot"\n'
        "  - key: ctrl+s\n"
        '  - wait_for: {text: "Save As", timeout: 60}\n'
        f'  - type: "{saved}"\n'
        # a click, not Enter: Enter may first accept the name field's completion popup
        '  - click: "the Save button"\n'
        "  - wait: 2\n",
    )
    result = agent_run(task, tmp_path / "run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert saved.read_text() == "hello from screenpilot"


def test_a_dialog_as_tall_as_the_screen_keeps_its_title_and_buttons(tmp_path: Path) -> None:
    # At 1280x800 mousepad's Save dialog is taller than the screen: the window manager
    # fits it, so its title bar and its bottom row of buttons are both readable.
    needs("mousepad")
    task = write_task(
        tmp_path,
        "1280x800",
        "  - launch: mousepad\n"
        '  - wait_for: {text: "Untitled", timeout: 60}\n'
        "  - key: ctrl+s\n"
        '  - wait_for: {text: "Save As", timeout: 60}\n'
        '  - assert: "Cancel"\n'
        '  - assert: "Encoding"\n',
    )
    result = agent_run(task, tmp_path / "run")
    assert result.returncode == 0, result.stdout + result.stderr
