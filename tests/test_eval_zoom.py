"""Zoom-in windows: where the crop goes, how its points map back, and the size option."""

from __future__ import annotations

import pytest
from PIL import Image

from actions.project_errors import InputError
from agent.eval.zoom import parse_zoom_size, tile_windows, zoom_window, zoomed_image


def test_window_is_centred_on_the_guess_and_kept_on_the_image() -> None:
    w = zoom_window((3840, 2160), (1000, 700), (0.5, 0.5))
    assert w.box == (40, 160, 1960, 1240)
    assert w.size == (3840, 2160) and w.scale == 2.0
    corner = zoom_window((3840, 2160), (3800, 20), (0.5, 0.5))
    assert corner.box == (1920, 0, 3840, 1080)
    fixed = zoom_window((1920, 1080), (960, 540), (640, 360))
    assert fixed.box == (640, 360, 1280, 720) and fixed.size == (1920, 1080)


def test_points_on_the_zoomed_crop_map_back_to_the_same_pixels() -> None:
    image = Image.new("RGB", (1600, 900), "white")
    image.putpixel((1234, 321), (255, 0, 0))
    window = zoom_window(image.size, (1200, 300), (0.25, 0.25))
    zoomed = zoomed_image(image, window)
    assert zoomed.size == window.size
    # the red pixel's centre in the zoomed crop maps back onto the red pixel
    scale = window.scale
    zx = (1234 - window.box[0] + 0.5) * scale
    zy = (321 - window.box[1] + 0.5) * zoomed.height / (window.box[3] - window.box[1])
    x, y = window.to_image((zx, zy))
    assert (int(x), int(y)) == (1234, 321)
    # Off the crop stays off it (never clamped): crop (1000, 188)-(1400, 413) seen at 4x, so
    # (-50, 10000) is 1000 - 50 / 4 = 987.5 and 188 + 10000 / 4 = 2688.
    assert window.box == (1000, 188, 1400, 413) and window.size == (1600, 900)
    assert window.to_image((-50, 10_000)) == (987.5, 2688.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("0.5", (0.5, 0.5)), (".25", (0.25, 0.25)), ("1024", (1024, 1024)),
     ("960x540", (960, 540))],
)  # fmt: skip
def test_zoom_size_option(text, expected) -> None:
    assert parse_zoom_size(text) == expected


@pytest.mark.parametrize("text", ["2", "0.01", "big", "10x"])
def test_bad_zoom_size_is_an_input_error(text) -> None:
    with pytest.raises(InputError, match="--zoom-size"):
        parse_zoom_size(text)


def test_quadrant_search_windows_cover_the_whole_image() -> None:
    tiles = tile_windows((2560, 1440), None)
    assert [t.box for t in tiles] == [
        (0, 0, 1280, 720), (1280, 0, 2560, 720), (0, 720, 1280, 1440), (1280, 720, 2560, 1440),
    ]  # fmt: skip
    assert all(t.size == (2560, 1440) for t in tiles)
