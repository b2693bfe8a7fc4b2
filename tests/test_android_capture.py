"""Screen capture and geometry of AndroidEnv against the test adb server."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageChops

from actions.types import Click
from env.android import AndroidEnv, parse_display_state, parse_wm_size
from env.android_capture import (
    CaptureError,
    decode_png,
    decode_raw,
    encode_raw,
    parse_raw_header,
)
from tests.fixtures.android_device import screen_image


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b.convert("RGB")).getbbox() is None


@pytest.fixture(scope="module")
def screen() -> Image.Image:
    return screen_image(108, 240)


@pytest.mark.parametrize("colorspace, header", [(None, 12), (1, 16)])
@pytest.mark.parametrize("fmt", [1, 2, 3, 5])
def test_raw_dump_decodes_to_the_same_pixels(screen, fmt, colorspace, header) -> None:
    data = encode_raw(screen, pixel_format=fmt, colorspace=colorspace)
    parsed = parse_raw_header(data)
    assert (parsed.width, parsed.height, parsed.header_size) == (108, 240, header)
    assert parsed.colorspace == colorspace
    image = decode_raw(data)
    assert image.mode == "RGB"
    assert same(image, screen)


def test_raw_header_fields_are_read_from_the_bytes_screencap_writes() -> None:
    # Hand-made Android 8+ dump: 2x1, RGBA_8888, sRGB, red then blue.
    data = struct.pack("<IIII", 2, 1, 1, 1) + bytes([255, 0, 0, 255, 0, 0, 255, 255])
    assert decode_raw(data).getpixel((0, 0)) == (255, 0, 0)
    assert decode_raw(data).getpixel((1, 0)) == (0, 0, 255)
    # BGRA_8888 stores blue first.
    data = struct.pack("<III", 1, 1, 5) + bytes([255, 0, 0, 255])
    assert decode_raw(data).getpixel((0, 0)) == (0, 0, 255)
    # RGB_565: one little-endian word, red in the high five bits.
    data = struct.pack("<III", 1, 1, 4) + struct.pack("<H", 0xF800)
    assert decode_raw(data).getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x00", "too short"),
        (struct.pack("<IIII", 2, 2, 22, 1) + bytes(32), "pixel format 22"),
        (struct.pack("<III", 2, 2, 1) + bytes(15), "12- or 16-byte header"),
        (struct.pack("<III", 0, 2, 1), "implausible"),
    ],
)
def test_undecodable_raw_dumps_are_refused(data, message) -> None:
    with pytest.raises(CaptureError, match=message):
        decode_raw(data)


def test_png_decodes_and_garbage_is_refused(screen) -> None:
    buf = io.BytesIO()
    screen.save(buf, format="PNG")
    assert same(decode_png(buf.getvalue()), screen)
    with pytest.raises(CaptureError, match="did not return a PNG"):
        decode_png(b"/system/bin/sh: screencap: not found\n")
    with pytest.raises(CaptureError, match="broken PNG"):
        decode_png(buf.getvalue()[:100])


def test_wm_size_and_display_state_parsing() -> None:
    assert parse_wm_size("Physical size: 1080x2400\n") == (1080, 2400)
    assert parse_wm_size("Physical size: 1080x2400\nOverride size: 720x1600\n") == (720, 1600)
    dump = (
        "mViewports=[DisplayViewport{type=INTERNAL, valid=true, displayId=0, "
        "uniqueId='local:4619827259835644672', orientation=1, deviceWidth=2400}, "
        "DisplayViewport{type=EXTERNAL, valid=true, displayId=2, uniqueId='local:77', "
        "orientation=0, deviceWidth=1920}]"
    )
    assert parse_display_state(dump, 0) == (1, "4619827259835644672")
    assert parse_display_state(dump, 2) == (0, "77")
    assert parse_display_state("  mCurrentOrientation=3 orientation=3\n") == (3, None)


def test_observe_uses_raw_exec_out_and_returns_the_phone_screen(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port) as env:
        obs = env.observe()
    assert obs.platform == "android"
    assert obs.geometry.size == (1080, 2400)
    assert same(obs.image, device.screen)
    assert "exec:screencap" in device.services
    assert not any("-p" in s for s in device.services if "screencap" in s)


def test_old_android_12_byte_header_is_read(adb_server) -> None:
    device = adb_server.device()
    device.screencap_colorspace = None
    with AndroidEnv(port=adb_server.port) as env:
        assert same(env.observe().image, device.screen)


def test_undecodable_raw_format_falls_back_to_png_once(adb_server) -> None:
    device = adb_server.device()
    device.screencap_format = 22  # RGBA_FP16 (HDR screens): not decoded here
    with AndroidEnv(port=adb_server.port) as env:
        first = env.observe().image
        second = env.observe().image
    assert same(first, device.screen) and same(second, device.screen)
    caps = [s.split(":", 1)[1] for s in device.services if "screencap" in s]
    assert caps == ["screencap", "screencap -p", "screencap -p"]


def test_capture_mode_png_never_asks_for_raw(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port, capture="png") as env:
        assert same(env.observe().image, device.screen)
    assert [s for s in device.services if "screencap" in s] == ["exec:screencap -p"]


def test_landscape_rotation_swaps_the_geometry_and_taps_land_in_it(adb_server) -> None:
    device = adb_server.device()
    device.rotation = 1
    device.screen = screen_image(2400, 1080)
    with AndroidEnv(port=adb_server.port) as env:
        obs = env.observe()
        assert obs.geometry.size == (2400, 1080) and obs.geometry.rotation == 1
        assert same(obs.image, device.screen)
        env.act(Click(x=2000, y=900))
    assert device.events[-1] == ("tap", 2000.0, 900.0, 0)


def test_override_size_wins(adb_server) -> None:
    device = adb_server.device()
    device.override_size = (720, 1600)
    device.screen = screen_image(720, 1600)
    with AndroidEnv(port=adb_server.port) as env:
        assert env.geometry.size == (720, 1600)
        assert env.observe().image.size == (720, 1600)


def test_capture_at_another_size_becomes_the_geometry_scale(adb_server) -> None:
    # Some phones capture at panel resolution while input uses the override size.
    device = adb_server.device()
    device.override_size = (540, 1200)
    with AndroidEnv(port=adb_server.port) as env:
        obs = env.observe()
        assert obs.geometry.size == (1080, 2400)
        assert obs.geometry.scale == pytest.approx(2.0)
        env.act(Click(x=1000, y=2000))
    assert device.events[-1] == ("tap", 500.0, 1000.0, 0)


def test_secondary_display_uses_its_ids(adb_server) -> None:
    device = adb_server.device()
    device.extra_displays = {2: "11529215046068469761"}
    with AndroidEnv(port=adb_server.port, display=2) as env:
        env.observe()
        env.act(Click(x=5, y=6))
    assert "exec:screencap -d 11529215046068469761" in device.services
    assert ["wm", "size", "-d", "2"] in device.calls
    assert device.events[-1] == ("tap", 5.0, 6.0, 2)


WARNING = (
    b"[Warning] Multiple displays were found, but no display id was specified! "
    b"Defaulting to the first display found.\n"
)


def test_stderr_warnings_before_the_image_are_skipped(screen) -> None:
    # exec-out carries stderr; Android 12+ screencap warns there on multi-display phones.
    for colorspace in (None, 1):
        assert same(decode_raw(WARNING + encode_raw(screen, colorspace=colorspace)), screen)
    buf = io.BytesIO()
    screen.save(buf, format="PNG")
    assert same(decode_png(WARNING + buf.getvalue()), screen)


def test_multi_display_phone_warning_on_exec_out_does_not_break_capture(adb_server) -> None:
    device = adb_server.device()
    device.extra_displays = {2: "11529215046068469761"}
    with AndroidEnv(port=adb_server.port) as env:
        assert same(env.observe().image, device.screen)
    assert [s for s in device.services if "screencap" in s] == ["exec:screencap"]
