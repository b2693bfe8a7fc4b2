"""`agent mcp --android` against the tests' adb server, driven by the MCP SDK's own client.

The "phone" is the test adb server's device (real protocol, real adbutils in
the server): what counts is what the device recorded (taps, swipes, key
events, launches, typed text). Its screen shows a label drawn in a real font,
which the offline OCR grounder finds for ``click`` by target.
"""

from __future__ import annotations

import time
from typing import Any

import mcp_types as mt
import pytest
from PIL import ImageDraw, ImageFont

from agent.cli.main import main
from tests.conftest import need
from tests.fixtures.android_device import LATIN_IME, screen_image
from tests.fixtures.mcp_client import (
    AGENT,
    HttpServer,
    http_session,
    image,
    ok,
    run,
    server_env,
    stdio_session,
    text,
)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PHONE_TOOLS = {
    "screenshot", "click", "drag", "scroll", "type_text", "press_key", "locate",
    "elements", "wait_for_text", "swipe", "long_press", "open_app", "press_button",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _installed() -> None:
    need(AGENT.exists(), f"the agent script is not installed next to {AGENT.parent}")


def phone_env(adb_server: Any) -> dict[str, str]:
    """The server finds the test adb server as a user's would (adb's own variable)."""
    return server_env(
        ANDROID_ADB_SERVER_PORT=str(adb_server.port),
        ADBUTILS_ADB_PATH="/nonexistent/adb",  # a stray `adb start-server` would fail loudly
    )


def with_label(text_: str, box: tuple[int, int]) -> tuple[Any, tuple[int, int, int, int]]:
    """The device's screen with a white button labelled `text_` at `box`; and the button."""
    screen = screen_image()
    draw = ImageDraw.Draw(screen)
    font = ImageFont.truetype(FONT, 64)
    x, y = box
    left, top, right, bottom = draw.textbbox((x, y), text_, font=font)
    button = (left - 40, top - 30, right + 40, bottom + 30)
    draw.rectangle(button, fill="white")
    draw.text((x, y), text_, fill="black", font=font)
    return screen, button


def accept(questions: list[str]) -> Any:
    async def elicit(context: Any, params: Any) -> mt.ElicitResult:
        questions.append(params.message)
        return mt.ElicitResult(action="accept", content={"allow": True})

    return elicit


def test_phone_tools_reach_the_device(adb_server: Any) -> None:
    device = adb_server.device()
    device.screen, (x1, y1, x2, y2) = with_label("Settings", (300, 900))
    questions: list[str] = []

    async def body() -> None:
        args = ["mcp", "--android"]
        async with stdio_session(args, env=phone_env(adb_server), elicit=accept(questions)) as s:
            assert {t.name for t in (await s.list_tools()).tools} == PHONE_TOOLS
            shot = ok(await s.call_tool("screenshot", {}))
            assert image(shot).convert("RGB").tobytes() == device.screen.tobytes()
            assert shot.structured_content["platform"] == "android"

            ok(await s.call_tool("click", {"x": 540, "y": 1200}))
            assert device.events[-1] == ("tap", 540.0, 1200.0, 0)
            ok(await s.call_tool("click", {"target": "the Settings button"}))
            kind, tx, ty, _ = device.events[-1]
            assert kind == "tap" and x1 <= tx <= x2 and y1 <= ty <= y2
            ok(await s.call_tool("swipe", {"x": 100, "y": 2000, "to_x": 100, "to_y": 500}))
            assert device.events[-1] == ("swipe", 100.0, 2000.0, 100.0, 500.0, 300, 0)
            ok(await s.call_tool("long_press", {"x": 5, "y": 6, "duration_ms": 800}))
            assert device.events[-1] == ("swipe", 5.0, 6.0, 5.0, 6.0, 800, 0)
            for button, code in (("back", 4), ("home", 3), ("recents", 187)):
                ok(await s.call_tool("press_button", {"button": button}))
                assert device.events[-1] == ("key", code)
            ok(await s.call_tool("press_key", {"keys": "enter"}))
            assert device.events[-1] == ("key", 66)
            ok(await s.call_tool("type_text", {"text": "héllo 你好"}))
            assert device.typed.endswith("héllo 你好")
            assert device.current_ime == LATIN_IME  # the user's keyboard is back

            assert questions == []
            ok(await s.call_tool("open_app", {"app": "Settings"}))  # risky: asked first
            assert device.events[-1] == ("launch", "com.android.settings")
            assert questions == [
                "screenpilot wants to: open_app(app='Settings') — opens the app 'Settings'. "
                "Allow it?"
            ]

    run(body)


def test_bad_calls_send_nothing_to_the_phone(
    adb_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    device = adb_server.device()
    port = str(adb_server.port)
    cases = [
        ("click", {"x": 1080, "y": 5}, ["tap", "1080", "5"]),
        ("press_key", {"keys": "f13"}, ["key", "f13"]),
        ("press_key", {"keys": "nosuchkey"}, ["key", "nosuchkey"]),
        ("open_app", {"app": "No Such App"}, ["open", "No Such App"]),
        ("swipe", {"x": 1, "y": 1, "to_x": 1, "to_y": 2400}, ["swipe", "1", "1", "1", "2400"]),
    ]
    expected = []
    for _, _, cli in cases:
        assert main(["do", "--android", "--adb-port", port, *cli]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        expected.append(err[len("error: ") :].rstrip("\n"))
    device.calls.clear()

    async def body() -> list[str]:
        answers = []
        args = ["mcp", "--android", "--confirm", "never"]
        async with stdio_session(args, env=phone_env(adb_server)) as s:
            for name, arguments, _ in cases:
                result = await s.call_tool(name, arguments)
                assert result.is_error
                answers.append(text(result))
            missing = await s.call_tool("click", {"target": "Zebra Quux Frobnicator"})
            assert missing.is_error and text(missing).startswith("could not find")
            assert not device.events
            assert not [c for c in device.calls if c[0] in ("input", "am", "monkey")]
            ok(await s.call_tool("click", {"x": 10, "y": 20}))  # still serving
            assert device.events == [("tap", 10.0, 20.0, 0)]
        return answers

    assert run(body) == expected


def test_dry_run_on_a_phone_sends_nothing(adb_server: Any) -> None:
    device = adb_server.device()

    async def body() -> None:
        args = ["mcp", "--android", "--dry-run", "--confirm", "never"]
        async with stdio_session(args, env=phone_env(adb_server)) as s:
            for name, arguments in (
                ("click", {"x": 10, "y": 10}),
                ("swipe", {"x": 1, "y": 1, "to_x": 100, "to_y": 100}),
                ("type_text", {"text": "nope"}),
                ("press_button", {"button": "home"}),
                ("open_app", {"app": "Settings"}),
            ):
                assert text(ok(await s.call_tool(name, arguments))).startswith("dry run")
        time.sleep(0.2)
        assert not device.events and not device.typed

    run(body)


def test_phone_over_http(adb_server: Any) -> None:
    device = adb_server.device()
    with HttpServer(["--android", "--port", "0"], phone_env(adb_server)) as server:

        async def body() -> None:
            async with http_session(server.url) as s:
                names = {t.name for t in (await s.list_tools()).tools}
                assert {"swipe", "open_app", "press_button"} <= names
                ok(await s.call_tool("click", {"x": 7, "y": 8}))
                ok(await s.call_tool("press_button", {"button": "back"}))

        run(body)
    assert device.events == [("tap", 7.0, 8.0, 0), ("key", 4)]
