"""The locate cache on disk: hand-edited, corrupt and foreign files, crops, two writers at once."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from actions.project_errors import InputError
from agent.cache import LocateCache, LocateStore, model_identity
from agent.cache.identity import ScreenIdentity
from agent.cache.store import MAX_VARIANTS, CropRef, Entry, crop_digest, crop_file
from agent.models.spec import ModelSpec

ROOT = Path(__file__).resolve().parents[1]
OCR = model_identity(ModelSpec(backend="ocr"))


def label(text: str, colour: str = "#d9d9d9") -> np.ndarray:
    """A 96x48 crop of a button with `text` on it."""
    image = Image.new("RGB", (96, 48), "#f0f0f0")
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 88, 40), fill=colour, outline="#404040")
    draw.text((20, 18), text, fill="black")
    return np.asarray(image).copy()


def entry(instruction: str, pixels: np.ndarray, x: int = 100, y: int = 100) -> Entry:
    sha = crop_digest(pixels)
    return Entry(
        instruction=instruction,
        model=OCR,
        platform="desktop",
        screen=ScreenIdentity(width=1920, height=1080),
        point=(x + 48, y + 24),
        crop=CropRef(file=crop_file(sha), x=x, y=y, width=96, height=48, sha256=sha),
    )


def write(folder: Path, *items: tuple[str, np.ndarray]) -> LocateStore:
    store = LocateStore(folder)
    entries = [entry(text, pixels) for text, pixels in items]
    store.update(lambda current: current + entries, {e.crop.sha256: p for e, (_, p) in
                                                     zip(entries, items, strict=True)})  # fmt: skip
    return store


def test_a_written_cache_reads_back_and_is_plain_reviewable_yaml(tmp_path: Path) -> None:
    store = write(tmp_path / "c", ("the Save button", label("Save")), ("Open", label("Open")))
    text = store.file.read_text()
    assert text.startswith("# screenpilot locate cache")
    data = yaml.safe_load(text)
    assert [e["instruction"] for e in data["entries"]] == ["the Save button", "Open"]
    assert sorted(p.name for p in (tmp_path / "c").glob("*.png")) == sorted(
        e["crop"]["file"] for e in data["entries"]
    )
    snapshot = LocateStore(tmp_path / "c").load()
    assert len(snapshot.crops) == 2
    assert not list((tmp_path / "c").glob(".*.tmp"))  # atomic writes leave nothing behind


GOOD_HEAD = "format: screenpilot-locate-cache\nversion: 1\nentries:\n"
BAD = {
    "syntax": ("entries: [\n  {a: 1\n", 3, "yaml"),
    "foreign": ("name: demo\nenv: {desktop: {}}\nsteps: [{key: a}]\n", None, "not a screenpilot"),
    "newer": ("format: screenpilot-locate-cache\nversion: 7\nentries: []\n", None, "newer"),
    "bad point": (None, 12, "entries[0].point"),
    "path in crop": (None, 14, "entries[0].crop.file"),
    "unknown key": (None, 7, "unknown key"),
    "point off its crop": (None, 7, "point [900.0, 124.0] is outside its crop"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_corrupt_foreign_or_hand_broken_file_is_one_line_naming_file_and_line(tmp_path, case):
    folder = tmp_path / "c"
    store = write(folder, ("the Save button", label("Save")))
    text, line, words = BAD[case]
    good = store.file.read_text()
    if case == "bad point":
        text = good.replace("point: [148.0, 124.0]", "point: [148.0, lots]")
    elif case == "path in crop":
        text = good.replace(f"file: {crop_file(store.load().entries[0].crop.sha256)}",
                            "file: ../../outside.png")  # fmt: skip
    elif case == "point off its crop":  # a hit would check one place and click another
        text = good.replace("point: [148.0, 124.0]", "point: [900.0, 124.0]")
    elif case == "unknown key":
        text = good.replace("- instruction:", "- colour: red\n  instruction:")
    assert text != good
    store.file.write_text(text)
    with pytest.raises(InputError) as caught:
        LocateStore(folder).load()
    message = str(caught.value)
    assert "\n" not in message and words in message, message
    where = f"{store.file}:{line}: " if line else f"{store.file}: "
    assert message.startswith(where), message
    assert "agent cache clear" in message


def test_missing_or_altered_crops_drop_only_their_entries(tmp_path, caplog) -> None:
    folder = tmp_path / "c"
    store = write(folder, ("Save", label("Save")), ("Open", label("Open")), ("Quit", label("Quit")))
    entries = store.load().entries
    (folder / entries[0].crop.file).unlink()
    Image.fromarray(label("Opem")).save(folder / entries[1].crop.file)  # same size, other picture
    with caplog.at_level(logging.WARNING):
        snapshot = LocateStore(folder).load()
    assert set(snapshot.crops) == {entries[2].crop.sha256}
    assert len(snapshot.entries) == 3  # the file itself is fine
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert entries[0].crop.file in messages and "missing" in messages
    assert entries[1].crop.file in messages and "checksum" in messages


def test_a_symlinked_crop_is_not_followed(tmp_path) -> None:
    folder = tmp_path / "c"
    pixels = label("Save")
    store = write(folder, ("Save", pixels))
    name = store.load().entries[0].crop.file
    outside = tmp_path / "elsewhere.png"
    (folder / name).rename(outside)
    (folder / name).symlink_to(outside)
    assert LocateStore(folder).load().crops == {}


def test_variants_per_instruction_are_capped_newest_first(tmp_path) -> None:
    cache = LocateCache(LocateStore(tmp_path / "c"), OCR)
    texts = [f"Save {i}" for i in range(MAX_VARIANTS + 2)]
    for text in texts:
        e = entry("the Save button", label(text))
        cache.add([e], {e.crop.sha256: label(text)})
    kept = LocateStore(tmp_path / "c").load()
    want = [crop_digest(label(t)) for t in reversed(texts)][:MAX_VARIANTS]
    assert [e.crop.sha256 for e in kept.entries] == want
    assert len(list((tmp_path / "c").glob("*.png"))) == MAX_VARIANTS  # the rest removed


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from tests.test_cache_store import entry, label
    from agent.cache import LocateStore
    store = LocateStore(sys.argv[1])
    for i in range(int(sys.argv[4])):
        pixels = label(f"{sys.argv[2]} {i}")
        e = entry(f"{sys.argv[2]} {i}", pixels)
        store.update(lambda current, e=e: current + [e], {e.crop.sha256: pixels})
    """
)


def test_two_runs_writing_at_once_lose_nothing_and_corrupt_nothing(tmp_path) -> None:
    folder, count = tmp_path / "c", 15
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(folder), tag, str(ROOT), str(count)])
        for tag in ("first", "second")
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    snapshot = LocateStore(folder).load()
    names = sorted(e.instruction for e in snapshot.entries)
    assert names == sorted(f"{t} {i}" for t in ("first", "second") for i in range(count))
    assert len(snapshot.crops) == 2 * count
    assert not list(folder.glob(".*.tmp"))


def test_clear_one_instruction_everything_or_an_unreadable_file(tmp_path) -> None:
    folder = tmp_path / "c"
    store = write(folder, ("Save", label("Save")), ("Open", label("Open")))
    assert store.clear("Save") == 1
    assert [e.instruction for e in store.load().entries] == ["Open"]
    assert len(list(folder.glob("*.png"))) == 1
    assert store.clear() == 1 and not folder.exists()
    store = write(folder, ("Save", label("Save")))
    store.file.write_text(store.file.read_text().replace("version: 1", "version: ["))
    with pytest.raises(InputError):
        store.clear("Save")
    assert store.clear() is None and not folder.exists()
