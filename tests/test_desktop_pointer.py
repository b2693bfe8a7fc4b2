"""The fail-safe's cost per action on a real X server: one pointer query, no screen query.

The pointer position and the screen size are X round trips (~0.1-0.5 ms each under
load); they used to be asked twice per click (the env's check and the pointer's), four
round trips. The counts below are of the real requests sent to the real Xvfb.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from actions.types import Click, Key, Move
from env.desktop_pointer import FailSafeError


def counting(obj: Any, name: str, calls: list[str]) -> None:
    real = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    setattr(obj, name, wrapper)


def test_a_click_queries_the_pointer_once_and_the_screen_not_again(event_app) -> None:
    from env.desktop import DesktopEnv

    ok = event_app.center("ok")
    with DesktopEnv() as env:
        env.observe()
        pointer = env.pointer
        calls: list[str] = []
        counting(pointer._root, "query_pointer", calls)
        counting(pointer._root, "get_geometry", calls)
        mark = event_app.mark()
        env.act(Click(x=ok[0], y=ok[1]))
        assert calls == ["query_pointer", "get_geometry"]  # the size, read once
        calls.clear()
        env.act(Click(x=ok[0], y=ok[1]))
        assert calls == ["query_pointer"]
        time.sleep(0.3)
        assert len(event_app.events("press", mark)) == 2


def test_a_click_is_one_round_trip_and_lands(event_app) -> None:
    # The loop's act part: the fail-safe's pointer query is the click's only wait for the
    # server; motion, press and release go out in one flush (there was a sync after them).
    from env.desktop import DesktopEnv

    ok, other = event_app.center("ok"), event_app.center("other")
    with DesktopEnv() as env:
        env.observe()
        pointer = env.pointer
        env.act(Move(x=5, y=5))  # the screen size is known from here on
        calls: list[str] = []
        counting(pointer._root, "query_pointer", calls)
        counting(pointer._root, "get_geometry", calls)
        counting(pointer._display, "sync", calls)
        counting(pointer._display, "flush", calls)
        mark = event_app.mark()
        for target in (ok, other, ok):
            env.act(Click(x=target[0], y=target[1]))
        assert calls == ["query_pointer", "flush"] * 3
    # closed at once: the close waits for the server to take the last click, none is lost
    deadline = time.monotonic() + 10
    while len(event_app.events("press", mark)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    landed = [(e["widget"], e["button"]) for e in event_app.events("press", mark)]
    assert landed == [("ok", 1), ("other", 1), ("ok", 1)]


def test_the_corner_still_stops_every_kind_of_action_with_the_size_kept(event_app) -> None:
    from env.desktop import DesktopEnv

    ok = event_app.center("ok")
    with DesktopEnv() as env:
        pointer = env.pointer
        env.act(Move(x=ok[0], y=ok[1]))  # the screen size is now known to the pointer
        width, height = env.size

        def put(x: int, y: int) -> None:  # as a person moving the mouse would
            pointer._motion(x, y)
            pointer._display.sync()

        try:
            for corner in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
                put(*corner)
                mark = event_app.mark()
                for action in (Click(x=ok[0], y=ok[1]), Key(keys="ctrl+s")):
                    with pytest.raises(FailSafeError, match="corner"):
                        env.act(action)
                time.sleep(0.2)
                assert event_app.events("press", mark) == []
                assert event_app.events("shortcut", mark) == []
        finally:
            put(ok[0], ok[1] + 300)
