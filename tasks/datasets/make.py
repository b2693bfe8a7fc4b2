"""`agent dataset make`: a ScreenSpot-Pro-format dataset from real app screens under Xvfb.

For each screen size an Xvfb display is started; each scene renders a Tk
desktop with an application window (and, where zenity and AT-SPI are
available, a GTK dialog on top), is captured with mss, and a seeded choice
of its visible, unambiguous widgets becomes text and icon samples with
English and Chinese instructions. The result is the folder layout the
ScreenSpot-Pro harness reads: ``annotations/<app>_linux.json`` and
``images/linux_<W>x<H>/scene_<n>.png``, plus ``dataset.json`` (how it was made).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import random
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from actions.project_errors import InputError, require
from tasks.datasets.targets import Target, phrase, visible_unique

log = logging.getLogger(__name__)


class MakeConfig(BaseModel):
    """What to render."""

    model_config = ConfigDict(extra="forbid")

    out: Path
    sizes: list[tuple[int, int]] = Field(default_factory=lambda: [(1280, 800), (1920, 1080)])
    scenes: Annotated[int, Field(ge=1, le=500)] = 4
    per_scene: Annotated[int, Field(ge=1, le=100)] = 10
    icon_share: Annotated[float, Field(ge=0, le=1)] = 0.35
    seed: int = 0
    gtk: bool | None = Field(None, description="GTK dialogs: None = when zenity and AT-SPI exist")
    force: bool = False


class MadeDataset(BaseModel):
    """What was written."""

    out: Path
    samples: int
    images: int
    by_application: dict[str, int]
    by_ui_type: dict[str, int]
    by_size: dict[str, int]
    gtk: bool
    gtk_note: str | None = None


def _pick(targets: list[Target], count: int, icon_share: float, rng: random.Random) -> list[Target]:
    icons = [t for t in targets if t.ui_type == "icon"]
    texts = [t for t in targets if t.ui_type == "text"]
    n_icons = min(len(icons), round(count * icon_share))
    n_texts = min(len(texts), count - n_icons)
    n_icons = min(len(icons), count - n_texts)
    chosen = rng.sample(icons, n_icons) + rng.sample(texts, n_texts)
    return sorted(chosen, key=lambda t: (t.bbox[1], t.bbox[0]))


def _capture(size: tuple[int, int]) -> Any:
    mss = require("mss", "desktop")
    from PIL import Image

    with mss.MSS() as grabber:
        shot = grabber.grab(grabber.monitors[1])
    img = Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
    if img.size != size:
        raise InputError(f"captured {img.size[0]}x{img.size[1]}, expected {size[0]}x{size[1]}")
    return img


def _prepare_out(cfg: MakeConfig) -> None:
    if cfg.out.exists() and any(cfg.out.iterdir()):
        if not cfg.force:
            raise InputError(f"{cfg.out} is not empty (pass --force to replace it)")
        for sub in ("annotations", "images"):
            shutil.rmtree(cfg.out / sub, ignore_errors=True)
    (cfg.out / "annotations").mkdir(parents=True, exist_ok=True)
    (cfg.out / "images").mkdir(parents=True, exist_ok=True)


def make_dataset(cfg: MakeConfig) -> MadeDataset:
    """Render every scene and write the dataset folder; deterministic for a seed.

    Each screen size renders in its own process: Tk keeps its X connection
    open until the process ends, and the size's Xvfb is stopped before the next.
    """
    from tasks.datasets.gtk_scene import zenity_available

    missing = zenity_available()
    use_gtk = (missing is None) if cfg.gtk is None else cfg.gtk
    if cfg.gtk and missing:
        raise InputError(f"--gtk: {missing}")
    _prepare_out(cfg)
    from env.virtual_display import VirtualDisplay
    from tasks.datasets.atspi import A11ySession

    records: dict[str, list[dict[str, Any]]] = {}
    by_size: Counter[str] = Counter()
    ctx = multiprocessing.get_context("spawn")
    for size in cfg.sizes:
        with VirtualDisplay(size), A11ySession() if use_gtk else nullcontext() as session:
            address = session.address if session is not None else None
            # The worker inherits DISPLAY; it has exited (and closed its X connection)
            # when the executor is left, before the display is stopped.
            with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                job = pool.submit(_render_size, cfg.model_dump(mode="json"), size, address)
                rendered = job.result()
            for target, image in rendered:
                task = f"{target['application']}_linux"
                rows = records.setdefault(task, [])
                rows.append(_record(Target.model_validate(target), image, size, len(rows)))
                by_size[f"{size[0]}x{size[1]}"] += 1
    shutil.rmtree(cfg.out / ".icons", ignore_errors=True)
    for task, rows in sorted(records.items()):
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
        (cfg.out / "annotations" / f"{task}.json").write_text(text, encoding="utf-8")
    all_rows = [r for rows in records.values() for r in rows]
    images = len(cfg.sizes) * cfg.scenes
    made = _summary(cfg, all_rows, images, by_size, use_gtk, missing)
    (cfg.out / "dataset.json").write_text(
        json.dumps(
            {"made_by": "agent dataset make", "config": cfg.model_dump(mode="json"),
             "summary": made.model_dump(mode="json")},
            indent=2,
        ) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    return made


def _render_size(
    cfg_data: dict[str, Any], size: tuple[int, int], bus: str | None
) -> list[tuple[dict[str, Any], str]]:
    """Render one screen size's scenes on the current DISPLAY; returns (target, image) pairs.

    Runs in a worker process; `bus` is the D-Bus session for GTK dialogs (None: Tk only).
    """
    from tasks.datasets.atspi import A11ySession
    from tasks.datasets.gtk_scene import open_dialog
    from tasks.datasets.tk_scene import build_tk_scene, icon_words

    cfg = MakeConfig.model_validate(cfg_data)
    width, height = size
    folder = f"linux_{width}x{height}"
    (cfg.out / "images" / folder).mkdir(parents=True, exist_ok=True)
    out: list[tuple[dict[str, Any], str]] = []
    session = A11ySession.attach(bus) if bus else None
    for index in range(cfg.scenes):
        rng = random.Random(f"{cfg.seed}:{width}x{height}:{index}")
        scene = build_tk_scene((width, height), rng, cfg.out / ".icons")
        dialog = None
        try:
            if session is not None and rng.random() < 0.75:
                avoid = [box for level, box in scene.windows if level > 0]
                dialog = open_dialog(session, rng, (width, height), avoid, level=3, index=index)
                scene.windows.append((3, dialog.box))
                scene.targets.extend(dialog.targets)
            scene.root.update()
            image = _capture((width, height))
        finally:
            if dialog is not None:
                dialog.close()
            scene.close()
        name = f"{folder}/scene_{index:03d}.png"
        image.save(cfg.out / "images" / name)
        visible = visible_unique(scene.targets, scene.windows, (width, height))
        for target in _pick(visible, cfg.per_scene, cfg.icon_share, rng):
            en, cn = icon_words(target.text) if target.ui_type == "icon" else ("", "")
            out.append((phrase(target, rng, icon_en=en, icon_cn=cn).model_dump(), name))
    return out


def _summary(
    cfg: MakeConfig,
    rows: list[dict[str, Any]],
    images: int,
    by_size: Counter[str],
    use_gtk: bool,
    missing: str | None,
) -> MadeDataset:
    return MadeDataset(
        out=cfg.out,
        samples=len(rows),
        images=images,
        by_application=dict(sorted(Counter(r["application"] for r in rows).items())),
        by_ui_type=dict(sorted(Counter(r["ui_type"] for r in rows).items())),
        by_size=dict(by_size),
        gtk=use_gtk,
        gtk_note=None if use_gtk else (missing or "disabled with --no-gtk"),
    )


def _record(target: Target, image: str, size: tuple[int, int], n: int) -> dict[str, Any]:
    return {
        "img_filename": image,
        "bbox": list(target.bbox),
        "instruction": target.instruction,
        "instruction_cn": target.instruction_cn,
        "id": f"{target.application}_linux_{n}",
        "application": target.application,
        "platform": "linux",
        "img_size": list(size),
        "ui_type": target.ui_type,
        "group": target.group,
        "role": target.role,
        "target_text": target.text,
    }
