"""The cache folder is untrusted input (issue 19.8): links refused, only its own files touched,
reads without the exclusive lock, and the filelock behaviour the store relies on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from actions.project_errors import InputError
from agent.cache import LocateCache, LocateStore
from agent.cache.store import LOCK_FILE
from agent.cli.main import main
from tests.test_cache_store import OCR, label, write

TASK = """name: t
env: {{desktop: {{}}}}
model: {{backend: ocr}}
{cache}
steps:
  - click: the Save button
"""
PRECIOUS = "do not truncate me\n"


@pytest.fixture(autouse=True)
def _caches_beside_their_tasks(monkeypatch) -> None:
    monkeypatch.delenv("SCREENPILOT_LOCATE_CACHE", raising=False)  # as a user has it


def task_file(folder: Path, cache: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "t.yaml"
    path.write_text(TASK.format(cache=cache))
    return path


def one_line_exit_2(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    return err[0]


def test_a_committed_lock_symlink_is_refused_and_its_target_untouched(tmp_path, capsys) -> None:
    task = task_file(tmp_path / "repo")
    folder = tmp_path / "repo" / "t.cache"
    write(folder, ("the Save button", label("Save")))
    target = tmp_path / "victim.txt"
    target.write_text(PRECIOUS)
    (folder / LOCK_FILE).unlink(missing_ok=True)
    (folder / LOCK_FILE).symlink_to(target)
    for act in (LocateStore(folder).load, lambda: LocateStore(folder).clear(),
                lambda: LocateStore(folder).update(lambda e: e, {})):  # fmt: skip
        with pytest.raises(InputError, match="not a plain file"):
            act()
    assert "not a plain file" in one_line_exit_2(["cache", "show", str(task)], capsys)
    assert "not a plain file" in one_line_exit_2(["cache", "clear", str(task)], capsys)
    assert target.read_text() == PRECIOUS
    assert (folder / "cache.yaml").exists()


def test_a_symlinked_cache_folder_or_path_is_refused(tmp_path, capsys) -> None:
    from tasks.loader import load_task
    from tasks.runner import open_cache

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    keep = elsewhere / "0123456789abcdef.png"
    keep.write_bytes(b"someone's picture")
    repo = tmp_path / "repo"
    task = task_file(repo)
    (repo / "t.cache").symlink_to(elsewhere)  # the default folder, committed as a link
    with pytest.raises(InputError, match="symbolic link"):
        open_cache(load_task(task))
    assert "symbolic link" in one_line_exit_2(["cache", "show", str(task)], capsys)
    assert "symbolic link" in one_line_exit_2(["cache", "clear", str(task)], capsys)
    # cache: {path: ...} through a link in the repository
    (repo / "link").symlink_to(elsewhere)
    task = task_file(repo, "cache: {path: link/sub}")
    with pytest.raises(InputError, match="symbolic link"):
        open_cache(load_task(task))
    assert "symbolic link" in one_line_exit_2(["cache", "clear", str(task)], capsys)
    # a cache folder given directly
    assert "symbolic link" in one_line_exit_2(["cache", "clear", str(repo / "link")], capsys)
    assert keep.read_bytes() == b"someone's picture" and not (elsewhere / "sub").exists()


def test_only_crops_the_cache_listed_are_ever_removed(tmp_path) -> None:
    folder = tmp_path / "c"
    store = write(folder, ("Save", label("Save")), ("Open", label("Open")))
    foreign = folder / "0123456789abcdef.png"  # hex-named, but not in cache.yaml
    foreign.write_bytes(b"not ours")
    cache = LocateCache(LocateStore(folder), OCR)
    e = store.load().entries[0]
    cache.add([e.model_copy(update={"instruction": "Open"})], {})  # replaces nothing listed
    store.clear("Save")
    assert foreign.exists()
    assert store.clear() == 2
    assert foreign.read_bytes() == b"not ours"
    assert sorted(p.name for p in folder.iterdir()) == [foreign.name]  # ours gone, theirs kept


def test_clear_touches_only_a_screenpilot_cache(tmp_path, capsys) -> None:
    other = tmp_path / "othertool"
    other.mkdir()
    (other / "cache.yaml").write_text("token: abc\nentries: [1, 2]\n")
    (other / "fedcba9876543210.png").write_bytes(b"x")
    (other / "settings.json").write_text("{}")
    message = one_line_exit_2(["cache", "clear", str(other)], capsys)
    assert "not a screenpilot locate cache" in message and "nothing removed" in message
    assert (other / "cache.yaml").read_text() == "token: abc\nentries: [1, 2]\n"
    assert (other / "fedcba9876543210.png").exists()
    # nor is a cache written into a folder that holds other things
    (other / "cache.yaml").unlink()
    with pytest.raises(InputError, match="not a screenpilot locate cache"):
        LocateCache(LocateStore(other), OCR)
    assert LocateCache(LocateStore(other), OCR, "read").mode == "read"  # reading is harmless


def test_clear_of_a_target_that_is_not_there_says_so_and_exits_2(tmp_path, capsys) -> None:
    task = task_file(tmp_path / "repo")
    write(tmp_path / "repo" / "t.cache", ("the Save button", label("Save")))
    message = one_line_exit_2(["cache", "clear", str(task), "--target", "nope"], capsys)
    assert "no entry for 'nope'" in message and "nothing removed" in message
    assert main(["cache", "clear", str(task), "--target", "the Save button"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out


def test_reads_never_take_the_exclusive_lock_nor_create_the_lock_file(
    tmp_path, monkeypatch, capsys
) -> None:
    import fcntl

    import filelock

    folder = tmp_path / "c"
    write(folder, ("Save", label("Save")))
    (folder / LOCK_FILE).unlink()
    taken: list[str] = []

    class Recording(filelock.FileLock):  # type: ignore[misc, valid-type]
        def acquire(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            taken.append(str(self.lock_file))
            return super().acquire(*args, **kwargs)

    monkeypatch.setattr(filelock, "FileLock", Recording)
    assert len(LocateStore(folder).load().entries) == 1
    assert main(["cache", "show", str(folder)]) == 0
    assert "1 entries" in capsys.readouterr().out
    LocateCache(LocateStore(folder), OCR, "read")
    assert taken == [] and not (folder / LOCK_FILE).exists()
    # With the lock file there, a reader shares it: another reader holding it does not block.
    (folder / LOCK_FILE).touch()
    fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        monkeypatch.setattr("agent.cache.store.LOCK_TIMEOUT", 0.0)
        with monkeypatch.context() as m:
            m.setattr("time.sleep", lambda _s: pytest.fail("a reader waited for another reader"))
            assert len(LocateStore(folder).load().entries) == 1
    finally:
        os.close(fd)
    assert taken == []


# -- the filelock behaviour the store relies on (pyproject's floor) ----------------------------
def test_filelock_does_not_follow_a_lock_symlink(tmp_path) -> None:
    import filelock

    target = tmp_path / "victim.txt"
    target.write_text(PRECIOUS)
    link = tmp_path / ".lock"
    link.symlink_to(target)
    with pytest.raises(OSError):
        filelock.FileLock(str(link), timeout=0.2).acquire()
    assert target.read_text() == PRECIOUS


def test_filelock_keeps_the_lock_file_so_waiters_share_one_inode(tmp_path) -> None:
    """A release that unlinked the file let a waiter lock a dead inode while a newcomer locked a
    new one: two holders. The floor keeps the file, and a lock on an unlinked inode is retried."""
    import filelock

    path = tmp_path / ".lock"
    first = filelock.FileLock(str(path), timeout=1)
    with first:
        inode = path.stat().st_ino
    assert path.exists() and path.stat().st_ino == inode
    second = filelock.FileLock(str(path), timeout=1)
    with second:
        assert path.stat().st_ino == inode
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(str(path), timeout=0.2, is_singleton=False).acquire()


def test_a_row_strip_is_compared_tile_by_tile() -> None:
    """One score over a whole row misses a changed name (a few hundred pixels of ~50000);
    the strip check does not, and still accepts the same row."""
    from PIL import Image, ImageDraw

    from agent.cache.fingerprint import MATCH_CHANGED, Screen, score, strip_matches

    def row(name: str) -> Image.Image:
        image = Image.new("RGB", (900, 56), "#f0f0f0")
        draw = ImageDraw.Draw(image)
        for x, text in ((40, name), (300, "Delete")):
            draw.rectangle((x, 10, x + 120, 46), fill="#d9d9d9", outline="#404040")
            draw.text((x + 20, 22), text, fill="black")
        return image

    alice = np.asarray(row("Alice")).copy()
    bob = Image.new("RGB", (1000, 200), "#f0f0f0")
    bob.paste(row("Bob"), (20, 60))
    whole = score(alice, np.asarray(bob.crop((20, 60, 920, 116))))
    assert whole.changed <= MATCH_CHANGED and whole.ncc > 0.95  # over the whole row: near-blind
    assert not strip_matches(Screen(bob), alice, 20, 60)
    same = Image.new("RGB", (1000, 200), "#f0f0f0")
    same.paste(row("Alice"), (21, 61))  # a pixel of jitter is allowed
    assert strip_matches(Screen(same), alice, 20, 60)
