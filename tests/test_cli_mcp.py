"""`agent mcp` refuses bad options in one line with exit code 2, before serving anything."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from tests.test_cli_do import xvfb_processes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transport", "ftp"], "--transport 'ftp': use stdio or http"),
        (["--confirm", "maybe"], "--confirm 'maybe': use never, risky or always"),
        (["--profile", "nosuch"], "unknown profile 'nosuch'"),
        (["--virtual-display", "12x"], "invalid screen size '12x'"),
        (["--android", "--virtual-display", "800x600"], "cannot go with --android"),
        (["--adb-port", "5038"], "--adb-host/--adb-port need --android"),
        (["--monitor", "7"], "monitor 7 does not exist"),
        (["--max-side", "10"], "max_side: Input should be greater than or equal to 64"),
        (["--settle", "-1"], "settle: Input should be greater than or equal to 0"),
        (["--transport", "http", "--port", "70000"], "--port 70000: use 0..65535"),
        (
            ["--transport", "http", "--host", "0.0.0.0"],
            "--host 0.0.0.0 is reachable from other machines",
        ),
        (
            ["--backend", "qwen", "--model", "/no/such/folder"],
            "/no/such/folder: no such folder, and not a hub id",
        ),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    xvfb: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("SCREENPILOT_MCP_TOKEN", raising=False)
    assert main(["mcp", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is the MCP channel: nothing else may go there
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err


def test_no_display_and_a_busy_port_and_an_unusable_run_folder(
    xvfb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.delenv("DISPLAY")
        assert main(["mcp"]) == 2
        assert "no display: DISPLAY is not set" in capsys.readouterr().err

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        assert main(["mcp", "--transport", "http", "--port", port]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}:") and err.count("\n") == 1

    unwritable = tmp_path / "a-file"
    unwritable.write_text("x")
    assert main(["mcp", "--virtual-display", "648x480", "--out", str(unwritable)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert xvfb_processes("648x480") == []  # the display it started is stopped again


def test_an_unreachable_adb_server_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    assert main(["mcp", "--android", "--adb-port", port]) == 2


def test_help_lists_the_options() -> None:
    from tests.fixtures.mcp_client import AGENT

    out = subprocess.run([str(AGENT), "mcp", "--help"], capture_output=True, text=True).stdout
    options = ("--transport", "--token", "--android", "--profile", "--confirm", "--out",
               "--allow-run-task", "--confirm-timeout", "--allowed-host")  # fmt: skip
    for option in options:
        assert option in out
