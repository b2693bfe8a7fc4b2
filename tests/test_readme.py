"""Every README code block meant to run runs as written (bash and Python blocks).

A block that cannot run here (it installs packages, needs model weights, a
GPU, a phone or a server waiting for a client) starts with the line
``# not run by the README test: <why>``, which the README's reader sees too.
Blocks run in a fresh folder (with ``tasks/`` linked in, as in a checkout),
``agent`` being this checkout's CLI, with no DISPLAY (examples that need a
screen start their own virtual one) and HOME in the folder (caches). The
Python API example runs twice: a second run must work as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "# not run by the README test:"
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of every fenced block, indentation removed."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        indent = len(match.group(1))
        code = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
        found.append((text.count("\n", 0, match.start()) + 1, match.group(2), code))
    return found


RUNNABLE = [(n, lang, code) for n, lang, code in blocks() if lang in ("bash", "python")]


def test_every_block_not_run_says_why() -> None:
    skipped = [code for _, _, code in RUNNABLE if code.startswith(MARKER)]
    assert all(len(code.splitlines()[0]) > len(MARKER) + 5 for code in skipped)
    assert len(RUNNABLE) - len(skipped) >= 3  # the parse examples and the Python API


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "tasks").symlink_to(ROOT / "tasks")
    shims = tmp_path / "bin"
    shims.mkdir()
    agent = shims / "agent"
    agent.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m agent.cli.main "$@"\n')
    agent.chmod(0o755)
    return tmp_path


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["PATH"] = f"{folder / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["HOME"] = str(folder)
    return env


@pytest.mark.parametrize(
    ("line", "lang", "code"),
    [b for b in RUNNABLE if not b[2].startswith(MARKER)],
    ids=[f"README.md:{n}" for n, _, code in RUNNABLE if not code.startswith(MARKER)],
)
def test_readme_block_runs_as_written(folder: Path, line: int, lang: str, code: str) -> None:
    if lang == "bash":
        argv = ["bash", "-euo", "pipefail", "-c", code]
        runs = 1
    else:
        need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
        pytest.importorskip("rapidocr")
        argv = [sys.executable, "-c", code]
        runs = 2  # a second run of the same script must work too
    for number in range(runs):
        result = subprocess.run(
            argv, cwd=folder, env=_env(folder), capture_output=True, text=True, timeout=600
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"README.md:{line}, run {number + 1}:\n{output}"
        assert "Traceback" not in output, f"README.md:{line}:\n{output}"
    if lang == "python" and 'out="auto"' in code:
        reports = list((folder / "runs").glob("*/report.html"))
        assert len(reports) == runs  # one new run folder per run
