"""The locate cache's visual checks and policy, on real screens (a Tk app on Xvfb at 1920x1080).

Each test stores what a grounded step would store (the real `LocateCache` path:
propose, then finish after a successful step), changes the real app (moves the
window, swaps, relabels, recolours buttons) and checks what a lookup decides on
a fresh screenshot. No model here: tests/test_cache_run.py runs whole tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.types import Click, Key, Type
from agent.cache import LocateCache, LocateStore, model_identity
from agent.cache.fingerprint import Screen, search, verify_at
from agent.models.spec import ModelSpec
from agent.trajectory import StepRecord
from tests.fixtures.button_board import start_board

OCR = model_identity(ModelSpec(backend="ocr"))


@pytest.fixture
def desktop(xvfb: Any) -> Iterator[Any]:
    from env.desktop import DesktopEnv

    with DesktopEnv() as env:
        yield env


class Board:
    """The button board on the session's Xvfb, restarted with other buttons on demand."""

    def __init__(self, display: str, tmp: Path) -> None:
        self.display, self.tmp, self.app = display, tmp, None

    def show(self, buttons: tuple[str, ...] = ("save=Save", "open=Open", "close=Close"),
             geometry: str = "+40+40") -> Any:  # fmt: skip
        if self.app is not None:
            self.app.stop()
        self.app = start_board(self.tmp / "board.jsonl", self.display, buttons, geometry=geometry)
        return self.app


@pytest.fixture
def board(xvfb: Any, tmp_path: Path) -> Iterator[Board]:
    b = Board(xvfb.name, tmp_path)
    yield b
    if b.app is not None:
        b.app.stop()


def learn(cache: LocateCache, env: Any, instruction: str, point: tuple[float, float],
          index: int = 1) -> StepRecord:  # fmt: skip
    """What a successful grounded click stores: propose on the screenshot, finish when sent."""
    rec = StepRecord(index=index, verb="click")
    cache.propose(rec, env.observe(), instruction, point, None)
    rec.sent = True
    cache.finish(rec)
    return rec


def look(cache: LocateCache, env: Any, instruction: str) -> tuple[Any, StepRecord]:
    rec = StepRecord(index=99, verb="click")
    return cache.lookup(rec, env.observe(), instruction), rec


def test_unchanged_screen_is_a_hit_and_a_moved_window_is_relocated(desktop, board, tmp_path):
    app = board.show()
    cache = LocateCache(LocateStore(tmp_path / "c"), OCR)
    save = app.center("save")
    assert learn(cache, desktop, "the Save button", save).cache is None  # nothing looked up
    assert (tmp_path / "c" / "cache.yaml").is_file()
    point, rec = look(cache, desktop, "the Save button")
    assert rec.cache.status == "hit" and point == pytest.approx(save, abs=1)
    assert rec.cache.score >= 0.97 and rec.cache.changed <= 0.01

    moved = board.show(geometry="+700+450")
    point, rec = look(cache, desktop, "the Save button")
    assert rec.cache.status == "relocated", rec.cache
    assert point == pytest.approx(moved.center("save"), abs=2)
    dx, dy = moved.widgets["save"].x - app.widgets["save"].x, moved.widgets["save"].y - app.widgets[
        "save"].y  # fmt: skip
    assert rec.cache.moved == pytest.approx((dx, dy), abs=2)


def test_swapped_buttons_never_get_the_old_spot(desktop, board, tmp_path):
    app = board.show()
    old_spot = app.center("save")
    cache = LocateCache(LocateStore(tmp_path / "c"), OCR)
    learn(cache, desktop, "the Save button", old_spot)
    swapped = board.show(("open=Open", "save=Save", "close=Close"))
    assert swapped.center("open") == old_spot  # Open now sits where Save was
    point, rec = look(cache, desktop, "the Save button")
    if point is None:
        assert rec.cache.status == "miss"
    else:
        assert rec.cache.status == "relocated"
        assert point == pytest.approx(swapped.center("save"), abs=2)


@pytest.mark.parametrize(
    "changed", ["save=SAVE", "save=Save as", "save=Save:#ff6060", "save=Save:#60a060"]
)
def test_a_relabelled_or_recoloured_target_matches_nowhere(desktop, board, tmp_path, changed):
    app = board.show()
    cache = LocateCache(LocateStore(tmp_path / "c"), OCR)
    learn(cache, desktop, "the Save button", app.center("save"))
    board.show((changed, "open=Open", "close=Close"))
    point, rec = look(cache, desktop, "the Save button")
    assert point is None and rec.cache.status == "miss", rec.cache
    # the two measures: NCC catches a new label, the colour check a new colour
    entry, crop = cache.snapshot.entries[0], next(iter(cache.snapshot.crops.values()))
    found = verify_at(Screen(desktop.observe().image), crop, entry.crop.x, entry.crop.y)
    assert not found.score.matches
    assert not any(f.score.matches for f in search(Screen(desktop.observe().image), crop))


def test_two_identical_targets_are_a_miss_never_a_guess(desktop, board, tmp_path):
    app = board.show()
    cache = LocateCache(LocateStore(tmp_path / "c"), OCR)
    learn(cache, desktop, "the Save button", app.center("save"))
    # elsewhere on screen now, twice, each with the same surroundings
    twice = board.show(("a=Open", "save=Save", "b=Close", "c=Open", "save2=Save", "d=Close"),
                       geometry="+600+500")  # fmt: skip
    point, rec = look(cache, desktop, "the Save button")
    assert point is None and rec.cache.status == "miss"
    assert "more than one place" in rec.cache.note
    assert twice.center("save") != twice.center("save2")


def test_nothing_is_reused_for_another_instruction_model_or_screen(desktop, board, tmp_path):
    app = board.show()
    folder = tmp_path / "c"
    learn(LocateCache(LocateStore(folder), OCR), desktop, "the Save button", app.center("save"))

    def qwen(**fields: Any) -> Any:
        return model_identity(ModelSpec(backend="qwen", model="Qwen/Qwen2.5-VL-3B-Instruct",
                                        **fields))  # fmt: skip

    others = {
        "instruction": (OCR, "the Open button"),
        "model": (qwen(), "the Save button"),
        "pixels": (qwen(max_pixels=200704), "the Save button"),
        "profile": (qwen(family="ui-tars-1.5"), "the Save button"),
    }
    assert len({identity for identity, _ in others.values()}) == 4
    for what, (identity, instruction) in others.items():
        point, rec = look(LocateCache(LocateStore(folder), identity), desktop, instruction)
        assert point is None and rec.cache.note == "not in the cache", what
    obs = desktop.observe()
    small = obs.model_copy(update={"geometry": obs.geometry.model_copy(update={"width": 1280})})
    rec = StepRecord(index=1, verb="click")
    assert LocateCache(LocateStore(folder), OCR).lookup(rec, small, "the Save button") is None
    android = obs.model_copy(update={"platform": "android"})
    assert LocateCache(LocateStore(folder), OCR).lookup(rec, android, "the Save button") is None
    point, rec = look(LocateCache(LocateStore(folder), OCR), desktop, "the Save button")
    assert rec.cache.status == "hit"  # the same key still is


def test_modes_and_dry_runs(desktop, board, tmp_path):
    app = board.show()
    save = app.center("save")
    for mode in ("read", "off"):
        folder = tmp_path / mode
        learn(LocateCache(LocateStore(folder), OCR, mode), desktop, "the Save button", save)
        assert not folder.exists(), mode
    dry = tmp_path / "dry"
    learn(LocateCache(LocateStore(dry), OCR, dry_run=True), desktop, "the Save button", save)
    assert not dry.exists()
    folder = tmp_path / "w"
    learn(LocateCache(LocateStore(folder), OCR, "write"), desktop, "the Save button", save)
    point, rec = look(LocateCache(LocateStore(folder), OCR, "write"), desktop, "the Save button")
    assert point is None and rec.cache.status == "off"  # write: always ask, refresh
    point, rec = look(LocateCache(LocateStore(folder), OCR, "read"), desktop, "the Save button")
    assert rec.cache.status == "hit"


def test_no_crop_is_stored_where_a_secret_was_typed(desktop, board, tmp_path):
    app = board.show(("save=Save", "open=Open", "close=Close", "p=Print", "s=Share", "q=Quit",
                      "a=Export", "b=Import", "c=Help"))  # fmt: skip
    cache = LocateCache(LocateStore(tmp_path / "c"), OCR)
    open_x, open_y = app.center("open")
    cache.note_action(Click(x=open_x, y=open_y), secret=False)
    cache.note_action(Type(text="hunter2"), secret=True)  # typed where Open was clicked
    rec = learn(cache, desktop, "the Save button", app.center("save"))  # same row
    assert rec.cache is not None and "secret" in rec.cache.note
    assert not (tmp_path / "c").exists()
    learn(cache, desktop, "the Export button", app.center("a"))  # two rows down
    assert [e.instruction for e in cache.snapshot.entries] == ["the Export button"]
    blind = LocateCache(LocateStore(tmp_path / "d"), OCR)
    blind.note_action(Type(text="hunter2"), secret=True)  # no click first: focus unknown
    learn(blind, desktop, "the Export button", app.center("a"))
    assert not (tmp_path / "d").exists()
    tabbed = LocateCache(LocateStore(tmp_path / "e"), OCR)
    tabbed.note_action(Click(x=open_x, y=open_y), secret=False)
    tabbed.note_action(Key(keys=["tab"]), secret=False)  # the focus moved: to where?
    tabbed.note_action(Type(text="hunter2"), secret=True)
    learn(tabbed, desktop, "the Export button", app.center("a"))
    assert not (tmp_path / "e").exists()
