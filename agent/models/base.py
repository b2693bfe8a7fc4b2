"""The one-method model interface every backend implements.

A backend turns requests (a screenshot plus what is asked) into raw answer
text and reports the frame it answered in. Everything else - the model's
profile (`agent.models.profiles`: prompts, pixels, coordinate space, answer
format), prompts built from it by `agent.models.prompts`, answers parsed by
`actions.answer_formats`, points mapped by `actions.frames` - is shared, so a
grounding result means the same thing whichever backend produced it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from actions.frames import CoordinateFrame, ModelFamily

if TYPE_CHECKING:
    from agent.models.profile import Profile


class ModelRequest(BaseModel):
    """One question about one screenshot.

    kind="ground": where is `instruction` on the image?
    kind="act": what is the next action towards the goal `instruction`,
    given the `history` of earlier steps (their tool-call text)?
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    kind: Literal["ground", "act"]
    image: Image.Image = Field(description="the screenshot, RGB, at its original size")
    instruction: str = Field(min_length=1)
    history: list[str] = Field(default_factory=list)
    mobile: bool = False
    correction: str | None = Field(None, description="feedback after an unparseable answer")


class ModelReply(BaseModel):
    """The raw answer and the frame it must be read in."""

    model_config = ConfigDict(frozen=True)

    raw: str
    frame: CoordinateFrame
    profile: str | None = Field(None, description="the profile whose answer format applies")
    visual_tokens: int | None = None
    seconds: dict[str, float] = Field(default_factory=dict)


class Model(ABC):
    """A grounding / next-action model. Implement `answer`; nothing else is required."""

    family: ModelFamily = ModelFamily.QWEN2_5_VL
    profile: Profile | None = None  # None: a grounder that is not a VLM (OCR)

    @abstractmethod
    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        """Answer a batch of requests, in order. Backends batch or parallelise as they can."""

    def close(self) -> None:
        """Release the model (GPU memory, HTTP clients)."""

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
