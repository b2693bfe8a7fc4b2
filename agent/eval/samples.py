"""What a grounding benchmark is made of, as the evaluation runner sees it.

The runner (`agent.eval.runner`) works on these types; the file formats that
produce them (ScreenSpot-Pro, -v2, v1 folders) are read by `tasks.screenspot`,
a layer above, so that the evaluation core does not depend on task files.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["en", "cn"]


class DatasetFormat(str, Enum):
    """The annotation layout of a ScreenSpot folder."""

    PRO = "pro"
    V2 = "v2"
    V1 = "v1"


class Sample(BaseModel):
    """One grounding question, in the fields the official result rows use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_id: str
    image_path: Path
    img_filename: str
    bbox: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in image pixels")
    img_size: tuple[int, int]
    instruction: str = Field(description="the prompt to evaluate, in the chosen language")
    lang: Language = "en"
    instruction_style: str = "instruction"
    # Always positive: ScreenSpot-Pro records only describe targets that are on the screen
    # (see README, `agent eval`: negative samples).
    gt_type: Literal["positive"] = "positive"
    group: str | None = None
    platform: str
    application: str
    ui_type: Literal["text", "icon"]
    task_filename: str
    record_index: int


class BadRecord(BaseModel):
    """A record left out with --skip-bad, and why."""

    file: str
    index: int | None
    reason: str

    def describe(self) -> str:
        where = self.file if self.index is None else f"{self.file} record {self.index}"
        return f"{where}: {self.reason}"


class Dataset(BaseModel):
    """A loaded, filtered ScreenSpot dataset."""

    model_config = ConfigDict(frozen=True)

    root: Path
    format: DatasetFormat
    samples: list[Sample]
    skipped: list[BadRecord] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)
