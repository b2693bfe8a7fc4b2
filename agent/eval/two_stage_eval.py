"""``agent eval --two-stage``: each sample grounded in two passes (`agent.two_stage`).

Not an official protocol of any model: the run's deviations say so
(`agent.eval.protocol.deviations`), so its label, printed tables and result file
are non-official, and the two-stage settings are part of the run's fingerprint
(the spec's ``two_stage``), so such rows never resume into an official run.
Each pass is read by the run's own parser (the profile's official reader under
``--parser official``); the row's point is the second pass's, mapped back to the
screenshot, or the first pass's when the second finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from agent.eval.harness_readers import Reading
from agent.grounding import GroundingResult
from agent.models.base import ModelReply
from agent.models.profile import TwoStage
from agent.two_stage import ground_two_stage

Answer = Callable[[list[Image.Image], list[str]], list[ModelReply]]


def ground_in_two_stages(
    model: Any,
    image: Image.Image,
    instruction: str,
    settings: TwoStage,
    answer: Answer,
    read: Callable[[ModelReply], Reading],
) -> GroundingResult:
    """One sample in two passes; the result is in `image`'s pixels (``two_stage``: both
    passes and their agreement)."""

    def one_pass(seen: Image.Image) -> GroundingResult:
        reply = answer([seen], [instruction])[0]
        reading = read(reply)
        point = None
        if reading.point is not None and not reading.refused:
            point = (reading.point[0] * seen.width, reading.point[1] * seen.height)
        error = None if point is not None else (reading.error or "no point in the answer")
        return GroundingResult(
            point=point, raw=reply.raw, model_size=reply.frame.model_size, image_size=seen.size,
            visual_tokens=reply.visual_tokens, error=error,
        )  # fmt: skip

    return ground_two_stage(model, image, settings, one_pass)
