"""Toolbar and desktop icons drawn with PIL at build time (no downloaded artwork).

Each icon has a name, an English and a Chinese description (the grounding
instruction for icon samples) and a drawing function. Icons are drawn at 4x
and downsampled, so edges are smooth as in real icon themes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw

Draw = Callable[[ImageDraw.ImageDraw, int, tuple[int, int, int]], None]
SUPERSAMPLE = 4


class IconSpec(NamedTuple):
    """An icon: file stem, what a user would call it (en / zh), how to draw it."""

    name: str
    en: str
    cn: str
    draw: Draw


def _floppy(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    m = s // 8
    d.rounded_rectangle((m, m, s - m, s - m), radius=s // 16, fill=c)
    d.rectangle((s * 5 // 16, m, s * 11 // 16, s * 6 // 16), fill="white")
    d.rectangle((s * 4 // 16, s * 9 // 16, s * 12 // 16, s - m - s // 16), fill="white")


def _trash(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.rectangle((s * 3 // 16, s * 3 // 16, s * 13 // 16, s * 5 // 16), fill=c)
    d.rectangle((s * 6 // 16, s // 16, s * 10 // 16, s * 3 // 16), fill=c)
    d.polygon(
        [(s * 4 // 16, s * 6 // 16), (s * 12 // 16, s * 6 // 16), (s * 11 // 16, s * 15 // 16),
         (s * 5 // 16, s * 15 // 16)],
        fill=c,
    )  # fmt: skip


def _gear(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    cx = cy = s / 2
    for k in range(8):
        a = k * math.pi / 4
        x, y = cx + math.cos(a) * s * 0.36, cy + math.sin(a) * s * 0.36
        d.ellipse((x - s * 0.09, y - s * 0.09, x + s * 0.09, y + s * 0.09), fill=c)
    d.ellipse((cx - s * 0.32, cy - s * 0.32, cx + s * 0.32, cy + s * 0.32), fill=c)
    d.ellipse((cx - s * 0.12, cy - s * 0.12, cx + s * 0.12, cy + s * 0.12), fill="white")


def _magnifier(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    w = max(2, s // 10)
    d.ellipse((s * 2 // 16, s * 2 // 16, s * 10 // 16, s * 10 // 16), outline=c, width=w)
    d.line((s * 9 // 16, s * 9 // 16, s * 14 // 16, s * 14 // 16), fill=c, width=w + w // 2)


def _plus(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    w = s // 7
    d.rectangle((s // 2 - w, s // 8, s // 2 + w, s - s // 8), fill=c)
    d.rectangle((s // 8, s // 2 - w, s - s // 8, s // 2 + w), fill=c)


def _star(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    pts = []
    for k in range(10):
        r = s * (0.45 if k % 2 == 0 else 0.19)
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((s / 2 + r * math.cos(a), s / 2 + r * math.sin(a)))
    d.polygon(pts, fill=c)


def _house(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.polygon([(s // 2, s // 10), (s - s // 10, s // 2), (s // 10, s // 2)], fill=c)
    d.rectangle((s * 4 // 16, s // 2, s * 12 // 16, s * 14 // 16), fill=c)
    d.rectangle((s * 7 // 16, s * 10 // 16, s * 9 // 16, s * 14 // 16), fill="white")


def _play(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.polygon(
        [(s * 4 // 16, s * 2 // 16), (s * 14 // 16, s // 2), (s * 4 // 16, s * 14 // 16)], fill=c
    )


def _folder(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.rectangle((s // 10, s * 3 // 16, s * 7 // 16, s * 5 // 16), fill=c)
    d.rounded_rectangle((s // 10, s * 4 // 16, s - s // 10, s * 13 // 16), radius=s // 20, fill=c)


def _envelope(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    box = (s // 10, s * 4 // 16, s - s // 10, s * 12 // 16)
    d.rectangle(box, fill=c)
    d.line(
        (box[0], box[1], s // 2, s * 9 // 16, box[2], box[1]), fill="white", width=max(2, s // 14)
    )


def _bell(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.pieslice((s * 3 // 16, s * 2 // 16, s * 13 // 16, s * 14 // 16), 180, 360, fill=c)
    d.rectangle((s * 3 // 16, s * 8 // 16, s * 13 // 16, s * 11 // 16), fill=c)
    d.rectangle((s * 2 // 16, s * 11 // 16, s * 14 // 16, s * 12 // 16), fill=c)
    d.ellipse((s * 7 // 16, s * 12 // 16, s * 9 // 16, s * 14 // 16), fill=c)


def _lock(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    w = max(2, s // 10)
    d.arc((s * 4 // 16, s * 2 // 16, s * 12 // 16, s * 10 // 16), 180, 360, fill=c, width=w)
    d.line((s * 4 // 16 + w // 2, s * 6 // 16, s * 4 // 16 + w // 2, s * 8 // 16), fill=c, width=w)
    d.line(
        (s * 12 // 16 - w // 2, s * 6 // 16, s * 12 // 16 - w // 2, s * 8 // 16), fill=c, width=w
    )
    d.rounded_rectangle(
        (s * 3 // 16, s * 7 // 16, s * 13 // 16, s * 15 // 16), radius=s // 16, fill=c
    )


def _camera(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.rectangle((s * 5 // 16, s * 3 // 16, s * 11 // 16, s * 5 // 16), fill=c)
    d.rounded_rectangle((s // 10, s * 5 // 16, s - s // 10, s * 13 // 16), radius=s // 16, fill=c)
    d.ellipse((s * 5 // 16, s * 6 // 16, s * 11 // 16, s * 12 // 16), fill="white")
    d.ellipse((s * 6 // 16, s * 7 // 16, s * 10 // 16, s * 11 // 16), fill=c)


def _heart(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.ellipse((s * 2 // 16, s * 3 // 16, s * 9 // 16, s * 10 // 16), fill=c)
    d.ellipse((s * 7 // 16, s * 3 // 16, s * 14 // 16, s * 10 // 16), fill=c)
    d.polygon(
        [(s * 2 // 16 + 1, s * 7 // 16), (s * 14 // 16 - 1, s * 7 // 16), (s // 2, s * 14 // 16)],
        fill=c,
    )


def _refresh(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    w = max(2, s // 9)
    d.arc((s * 3 // 16, s * 3 // 16, s * 13 // 16, s * 13 // 16), 40, 330, fill=c, width=w)
    d.polygon(
        [(s * 15 // 16, s * 3 // 16), (s * 15 // 16, s * 8 // 16), (s * 10 // 16, s * 8 // 16)],
        fill=c,
    )


def _printer(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    d.rectangle(
        (s * 4 // 16, s * 2 // 16, s * 12 // 16, s * 6 // 16), outline=c, width=max(2, s // 16)
    )
    d.rounded_rectangle((s // 10, s * 6 // 16, s - s // 10, s * 11 // 16), radius=s // 20, fill=c)
    d.rectangle((s * 4 // 16, s * 10 // 16, s * 12 // 16, s * 14 // 16), fill="white", outline=c)


def _download(d: ImageDraw.ImageDraw, s: int, c: tuple[int, int, int]) -> None:
    w = s // 8
    d.rectangle((s // 2 - w // 2, s // 10, s // 2 + w // 2, s * 9 // 16), fill=c)
    d.polygon(
        [(s * 4 // 16, s * 8 // 16), (s * 12 // 16, s * 8 // 16), (s // 2, s * 12 // 16)], fill=c
    )
    d.rectangle((s * 2 // 16, s * 13 // 16, s * 14 // 16, s * 14 // 16 + w // 2), fill=c)


ICONS: tuple[IconSpec, ...] = (
    IconSpec("save", "save icon (floppy disk)", "保存图标（软盘）", _floppy),
    IconSpec("delete", "delete icon (trash can)", "删除图标（垃圾桶）", _trash),
    IconSpec("settings", "settings icon (gear)", "设置图标（齿轮）", _gear),
    IconSpec("search", "search icon (magnifying glass)", "搜索图标（放大镜）", _magnifier),
    IconSpec("add", "add icon (plus sign)", "添加图标（加号）", _plus),
    IconSpec("favorite", "favorite icon (star)", "收藏图标（星形）", _star),
    IconSpec("home", "home icon (house)", "主页图标（房子）", _house),
    IconSpec("play", "play icon (triangle)", "播放图标（三角形）", _play),
    IconSpec("folder", "open folder icon", "打开文件夹图标", _folder),
    IconSpec("mail", "mail icon (envelope)", "邮件图标（信封）", _envelope),
    IconSpec("notifications", "notifications icon (bell)", "通知图标（铃铛）", _bell),
    IconSpec("lock", "lock icon (padlock)", "锁定图标（挂锁）", _lock),
    IconSpec("camera", "camera icon", "相机图标", _camera),
    IconSpec("like", "like icon (heart)", "喜欢图标（爱心）", _heart),
    IconSpec("refresh", "refresh icon (circular arrow)", "刷新图标（循环箭头）", _refresh),
    IconSpec("print", "print icon (printer)", "打印图标（打印机）", _printer),
    IconSpec("download", "download icon (arrow down)", "下载图标（向下箭头）", _download),
)

PALETTE: tuple[tuple[int, int, int], ...] = (
    (52, 101, 164),
    (204, 0, 0),
    (78, 154, 6),
    (117, 80, 123),
    (206, 92, 0),
    (46, 52, 54),
    (196, 160, 0),
)


def render_icon(spec: IconSpec, size: int, color: tuple[int, int, int]) -> Image.Image:
    """One icon as an RGBA image of `size` x `size` pixels, transparent around the shape."""
    big = size * SUPERSAMPLE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    spec.draw(ImageDraw.Draw(img), big, color)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(folder: Path, size: int, color: tuple[int, int, int]) -> dict[str, Path]:
    """Draw every icon into `folder` as PNG files; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for spec in ICONS:
        path = folder / f"{spec.name}_{size}.png"
        render_icon(spec, size, color).save(path)
        paths[spec.name] = path
    return paths


def icon_spec(name: str) -> IconSpec:
    """The icon called `name`."""
    for spec in ICONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
