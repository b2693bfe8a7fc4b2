"""The protocol a ScreenSpot run follows: which reader judges the answers, and the record.

`answer_parser` picks the reader for a run from its profile (``--profile``,
detected, or the profile ``--family`` names): under ``--parser official`` the
profile's official reader (`OFFICIAL_READERS`, one per profile, each naming the
code it follows), under ``--parser robust`` the agent's lenient parser in that
profile's answer format. ``--family qwen2-vl`` (a coordinate space without a
profile of its own) reads as the ScreenSpot-Pro harness's qwen2vl.py does.

`protocol_record` is the one place the result file's ``protocol`` (also kept as
``run.protocol``) is built: official or not and why, the parser, reader and its
source, the profile and every setting the requests ran with.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from actions.errors import InputError
from actions.frames import ModelFamily
from agent.eval import author_readers as authors
from agent.eval.answers import (
    ParserName,
    Reader,
    read_holo1_5,
    read_qwen2_5_vl,
    read_qwen2_vl,
    read_qwen3_vl,
    read_robust,
)
from agent.eval.results import OFFICIAL_LABEL, Protocol
from agent.models.profile import Profile
from agent.models.spec import ModelSpec

ReaderKind = Literal[
    "ScreenSpot-Pro harness", "authors' ScreenSpot-Pro script", "authors' answer parser"
]
SSP = "likaixin2000/ScreenSpot-Pro-GUI-Grounding @ bd8bbbb"


class OfficialReader(BaseModel):
    """One entry of the official readers: what it follows, and the function."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    source: str
    kind: ReaderKind
    read: Reader


def _entry(name: str, source: str, kind: ReaderKind, read: Reader) -> OfficialReader:
    return OfficialReader(name=name, source=source, kind=kind, read=read)


# One entry per profile. "ScreenSpot-Pro harness": the harness's own model file; "authors'
# ScreenSpot-Pro script": the model authors' evaluation of ScreenSpot-Pro; "authors' answer
# parser": they publish no ScreenSpot-Pro script, so their own code that turns an answer into
# a click (README or cookbook example, agent parser) is followed.
OFFICIAL_READERS: dict[str, OfficialReader] = {
    "qwen2.5-vl": _entry(
        "ssp-qwen2.5-vl", f"{SSP} models/qwen2_5vl.py", "ScreenSpot-Pro harness",
        read_qwen2_5_vl,
    ),
    "qwen3-vl": _entry(
        "ssp-qwen3-vl", "ScreenSpot-Pro-GUI-Grounding @ 573b40ef models/qwen3vl.py",
        "ScreenSpot-Pro harness", read_qwen3_vl,
    ),
    "ui-tars-1.5": _entry(
        "ui-tars-action-parser", "bytedance/UI-TARS @ 582f3a7 codes/ui_tars/action_parser.py",
        "authors' answer parser", authors.read_ui_tars,
    ),
    "gta1": _entry(
        "gta1-readme", "Yan98/GTA1 @ 81f0c4c README.md (extract_coordinates)",
        "authors' answer parser", authors.read_gta1,
    ),
    "ui-venus-ground": _entry(
        "ui-venus-ground-7b",
        "inclusionAI/UI-Venus @ fc7670d models/grounding/ui_venus_ground_7b.py",
        "authors' ScreenSpot-Pro script", authors.read_ui_venus_ground,
    ),
    "ui-venus-1.5": _entry(
        "ui-venus-1.5-ssp",
        "inclusionAI/UI-Venus @ c3a1442 models/grounding/eval_screenspot_pro.py",
        "authors' ScreenSpot-Pro script", authors.read_ui_venus_1_5,
    ),
    "gui-owl-1.5": _entry(
        "gui-owl-1.5-grounding-eval",
        "X-PLUG/MobileAgent @ 11cea57 Mobile-Agent-v3.5/grounding_and_kb/"
        "eval_grounding_benchmarks.py",
        "authors' ScreenSpot-Pro script", authors.read_gui_owl_1_5,
    ),
    "mai-ui": _entry(
        "mai-ui-eval-server", "Tongyi-MAI/MAI-UI @ 4dd07b9 evaluation/grounding/eval_server.py",
        "authors' ScreenSpot-Pro script", authors.read_mai_ui,
    ),
    "holo1.5": _entry(
        "ssp-holo1.5", f"{SSP} models/holo1_5.py", "ScreenSpot-Pro harness", read_holo1_5
    ),
    "holo2": _entry(
        "holo2-cookbook",
        "hcompai/hai-cookbook @ 2ba8961 holo2/holo_2_localization_huggingface.ipynb",
        "authors' answer parser", authors.read_holo2,
    ),
    "infigui-g1": _entry(
        "infigui-g1-eval", "InfiXAI/InfiGUI-G1 @ 22208e4 eval/prompts.py (think mode)",
        "authors' ScreenSpot-Pro script", authors.read_infigui_g1,
    ),
}  # fmt: skip

# --family values that change only the coordinate space of a profile (no profile of their own).
FAMILY_READERS: dict[ModelFamily, OfficialReader] = {
    ModelFamily.QWEN2_VL: _entry(
        "ssp-qwen2-vl", f"{SSP} models/qwen2vl.py", "ScreenSpot-Pro harness", read_qwen2_vl
    ),
}


class AnswerParser(BaseModel):
    """The parser a run judges with, as the result file records it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    parser: ParserName
    reader: str
    source: str
    kind: str
    profile: str | None = None
    read: Reader

    @property
    def official(self) -> bool:
        return self.parser == "official"

    def describe(self) -> dict[str, Any]:
        return {
            "parser": self.parser,
            "reader": self.reader,
            "reader_kind": self.kind,
            "source": self.source,
        }


def answer_parser(
    parser: ParserName,
    profile: Profile | None,
    *,
    backend: str,
    family: ModelFamily | None = None,
) -> AnswerParser:
    """The parser for a run of `profile` (None: a backend without one, OCR); `family` is a
    ``--family`` that overrides the profile's coordinates. A one-line error when no
    official reader fits."""
    name = profile.name if profile is not None and backend != "ocr" else None
    if backend == "ocr":
        # the OCR backend answers with a point, not model text: nothing for a reader to
        # judge, whichever parser was asked for; its rows are labelled (`deviations`)
        return AnswerParser(
            parser="robust",
            reader="ocr-point",
            source="agent.models.ocr (text search: the answer is the point found)",
            kind="no model answer (the OCR backend's point)",
            profile=None,
            read=partial(read_robust, fmt=None),
        )
    if parser == "robust":
        fmt = profile.answer if name is not None and profile is not None else None
        where = f" in profile {name}'s answer format" if name else ""
        return AnswerParser(
            parser="robust",
            reader="lenient",
            source=f"actions.answers.parse_model_answer (the agent's parser){where}",
            kind="screenpilot's lenient parser",
            profile=name,
            read=partial(read_robust, fmt=fmt),
        )
    if family is not None:
        entry = FAMILY_READERS.get(family)
        what = f"--family {family.value}"
    else:
        entry = OFFICIAL_READERS.get(name or "")
        what = f"profile {name}"
    if entry is None:
        raise InputError(
            f"--parser official: no official answer reader for {what} (readers exist for "
            f"profiles {', '.join(OFFICIAL_READERS)} and --family "
            f"{', '.join(f.value for f in FAMILY_READERS)}); pass --parser robust (results "
            "are labelled non-official)"
        )
    return AnswerParser(
        parser="official", reader=entry.name, source=entry.source, kind=entry.kind,
        profile=name, read=entry.read,
    )  # fmt: skip


OCR_DEVIATION = "--backend ocr: points from OCR text search, not a grounding model's answer"


def pin_protocol(
    spec: ModelSpec, *, min_pixels: int | None = None, max_pixels: int | None = None
) -> tuple[ModelSpec, str | None]:
    """`spec` with its profile's benchmark protocol pinned: the profile (even when detected)
    and its benchmark pixel limits (`min_pixels` / `max_pixels` override them), so that the
    run's fingerprint and result file name them. Also returns why that profile was chosen.

    What `agent eval screenspot` runs with; call it to run `agent.eval.runner.ScreenSpotRun`
    from Python with the same settings.
    """
    resolved = spec.resolve()
    chosen = resolved.profile
    low, high = chosen.pixel_limits("benchmark", min_pixels=min_pixels, max_pixels=max_pixels)
    fields = spec.model_dump(exclude_unset=True)
    fields.update(profile=chosen.name, min_pixels=low, max_pixels=high)
    return ModelSpec(**fields), resolved.reason


def deviations(
    parser: AnswerParser, spec: ModelSpec, profile: Profile | None, *, skipped: int
) -> list[str]:
    """What makes a run's official rows non-official, each said in one phrase."""
    found = []
    if spec.backend == "ocr":
        found.append(OCR_DEVIATION)
    elif not parser.official:
        found.append(
            "--parser robust: answers read by the agent's lenient parser (malformed "
            "answers repaired), not by the official reader"
        )
    elif spec.coordinate_override() is not None and profile is not None:
        found.append(
            f"--family {spec.family.value if spec.family else ''}: answers read as "
            f"{parser.source} reads them, but the prompt is profile {profile.name}'s"
        )
    if profile is not None and spec.backend != "ocr":
        used = spec.pixel_limits(profile)
        authors = profile.pixel_limits("benchmark")
        if used != authors:
            found.append(
                f"pixels {used[0]}..{used[1]}, not profile {profile.name}'s benchmark limits "
                f"{authors[0]}..{authors[1]}"
            )
    if skipped:
        found.append(
            f"--skip-bad: {skipped} bad record(s) or image(s) left out of every denominator"
        )
    return found


def protocol_record(
    parser: AnswerParser, spec: ModelSpec, found: list[str], *, reason: str | None = None
) -> dict[str, Any]:
    """The result file's ``protocol``: judging (official or not, why, parser, reader, its
    source) and the settings every request ran with (`ModelSpec.protocol_record`).

    `reason` says why the profile was chosen when `spec` has it pinned (detected, --family).
    """
    official = not found
    label = OFFICIAL_LABEL if official else "NON-OFFICIAL: " + "; ".join(found)
    judging = Protocol(
        official=official, label=label, deviations=found, **parser.describe()
    ).model_dump()
    if spec.backend == "ocr":
        settings: dict[str, Any] = {"profile": None, "backend": "ocr"}
    else:
        settings = spec.protocol_record()
        settings["family"] = spec.family.value if spec.family else None
        if reason is not None:
            settings["profile_reason"] = reason
    return {**judging, **settings}
