"""The Android transport seam: gesture maths in AndroidEnv, sending in a transport.

A second transport plugs in without touching the env: here one that records what it is
asked to send (as a scrcpy control socket would be), on the tests' adb server.
"""

from __future__ import annotations

from actions.types import Click, Key, LongPress, Scroll, SystemButton
from env.android import AndroidEnv


class RecordingTransport:
    """An `AndroidTransport` that keeps each touch and key instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[tuple[object, ...]] = []

    def tap(self, x: int, y: int, *, count: int = 1) -> None:
        self.sent.append(("tap", x, y, count))

    def swipe(self, x1: int, y1: int, x2: int, y2: int, *, ms: int) -> None:
        self.sent.append(("swipe", x1, y1, x2, y2, ms))

    def keys(self, codes: list[str]) -> None:
        self.sent.append(("keys", *codes))


def test_a_second_transport_gets_the_gestures_and_adb_input_gets_nothing(adb_server) -> None:
    device = adb_server.device()
    transport = RecordingTransport()
    with AndroidEnv(port=adb_server.port, transport=transport) as env:
        width, height = env.size
        env.act(Click(x=540, y=1200, count=2))
        env.act(LongPress(x=width + 0.4 - 1, y=10, duration=0.5))  # clamped to the screen
        env.act(Scroll(amount=-1))
        env.act(Key(keys="volume_up"))
        env.act(SystemButton(button="home"))
    assert transport.sent[0] == ("tap", 540, 1200, 2)
    assert transport.sent[1] == ("swipe", width - 1, 10, width - 1, 10, 500)
    kind, x1, y1, x2, y2, ms = transport.sent[2]
    assert kind == "swipe" and x1 == x2 == width // 2 and y1 > y2  # wheel down: finger up
    assert transport.sent[3:] == [("keys", "KEYCODE_VOLUME_UP"), ("keys", "KEYCODE_HOME")]
    assert [argv for argv in device.calls if argv[0] == "input"] == []
