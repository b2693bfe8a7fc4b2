"""Profiles travel as objects: a hand-built profile is read with its own answer format."""

from __future__ import annotations

import pytest
from PIL import Image

from actions.answer_formats import AnswerFormat
from actions.frames import CoordinateFrame
from actions.project_errors import InputError
from agent.eval.harness_readers import Reading
from agent.eval.protocol import answer_parser
from agent.grounding import ground
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.profile import OfficialReader
from agent.models.profiles import PARSER, get_profile


class OneAnswer(Model):
    """Answers every request with the same text, naming its profile as backends do."""

    def __init__(self, profile, raw: str) -> None:
        self.profile, self.raw = profile, raw

    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        frame = CoordinateFrame.for_image((1000, 1000), max_pixels=1000 * 1000)
        return [ModelReply(raw=self.raw, frame=frame, profile=self.profile.name) for _ in requests]


def test_a_hand_built_profile_is_used_as_is_not_looked_up_by_name() -> None:
    fmt = AnswerFormat(answer_tag="answer", loose_point=True)
    own = get_profile("qwen2.5-vl").model_copy(update={"name": "my-grounder", "answer": fmt})
    model = OneAnswer(own, "near (10, 20) is a label; <answer>(300, 400)</answer>")
    result = ground(model, Image.new("RGB", (1000, 1000)), "the button")
    assert result.error is None
    assert result.model_xy == (300, 400)  # its own format: the point inside <answer>


def test_a_hand_built_profile_is_judged_by_its_own_official_reader() -> None:
    """The official reader travels on the profile: no second table keyed by its name."""

    def read_answer_tag(raw: str, frame: CoordinateFrame) -> Reading:
        x, y = raw.removeprefix("<answer>").removesuffix("</answer>").split(",")
        return Reading(point=(int(x) / 1000, int(y) / 1000), model_xy=(int(x), int(y)))

    reader = OfficialReader(
        name="my-eval", source="me/my-grounder @ 0123456 eval.py", kind=PARSER, read=read_answer_tag
    )
    own = get_profile("qwen2.5-vl").model_copy(update={"name": "my-grounder", "reader": reader})
    parser = answer_parser("official", own, backend="openai")
    assert (parser.reader, parser.source, parser.profile) == (
        "my-eval", "me/my-grounder @ 0123456 eval.py", "my-grounder"
    )  # fmt: skip
    frame = CoordinateFrame.for_image((1000, 1000), max_pixels=1000 * 1000)
    assert parser.read("<answer>250,500</answer>", frame).point == (0.25, 0.5)
    # a profile without a reader is refused up front, in one line naming it
    bare = own.model_copy(update={"name": "no-reader", "reader": None})
    with pytest.raises(InputError, match="no official answer reader for profile no-reader"):
        answer_parser("official", bare, backend="openai")
