"""Find an instruction's text among OCR lines: the matching half of the `ocr` grounder.

Pure functions, no OCR engine: given recognised lines (text + box), pick the
box that best matches what the instruction names. Instructions such as
``click the "Save" button`` or ``the Name field`` are reduced to their target
text (quoted text wins, otherwise filler words are stripped); lines are split
into word-level boxes proportionally by character position (wide CJK
characters count double), and every word, run of words and exact substring of
a line is scored against the target with a normalised, fuzzy comparison.

Fuzziness is measured in edits (difflib's matching blocks; no extra
dependency): OCR misreads one character in a word now and then ("Submlt"),
but "Save" must not satisfy an assertion that "Saved" is on screen, so the
strict mode used by wait_for / assert allows one edit per six characters and
the grounding mode one per four.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

Box = tuple[float, float, float, float]
Strictness = Literal["ground", "strict"]

_QUOTES = [
    ('"', '"'),
    ("'", "'"),
    ("\u201c", "\u201d"),
    ("\u2018", "\u2019"),
    ("\u00ab", "\u00bb"),
    ("`", "`"),
    ("\u300c", "\u300d"),
]
_LEADING = re.compile(
    r"^(?:(?:please|now|then|and)\s+)*"
    r"(?:(?:double[- ]?click|right[- ]?click|left[- ]?click|click|tap|press|push|hit|select|"
    r"choose|pick|open|activate|focus|locate|find|go\s+to|navigate\s+to|check|toggle|"
    r"wait\s+for|look\s+for|type\s+into|type\s+in|scroll|hover(?:\s+over)?)\s+)?"
    r"(?:(?:on|at|in|into|onto|over|to)\s+)?(?:(?:the|a|an)\s+)?",
    re.IGNORECASE,
)
_LABELLED = re.compile(
    r"\b(?:labell?ed|named|called|titled|that\s+says|saying|reading|with\s+(?:the\s+)?"
    r"(?:text|label|caption|title))\s+(.+)$",
    re.IGNORECASE,
)
_UI_NOUNS = (
    "button|btn|field|text\\s*field|text\\s*box|textbox|input(?:\\s+box)?|entry|box|icon|"
    "link|menu(?:\\s+item)?|item|tab|label|option|checkbox|check\\s*box|radio(?:\\s+button)?|"
    "toggle|switch|dropdown|drop-down|combo\\s*box|list|heading|title|text|element|control|"
    "area|key|window|dialog|row|cell"
)
_TRAILING = re.compile(rf"(?:\s+(?:{_UI_NOUNS}))+\s*$", re.IGNORECASE)


class OcrLine(NamedTuple):
    """One recognised text line: its text, axis-aligned box in image pixels, confidence."""

    text: str
    box: Box
    score: float = 1.0


class TextMatch(BaseModel):
    """The best match of a target text on screen."""

    model_config = ConfigDict(frozen=True)

    target: str
    text: str
    box: Box
    similarity: float
    edits: int
    line: str
    ocr_score: float
    whole_line: bool = True

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


def normalize(text: str) -> str:
    """Case-fold, drop accents and punctuation, keep signs, collapse spaces: what is compared.

    Signs and symbols that change what a text says (``+ - * / = % $ ...``) are
    kept, in one spelling per symbol (`CONFUSIONS`), so that ``-2`` never equals
    ``2``; a hyphen or slash between letters (``Sign-out``, ``Open/Close``) and
    other punctuation (``Name:``) only separate words. A decimal point or comma
    between digits is kept (``3.5`` is not ``35``).
    """
    return "".join(ch for _, ch in _normalized_chars(text)).strip()


SIGNS = frozenset("+-*/=%$€£¥#<>^~&@±÷√°")
"""Characters compared exactly: a match may never drop, add or change one."""
CONFUSIONS = {
    "\u5341": "+",  # 十, how a Chinese-trained OCR model reads "+"
    "\u00d7": "*",  # ×
    "\u2715": "*",  # ✕
    "\u2716": "*",  # ✖
    "\u2217": "*",  # ∗
    "\u2212": "-",  # − (minus sign)
    "\u2013": "-",  # – (en dash)
    "\u2014": "-",  # — (em dash)
    "\u2010": "-",  # ‐ (hyphen)
    "\u2011": "-",  # ‑ (non-breaking hyphen)
    "\u00f7": "/",  # ÷ (a calculator's divide key, compared as the same operation)
    "\u2215": "/",  # ∕
}
"""One spelling per symbol, applied to targets and screen text alike."""
WORD_CONFUSIONS = {"x": "*", "\u51b0": "*", "\u4e00": "-", "\u4e8c": "="}
"""Whole words OCR reads for a lone symbol (a multiply key as "x" or 冰, a minus as 一,
= as 二); only used where the target has that symbol there."""


def _normalized_chars(text: str) -> list[tuple[int, str]]:
    """Normalised characters, each with the index of the original character it came from.

    The index map lets a match in normalised text be turned back into a
    character span of the OCR line, hence into a sub-box.
    """
    out: list[tuple[int, str]] = []
    for index, original in enumerate(text):
        original = CONFUSIONS.get(original, original)
        for ch in unicodedata.normalize("NFKD", original).casefold():
            ch = CONFUSIONS.get(ch, ch)
            if unicodedata.combining(ch):
                continue
            if ch.isalnum() or (ch in SIGNS and not _joins_letters(text, index, ch)):
                out.append((index, ch))
            elif ch in ".," and _between_digits(text, index):
                out.append((index, ch))
            elif out and out[-1][1] != " ":
                # punctuation and spaces both separate words
                out.append((index, " "))
    while out and out[-1][1] == " ":
        out.pop()
    return out


def _joins_letters(text: str, index: int, ch: str) -> bool:
    """A hyphen or slash between two letters: a word separator (``Sign-out``), not a sign."""
    if ch not in "-/":
        return False
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    return before.isalpha() and after.isalpha()


def _between_digits(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isdigit() and text[index + 1].isdigit()


def exact_part(norm: str, strictness: Strictness) -> str:
    """What must be equal for a match: the signs, and in strict mode the digits too.

    Fuzzy matching forgives a misread letter; it must never forgive a dropped
    minus (``-2`` against ``2``), a currency or percent sign, or, for an
    assertion, a different number.
    """
    keep = SIGNS | (set("0123456789") if strictness == "strict" else set())
    return "".join(ch for ch in norm if ch in keep)


def unmatchable(target: str) -> str | None:
    """Why OCR can never find `target` (nothing it could read in it), or None."""
    if not normalize(target):
        return (
            f"{target!r} has no letters, digits or signs that OCR can read: "
            "give the visible text of the target"
        )
    return None


def target_text(instruction: str) -> str:
    """The text an instruction points at: quoted text if any, else the salient phrase.

    >>> target_text('click the "Save" button')
    'Save'
    >>> target_text("the Name field")
    'Name'
    """
    text = instruction.strip()
    for open_q, close_q in _QUOTES:
        match = re.search(re.escape(open_q) + r"(.+?)" + re.escape(close_q), text)
        if match and match.group(1).strip():
            return match.group(1).strip()
    text = text.rstrip(" .!?;:")
    labelled = _LABELLED.search(text)
    if labelled:
        text = labelled.group(1)
    stripped = _LEADING.sub("", text, count=1)
    stripped = _TRAILING.sub("", stripped).strip(" .,!?;:")
    return stripped or text.strip()


def _char_weight(ch: str) -> float:
    return 2.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 1.0


def span_box(line: OcrLine, start: int, end: int) -> Box:
    """The sub-box of characters [start, end) of a line, by proportional character width."""
    weights = [_char_weight(ch) for ch in line.text] or [1.0]
    total = sum(weights)
    x1, y1, x2, y2 = line.box
    left = sum(weights[:start]) / total
    right = sum(weights[:end]) / total
    width = x2 - x1
    return (x1 + width * left, y1, x1 + width * right, y2)


class _Candidate(NamedTuple):
    text: str
    box: Box
    whole_line: bool


def _candidates(line: OcrLine, target_norm: str) -> Iterable[_Candidate]:
    chars = _normalized_chars(line.text)
    norm = "".join(ch for _, ch in chars)
    yield _Candidate(norm, line.box, True)
    # words and runs of as many words as the target has
    words: list[tuple[int, int]] = []  # spans in `chars`
    start: int | None = None
    for i, (_, ch) in enumerate(chars):
        if ch == " ":
            if start is not None:
                words.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        words.append((start, len(chars)))
    n_target = max(1, len(target_norm.split()))
    for n in {1, n_target}:
        if n == 1 and len(words) <= 1:
            continue  # the whole line is that word
        for i in range(0, len(words) - n + 1):
            a, b = words[i][0], words[i + n - 1][1]
            yield _Candidate(norm[a:b], _chars_box(line, chars, a, b), False)
    # an exact substring, for scripts written without spaces (CJK): elsewhere a
    # substring would let "Sav" match inside "Save"
    if not any(_char_weight(ch) > 1 for ch in target_norm):
        return
    pos = norm.find(target_norm)
    while pos >= 0 and target_norm:
        end = pos + len(target_norm)
        yield _Candidate(target_norm, _chars_box(line, chars, pos, end), False)
        pos = norm.find(target_norm, pos + 1)


def _chars_box(line: OcrLine, chars: list[tuple[int, str]], a: int, b: int) -> Box:
    return span_box(line, chars[a][0], chars[b - 1][0] + 1)


def _edits(a: str, b: str) -> tuple[int, float]:
    """Approximate edit count and similarity (matched characters / longer length)."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    longest = max(len(a), len(b), 1)
    return longest - matched, matched / longest


def allowed_edits(target_norm: str, strictness: Strictness) -> int:
    """How many misread characters still count as the same text."""
    letters = len(target_norm.replace(" ", ""))
    return letters // 6 if strictness == "strict" else letters // 4


def best_match(
    lines: list[OcrLine], target: str, *, strictness: Strictness = "ground"
) -> TextMatch | None:
    """The best-scoring box for `target` among `lines`, or None if none is close enough.

    Ranking: fewest edits, then a whole line over a word inside a longer line
    (a button's label is its whole line), then OCR confidence, then reading
    order (top to bottom, left to right).
    """
    found = all_matches(lines, target, strictness=strictness)
    return found[0] if found else None


def all_matches(
    lines: list[OcrLine], target: str, *, strictness: Strictness = "ground"
) -> list[TextMatch]:
    """Every box close enough to `target`, best first (see `best_match`), one per line."""
    target_norm = normalize(target)
    if not target_norm:
        return []
    limit = allowed_edits(target_norm, strictness)
    exact = exact_part(target_norm, strictness)
    ranked: list[tuple[tuple[float, ...], TextMatch]] = []
    for line in lines:
        best: tuple[tuple[float, ...], TextMatch] | None = None
        for cand in _candidates(line, target_norm):
            text = _aliased(cand.text, target_norm)
            if not text or exact_part(text, strictness) != exact:
                continue  # a sign (or, strictly, a digit) differs: never the same text
            edits, similarity = _edits(target_norm, text)
            if edits > limit:
                continue
            rank = (edits, 0 if cand.whole_line else 1, -line.score, cand.box[1], cand.box[0])
            if best is None or rank < best[0]:
                match = TextMatch(
                    target=target,
                    text=cand.text,
                    box=tuple(round(v, 1) for v in cand.box),  # type: ignore[arg-type]
                    similarity=round(similarity, 4),
                    edits=edits,
                    line=line.text,
                    ocr_score=round(line.score, 4),
                    whole_line=cand.whole_line,
                )
                best = (rank, match)
        if best is not None:
            ranked.append(best)
    ranked.sort(key=lambda item: item[0])
    return [match for _, match in ranked]


def equally_good(matches: list[TextMatch]) -> list[TextMatch]:
    """The matches as good as the first on text alone (same edits, same text): the
    target appears that many times and text cannot tell them apart."""
    if not matches:
        return []
    first = matches[0]
    same = (first.edits, first.text, first.whole_line)
    return [m for m in matches if (m.edits, m.text, m.whole_line) == same]


def _aliased(text: str, target_norm: str) -> str:
    """`text` with a lone word OCR reads for a symbol (x, 一) spelled as that symbol,
    where the target has the symbol in that word's place."""
    words = text.split(" ")
    goal = target_norm.split(" ")
    if len(words) != len(goal):
        return text
    return " ".join(
        WORD_CONFUSIONS.get(w, w) if WORD_CONFUSIONS.get(w) == g else w
        for w, g in zip(words, goal, strict=True)
    )


def closest_text(lines: list[OcrLine], target: str) -> str | None:
    """The recognised line most similar to `target` (for 'not found' messages)."""
    target_norm = normalize(target)
    scored = [(_edits(target_norm, normalize(line.text))[1], line.text) for line in lines]
    return max(scored)[1] if scored else None
