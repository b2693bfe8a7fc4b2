"""One dataset made by `agent dataset make`, built once per test process and shared."""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from tests.conftest import need


@lru_cache(maxsize=4)
def _made(sizes: str, scenes: int, per_scene: int, seed: int) -> Path:
    from agent.cli.main import main

    root = Path(tempfile.mkdtemp(prefix="screenspot-made-"))
    out = root / "data"
    code = main(
        ["dataset", "make", "--out", str(out), "--sizes", sizes, "--scenes", str(scenes),
         "--per-scene", str(per_scene), "--seed", str(seed)]
    )  # fmt: skip
    assert code == 0, "agent dataset make failed"
    return out


def made_dataset(
    sizes: str = "1280x800,1600x900", scenes: int = 2, per_scene: int = 6, seed: int = 7
) -> Path:
    """The folder of a made ScreenSpot-Pro-format dataset (Xvfb needed)."""
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    return _made(sizes, scenes, per_scene, seed)
