"""The protocol a ScreenSpot run follows: which reader judges the answers, and the record.

`answer_parser` picks the reader for a run from its profile (``--profile``,
detected, or the profile ``--family`` names): under ``--parser official`` the
profile's official reader (`Profile.reader`, on the profile object itself, naming
the code it follows), under ``--parser robust`` the agent's lenient parser in that
profile's answer format. ``--family qwen2-vl`` (a coordinate space without a
profile of its own) reads as the ScreenSpot-Pro harness's qwen2vl.py does.

`protocol_record` is the one place the result file's ``protocol`` (also kept as
``run.protocol``) is built: official or not and why, the parser, reader and its
source, the profile and every setting the requests ran with.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict

from actions.frames import ModelFamily
from actions.project_errors import InputError
from agent.eval.harness_readers import ParserName, Reader, read_qwen2_vl, read_robust
from agent.eval.results import OFFICIAL_LABEL, Protocol
from agent.models.profile import OfficialReader, Profile
from agent.models.profiles import PROFILES, SSP
from agent.models.spec import ModelSpec

# --family values that change only the coordinate space of a profile (no profile of their own).
FAMILY_READERS: dict[ModelFamily, OfficialReader] = {
    ModelFamily.QWEN2_VL: OfficialReader(
        name="ssp-qwen2-vl",
        source=f"{SSP} models/qwen2vl.py",
        kind="ScreenSpot-Pro harness",
        read=read_qwen2_vl,
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
            source=f"actions.answer_formats.parse_model_answer (the agent's parser){where}",
            kind="screenpilot's lenient parser",
            profile=name,
            read=partial(read_robust, fmt=fmt),
        )
    if family is not None:
        entry = FAMILY_READERS.get(family)
        what = f"--family {family.value}"
    else:
        # the reader travels on the profile: a hand-built profile brings its own
        entry = profile.reader if name is not None and profile is not None else None
        what = f"profile {name}"
    if entry is None:
        having = [p.name for p in PROFILES.values() if p.reader is not None]
        raise InputError(
            f"--parser official: no official answer reader for {what} (readers exist for "
            f"profiles {', '.join(having)} and --family "
            f"{', '.join(f.value for f in FAMILY_READERS)}); pass --parser robust (results "
            "are labelled non-official)"
        )
    return AnswerParser(
        parser="official", reader=entry.name, source=entry.source, kind=entry.kind,
        profile=name, read=entry.read,
    )  # fmt: skip


TWO_STAGE = "two-stage, not an official protocol"
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
    if spec.two_stage is not None and spec.backend != "ocr":
        found.append(
            f"--two-stage: {TWO_STAGE} (a whole-screen pass at most "
            f"{spec.two_stage.first_max_pixels} pixels, then one on a crop around its point)"
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
        two = spec.two_stage
        settings["two_stage"] = {"protocol": TWO_STAGE, **two.model_dump()} if two else None
        if reason is not None:
            settings["profile_reason"] = reason
    return {**judging, **settings}
