"""What a dataset maker records about an on-screen element, and its instructions.

A `Target` is one element with its exact screen box (inclusive pixel corners:
the element covers x1..x2 and y1..y2), the application and window it belongs
to, and English and Chinese instructions phrased the way ScreenSpot's are.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict

Box = tuple[int, int, int, int]

TEXT_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "button": (("{t}", "click the {t} button", "press {t}"), ("点击“{t}”按钮", "{t}")),
    "menu": (("open the {t} menu", "{t} menu"), ("打开“{t}”菜单",)),
    "menu item": (("{t}", "choose {t} from the menu"), ("选择菜单项“{t}”",)),
    "list item": (("select {t}", "{t} in the list"), ("选择“{t}”",)),
    "table cell": (("select {t}", "the {t} row"), ("选择“{t}”",)),
    "column header": (("sort by {t}", "the {t} column header"), ("“{t}”列标题",)),
    "label": (("{t}", "the {t} label"), ("“{t}”标签",)),
    "checkbox": (("toggle {t}", "the {t} checkbox"), ("勾选“{t}”",)),
    "tab": (("switch to the {t} tab", "{t} tab"), ("切换到“{t}”标签页",)),
}
ICON_TEMPLATES = (("{en}", "click the {en}"), ("{cn}", "点击{cn}"))


class Target(BaseModel):
    """One groundable element on a rendered screen."""

    model_config = ConfigDict(frozen=True)

    text: str
    ui_type: Literal["text", "icon"]
    role: str
    bbox: Box
    application: str
    group: str
    window: int = 0
    instruction: str = ""
    instruction_cn: str = ""

    def area(self) -> int:
        return (self.bbox[2] - self.bbox[0] + 1) * (self.bbox[3] - self.bbox[1] + 1)


def box_from_geometry(x: int, y: int, width: int, height: int) -> Box:
    """Inclusive pixel corners of a widget at (x, y) of `width` x `height`."""
    return (x, y, x + width - 1, y + height - 1)


def overlaps(a: Box, b: Box) -> bool:
    """Whether two inclusive boxes share a pixel."""
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def inside(a: Box, screen: tuple[int, int]) -> bool:
    """Whether box `a` lies fully on a screen of `screen` size."""
    return a[0] >= 0 and a[1] >= 0 and a[2] < screen[0] and a[3] < screen[1]


def phrase(target: Target, rng: random.Random, *, icon_en: str = "", icon_cn: str = "") -> Target:
    """The target with instructions filled in from the role's templates."""
    if target.ui_type == "icon":
        en = rng.choice(ICON_TEMPLATES[0]).format(en=icon_en)
        cn = rng.choice(ICON_TEMPLATES[1]).format(cn=icon_cn)
    else:
        en_t, cn_t = TEXT_TEMPLATES.get(target.role, TEXT_TEMPLATES["label"])
        en = rng.choice(en_t).format(t=target.text)
        cn = rng.choice(cn_t).format(t=target.text)
    return target.model_copy(update={"instruction": en, "instruction_cn": cn})


def visible_unique(
    targets: list[Target], windows: list[tuple[int, Box]], screen: tuple[int, int]
) -> list[Target]:
    """Targets fully on screen, not covered by a higher window, with a text no other has.

    `windows` lists (stacking level, box) of every window; a target of level k
    is dropped when a window of level > k overlaps it. Text targets whose text
    appears twice are ambiguous to a reader and are dropped too.
    """
    counts: dict[tuple[str, str], int] = {}
    for t in targets:
        key = (t.ui_type, t.text.casefold())
        counts[key] = counts.get(key, 0) + 1
    out = []
    for t in targets:
        if not inside(t.bbox, screen) or counts[(t.ui_type, t.text.casefold())] > 1:
            continue
        if any(level > t.window and overlaps(box, t.bbox) for level, box in windows):
            continue
        if t.bbox[2] - t.bbox[0] < 3 or t.bbox[3] - t.bbox[1] < 3:
            continue
        out.append(t)
    return out
