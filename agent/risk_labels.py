"""Which visible labels name a destructive or irreversible action, and what a click would hit.

A click is judged by the text it lands on: the screen is read (OCR) in a crop
around the point, and the label under the point is matched against
`RISKY_TERMS` (English and Chinese). Matching is label-level, not substring:

* English terms match as whole words or phrases, case-insensitively, with
  hyphens, dashes and underscores read as spaces: "Delete", "Place order",
  "Sign out", "Sign-out", "FORCE_QUIT" match; "Deleted items", "Sent",
  "Orders", "Payments" do not (a past tense or plural names a place, not an act).
* Words that are also nouns (order, purchase, transfer, format, pay) do not
  match when a noun follows or a qualifier precedes them ("Order history",
  "Transfer status", "Sort order", "Format options"); no term matches when it
  is a field caption followed by a colon ("Format: PNG").
* Chinese terms match as substrings, except after 已 (已发送 "sent", 已删除
  "deleted") or before a noun suffix for the noun-like ones (支付方式,
  转账记录, 支付宝).
* A term inside a harmless phrase (`SAFE_PHRASES`: "Find and Replace",
  "Exit full screen", 退出全屏) does not count.
* A long line (a menu bar read as one line, a sentence) is judged only by the
  words near the point, so clicking "File" in "File Edit Format" is not risky.
* Only text under the point counts: an icon without text, or an empty field
  beside a Delete button, is not judged by its neighbours.

Without OCR the label cannot be read; `read_lines` then says why, and the
policy treats the click as risky (it fails closed).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from PIL import Image

from agent.models.ocr_match import OcrLine

# term -> what clicking it does (the reason shown to the person asked)
RISKY_TERMS: dict[str, str] = {
    "delete": "deletes",
    "remove": "removes",
    "erase": "erases",
    "wipe": "wipes data",
    "empty trash": "deletes the trash for good",
    "send": "sends",
    "pay": "pays",
    "buy": "buys",
    "purchase": "buys",
    "order": "places an order",
    "checkout": "checks out",
    "check out": "checks out",
    "transfer": "transfers money or data",
    "submit": "submits",
    "uninstall": "uninstalls",
    "format": "formats (erases) a disk",
    "reset": "resets",
    "factory reset": "erases the device",
    "sign out": "ends the session",
    "signout": "ends the session",
    "sign off": "ends the session",
    "log out": "ends the session",
    "logout": "ends the session",
    "log off": "ends the session",
    "logoff": "ends the session",
    "move to trash": "moves to the trash",
    "move to the trash": "moves to the trash",
    "move to bin": "moves to the bin",
    "clear history": "clears the history",
    "clear all data": "clears all data",
    "clear data": "clears data",
    "clear browsing data": "clears browsing data",
    "close account": "closes the account",
    "close my account": "closes the account",
    "delete account": "deletes the account",
    "cancel subscription": "cancels a subscription",
    "cancel my subscription": "cancels a subscription",
    "unsubscribe": "unsubscribes",
    "overwrite": "overwrites (the old contents are lost)",
    "over write": "overwrites (the old contents are lost)",
    "replace": "replaces (the old contents are lost)",
    "destroy": "destroys",
    "quit": "quits the application",
    "exit": "quits the application",
    "force quit": "force-quits an application (unsaved work is lost)",
    "deactivate": "deactivates an account",
    "discard": "throws away changes",
    "close without saving": "throws away changes",
    "don't save": "throws away changes",
    "do not save": "throws away changes",
    "shut down": "turns the machine off",
    "power off": "turns the device off",
    "restart": "restarts",
    "reboot": "restarts the device",
    # Chinese
    "删除": "deletes (删除)",
    "移除": "removes (移除)",
    "清空": "empties (清空)",
    "擦除": "erases (擦除)",
    "抹掉": "erases (抹掉)",
    "发送": "sends (发送)",
    "支付": "pays (支付)",
    "付款": "pays (付款)",
    "购买": "buys (购买)",
    "下单": "places an order (下单)",
    "结算": "checks out (结算)",
    "转账": "transfers money (转账)",
    "汇款": "transfers money (汇款)",
    "提交": "submits (提交)",
    "卸载": "uninstalls (卸载)",
    "格式化": "formats (格式化)",
    "重置": "resets (重置)",
    "恢复出厂": "erases the device (恢复出厂)",
    "退出登录": "ends the session (退出登录)",
    "注销": "ends the session or account (注销)",
    "登出": "ends the session (登出)",
    "放弃": "throws away changes (放弃)",
    "清除": "clears (清除)",
    "退出": "quits (退出)",
    "强制退出": "force-quits (强制退出)",
    "移到废纸篓": "moves to the trash (移到废纸篓)",
    "移至回收站": "moves to the trash (移至回收站)",
    "不保存": "throws away changes (不保存)",
    "关机": "turns the device off (关机)",
    "重启": "restarts (重启)",
}
NOUN_TERMS = ("order", "purchase", "transfer", "format", "pay")
NOUN_FOLLOWERS = frozenset(
    "history status details detail number id date list summary tracking confirmation receipt "
    "limit limits fee fees options settings type types painter preview records record info".split()
)
NOUN_QUALIFIERS = frozenset("sort my your in recent past last previous work file date".split())
SAFE_PHRASES = (
    "find and replace", "find & replace", "search and replace", "exit full screen",
    "exit fullscreen", "quit full screen", "退出全屏",
)  # fmt: skip
"""Labels holding a risky word that name a harmless act: a term inside one does not count."""
CJK_NOUN_TERMS = ("支付", "付款", "购买", "转账", "汇款", "提交")
CJK_NOUN_SUFFIXES = ("记录", "方式", "历史", "明细", "详情", "设置", "状态", "说明", "限额", "宝")
SHORT_LABEL_WORDS = 3
"""A line of at most this many words (and 24 characters, CJK counting double) is a
control's label: judged whole."""


def _is_cjk(term: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in term)


_SEPARATORS = "-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00b7"
"""Hyphens, dashes, underscores and middle dots read as spaces: Sign-out, log_out, Force-Quit."""


def _normalize(text: str) -> str:
    """Lower case, straight apostrophes (Don’t Save), spaces for separators: one character
    for one, so that positions in the result are positions in the OCR line."""
    out = []
    for c in text:
        low = c.lower()
        c = low if len(low) == 1 else c
        if c in "\u2018\u2019":
            c = "'"
        elif c.isspace() or c in _SEPARATORS:
            c = " "
        out.append(c)
    return "".join(out)


def _safe_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for phrase in SAFE_PHRASES:
        words = r"\s+".join(re.escape(w) for w in phrase.split())
        spans += [(m.start(), m.end()) for m in re.finditer(words, text)]
    return spans


def _width(c: str) -> float:
    return 2.0 if unicodedata.east_asian_width(c) in "WF" else 1.0


_WORD_EDGE = r"[a-z0-9]"


def _occurrences(text: str) -> list[tuple[int, int, str]]:
    """(start, end, term) of every risky term in `text` (normalized), exemptions applied."""
    found: list[tuple[int, int, str]] = []
    safe = _safe_spans(text)
    for term in RISKY_TERMS:
        if _is_cjk(term):
            for m in re.finditer(re.escape(term), text):
                before, after = text[: m.start()], text[m.end() :]
                if before.endswith("已"):
                    continue
                if term in CJK_NOUN_TERMS and after.startswith(CJK_NOUN_SUFFIXES):
                    continue
                found.append((m.start(), m.end(), term))
            continue
        words = r"\s+".join(re.escape(w) for w in term.split())
        pattern = rf"(?<!{_WORD_EDGE}){words}(?!{_WORD_EDGE})"
        for m in re.finditer(pattern, text):
            after = text[m.end() :]
            if after.lstrip().startswith(":"):
                continue  # a field's caption, "Format: PNG"
            if term in NOUN_TERMS:
                following = re.match(r"\s*([a-z]+)", after)
                preceding = re.search(r"([a-z]+)\s*$", text[: m.start()])
                if following and following.group(1) in NOUN_FOLLOWERS:
                    continue
                if preceding and preceding.group(1) in NOUN_QUALIFIERS:
                    continue
            found.append((m.start(), m.end(), term))
    return [f for f in found if not any(a <= f[0] and f[1] <= b for a, b in safe)]


def text_risk(text: str) -> str | None:
    """Why a label or the model's words name a risky act ("Delete" -> "deletes"), or None."""
    found = _occurrences(_normalize(text))
    if not found:
        return None
    start, end, term = min(found, key=lambda f: f[0])
    return f"{RISKY_TERMS[term]} ({text[start:end]!r})"


def _char_spans(text: str, x1: float, x2: float) -> list[tuple[float, float]]:
    """Estimated x-extent of each character: wide (CJK) characters count double."""
    widths = [_width(c) for c in text]
    unit = (x2 - x1) / max(sum(widths), 1.0)
    spans, x = [], x1
    for w in widths:
        spans.append((x, x + w * unit))
        x += w * unit
    return spans


def line_risk(line: OcrLine, x: float) -> str | None:
    """Judge the line a click at `x` lands on: a short label whole, a long line near `x`."""
    text = _normalize(line.text)
    found = _occurrences(text)
    if not found:
        return None
    if len(text.split()) <= SHORT_LABEL_WORDS and sum(map(_width, text)) <= 24:
        start, end, term = found[0]
        return f"{RISKY_TERMS[term]} ({line.text[start:end]!r})"
    x1, y1, x2, y2 = line.box
    spans = _char_spans(text, x1, x2)
    reach = max(y2 - y1, 1.0)  # about two characters either side of the point
    for start, end, term in found:
        left, right = spans[start][0], spans[end - 1][1]
        if left - reach <= x <= right + reach:
            return f"{RISKY_TERMS[term]} ({line.text[start:end]!r})"
    return None


def lines_at(lines: list[OcrLine], x: float, y: float, *, pad: float) -> list[OcrLine]:
    """The lines a click at (x, y) lands on (their boxes grown by `pad` px).

    Text merely near the point (a caption under an icon, a button beside a
    field) is not taken for its label: that would flag clicks on empty fields
    next to a Delete button.
    """
    return [ln for ln in lines if _distance(ln.box, x, y) <= pad]


def _distance(box: tuple[float, float, float, float], x: float, y: float) -> float:
    x1, y1, x2, y2 = box
    dx = max(x1 - x, 0.0, x - x2)
    dy = max(y1 - y, 0.0, y - y2)
    return (dx * dx + dy * dy) ** 0.5


def read_lines(image: Any, x: float, y: float) -> tuple[list[OcrLine], str | None]:
    """OCR of a strip around (x, y): its lines in image pixels, or why it could not be read.

    The strip is about a third of the screen wide and a twelfth high, enough for
    a button or menu item. It is padded to a square because RapidOCR scales an
    image's *shorter* side up to 736 px: a wide strip would be read at several
    times its size (measured: 0.6 s for the padded strip against 2 s for the
    bare one, on two busy cores).
    """
    width, height = image.size
    half_w, half_h = max(160.0, width * 0.15), max(40.0, height * 0.04)
    left, top = max(0, int(x - half_w)), max(0, int(y - half_h))
    right, bottom = min(width, int(x + half_w) + 1), min(height, int(y + half_h) + 1)
    strip = image.crop((left, top, right, bottom)).convert("RGB")
    side = max(strip.size)
    square = Image.new("RGB", (side, side), strip.getpixel((0, 0)))
    square.paste(strip, (0, 0))
    try:
        from agent.models.ocr import read_text

        lines = read_text(square)
    except Exception as exc:  # no OCR extra (MissingDependency with the hint), or OCR broke
        return [], f"cannot read the label under the click: {exc}"
    shifted = [
        OcrLine(ln.text, (ln.box[0] + left, ln.box[1] + top, ln.box[2] + left, ln.box[3] + top))
        for ln in lines
    ]
    return shifted, None


def click_risk(image: Any, x: float, y: float) -> tuple[str | None, str | None]:
    """(why a click at (x, y) on `image` is risky, or None; why the label could not be read)."""
    lines, error = read_lines(image, x, y)
    if error is not None:
        return None, error
    pad = max(8.0, max(image.size) * 0.008)  # a click just beside the text still hits its button
    for line in lines_at(lines, x, y, pad=pad):
        why = line_risk(line, x)
        if why is not None:
            return f"clicks a label that {why}", None
    return None, None
