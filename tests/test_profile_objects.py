"""Profiles travel as objects: a hand-built profile is read with its own answer format."""

from __future__ import annotations

from PIL import Image

from actions.answers import AnswerFormat
from actions.frames import CoordinateFrame
from agent.grounding import ground
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.profiles import get_profile


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
