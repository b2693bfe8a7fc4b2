"""ScreenSpot benchmark datasets: ScreenSpot-Pro, ScreenSpot-v2 and ScreenSpot v1, from a folder.

Formats on disk:

* **pro**: ``annotations/<task>.json`` (one JSON list per task file, e.g.
  ``vscode_macos.json``) and ``images/<folder>/<file>.png``. Records carry a
  corner box ``[x1, y1, x2, y2]`` in pixels, ``img_size``, ``application``,
  ``platform``, ``group``, ``ui_type`` and an English and a Chinese instruction.
* **v2** / **v1** (SeeClick, OS-Atlas): ``screenspot_{mobile,desktop,web}[_v2].json``
  with boxes as ``[left, top, width, height]``, ``data_type`` (text|icon) and
  ``data_source``; images in ``screenspotv2_image/``, ``screenspot_imgs/`` or
  ``images/``. Boxes are converted to corners; the image size is read from the
  image header, the split (mobile/desktop/web) becomes the platform.

Every sample gets a stable id (task file, record index, language) that the
resumable runner keys its progress on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.project_errors import InputError
from agent.eval.samples import BadRecord, Dataset, DatasetFormat, Language, Sample

log = logging.getLogger(__name__)

Coord = Annotated[float, Field(ge=-1e6, le=1e6)]
IMAGE_DIRS = ("images", "screenspotv2_image", "screenspot_imgs", "imgs")
SEECLICK_FILE = re.compile(r"^screenspot_(?P<split>[a-z]+?)(?P<v2>_v2)?\.json$")


class ProRecord(BaseModel):
    """One ScreenSpot-Pro annotation record (unknown extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    img_filename: str = Field(min_length=1)
    bbox: tuple[Coord, Coord, Coord, Coord]
    instruction: str = Field(min_length=1)
    instruction_cn: str | None = None
    id: str | int | None = None
    application: str
    platform: str
    img_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]]
    ui_type: Literal["text", "icon"]
    group: str | None = None


class SeeClickRecord(BaseModel):
    """One ScreenSpot v1/v2 record: the box is ``[left, top, width, height]``."""

    model_config = ConfigDict(extra="allow")

    img_filename: str = Field(min_length=1)
    bbox: tuple[Coord, Coord, Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]]
    instruction: str = Field(min_length=1)
    data_type: Literal["text", "icon"]
    data_source: str | None = None


def xywh_to_xyxy(box: Sequence[float]) -> tuple[float, float, float, float]:
    """``[left, top, width, height]`` to corners ``[x1, y1, x2, y2]``."""
    left, top, width, height = box
    return (left, top, left + width, top + height)


class Filters(BaseModel):
    """Which samples to keep; an empty list keeps everything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tasks: list[str] = Field(default_factory=list, description="task file names, no .json")
    applications: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    ui_types: list[Literal["text", "icon"]] = Field(default_factory=list)
    limit: Annotated[int, Field(ge=1)] | None = None

    def keeps(self, sample: Sample) -> bool:
        checks = (
            (self.tasks, sample.task_filename),
            (self.applications, sample.application),
            (self.groups, sample.group),
            (self.platforms, sample.platform),
            (self.ui_types, sample.ui_type),
        )
        return all(not want or _casefold(value) in _casefold_all(want) for want, value in checks)


def _casefold(value: str | None) -> str:
    return (value or "").casefold()


def _casefold_all(values: Iterable[str]) -> set[str]:
    return {v.casefold() for v in values}


def detect_format(root: Path) -> DatasetFormat:
    """Guess the layout of a ScreenSpot folder from its file names."""
    if (root / "annotations").is_dir():
        return DatasetFormat.PRO
    names = [p.name for p in root.glob("screenspot_*.json")]
    if any(SEECLICK_FILE.match(n) and n.endswith("_v2.json") for n in names):
        return DatasetFormat.V2
    if any(SEECLICK_FILE.match(n) for n in names):
        return DatasetFormat.V1
    raise InputError(
        f"{root}: not a ScreenSpot folder (no annotations/ folder for ScreenSpot-Pro and no "
        "screenspot_<split>[_v2].json files for ScreenSpot v1/v2)"
    )


def _image_root(root: Path, fmt: DatasetFormat, images: Path | None) -> Path:
    if images is not None:
        if not images.is_dir():
            raise InputError(f"images folder {images} does not exist")
        return images
    candidates = ("images",) if fmt is DatasetFormat.PRO else IMAGE_DIRS
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    if fmt is DatasetFormat.PRO:
        raise InputError(f"{root}: images/ folder is missing (ScreenSpot-Pro keeps images there)")
    return root


def _read_json_list(path: Path) -> list[object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _validation_reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    msg = "missing field" if err.get("type") == "missing" else err.get("msg", "invalid value")
    return f"field {loc!r}: {msg}" if loc else msg


def _image_size(path: Path) -> tuple[int, int]:
    """The size from the image header (cheap: no pixel decode)."""
    if not path.is_file():
        raise ValueError(f"image {path} does not exist")
    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"image {path} cannot be decoded ({exc})") from None


def _collect(
    path: Path, bad: list[BadRecord], build: Callable[[int, dict], list[Sample]]
) -> list[Sample]:
    """Samples of every record of an annotation file; bad records go to `bad`, named."""
    out: list[Sample] = []
    for index, raw in enumerate(_read_json_list(path)):
        try:
            if not isinstance(raw, dict):
                raise ValueError(f"expected an object, got {type(raw).__name__}")
            out.extend(build(index, raw))
        except ValidationError as exc:
            bad.append(BadRecord(file=str(path), index=index, reason=_validation_reason(exc)))
        except ValueError as exc:
            bad.append(BadRecord(file=str(path), index=index, reason=str(exc)))
    return out


def _pro_samples(
    path: Path, image_root: Path, langs: Sequence[Language], bad: list[BadRecord]
) -> list[Sample]:
    task = path.stem

    def build(index: int, raw: dict) -> list[Sample]:
        rec = ProRecord.model_validate(raw)
        image_path = image_root / rec.img_filename
        size = _image_size(image_path)
        if tuple(rec.img_size) != size:
            raise ValueError(f"img_size {list(rec.img_size)} but the image is {list(size)}")
        samples = []
        for lang in langs:
            text = rec.instruction if lang == "en" else rec.instruction_cn
            if not text:
                raise ValueError("field 'instruction_cn': missing (needed for --lang cn)")
            samples.append(
                Sample(
                    sample_id=f"{task}:{index}:{lang}",
                    image_path=image_path,
                    img_filename=rec.img_filename,
                    bbox=_ordered(rec.bbox),
                    img_size=size,
                    instruction=text,
                    lang=lang,
                    group=rec.group,
                    platform=rec.platform,
                    application=rec.application,
                    ui_type=rec.ui_type,
                    task_filename=task,
                    record_index=index,
                )
            )
        return samples

    return _collect(path, bad, build)


def _seeclick_samples(path: Path, image_root: Path, bad: list[BadRecord]) -> list[Sample]:
    match = SEECLICK_FILE.match(path.name)
    split = match.group("split") if match else path.stem
    task = path.stem

    def build(index: int, raw: dict) -> list[Sample]:
        rec = SeeClickRecord.model_validate(raw)
        image_path = image_root / rec.img_filename
        return [
            Sample(
                sample_id=f"{task}:{index}:en",
                image_path=image_path,
                img_filename=rec.img_filename,
                bbox=xywh_to_xyxy(rec.bbox),
                img_size=_image_size(image_path),
                instruction=rec.instruction,
                platform=split,
                application=rec.data_source or split,
                ui_type=rec.data_type,
                task_filename=task,
                record_index=index,
            )
        ]

    return _collect(path, bad, build)


def _ordered(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def annotation_files(root: Path, fmt: DatasetFormat) -> list[Path]:
    """The annotation files of a dataset folder, sorted by name."""
    if fmt is DatasetFormat.PRO:
        folder = root / "annotations"
        if not folder.is_dir():
            raise InputError(f"{root}: annotations/ folder is missing")
        files = sorted(folder.glob("*.json"))
        if not files:
            raise InputError(f"{folder}: no annotation files (*.json)")
        return files
    want_v2 = fmt is DatasetFormat.V2
    files = []
    for path in sorted(root.glob("screenspot_*.json")):
        match = SEECLICK_FILE.match(path.name)
        if match and bool(match.group("v2")) == want_v2:
            files.append(path)
    if not files:
        suffix = "_v2" if want_v2 else ""
        raise InputError(f"{root}: no screenspot_<split>{suffix}.json files")
    return files


def load_dataset(
    root: str | Path,
    *,
    fmt: DatasetFormat | str | None = None,
    images: str | Path | None = None,
    filters: Filters | None = None,
    lang: Literal["en", "cn", "all"] = "en",
    skip_bad: bool = False,
) -> Dataset:
    """Load and filter a ScreenSpot dataset folder.

    Args:
        root: the dataset folder.
        fmt: pro, v2 or v1; detected from the file names when None.
        images: image folder, when it is not the format's usual place.
        filters: task files, applications, groups, platforms, ui types, limit.
        lang: English (``instruction``), Chinese (``instruction_cn``, Pro only) or both.
        skip_bad: leave out broken records (counted in `Dataset.skipped`) instead
            of failing with a one-line error that names the first one.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist")
    fmt = detect_format(root) if fmt is None else DatasetFormat(fmt)
    filters = filters or Filters()
    if lang != "en" and fmt is not DatasetFormat.PRO:
        raise InputError(f"--lang {lang}: only ScreenSpot-Pro has Chinese instructions")
    image_root = _image_root(root, fmt, Path(images) if images else None)
    files = annotation_files(root, fmt)
    if filters.tasks:
        known = {p.stem for p in files}
        unknown = sorted(set(filters.tasks) - known)
        if unknown:
            raise InputError(
                f"unknown task file(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        files = [p for p in files if p.stem in set(filters.tasks)]
    langs: list[Language] = ["en", "cn"] if lang == "all" else [lang]
    bad: list[BadRecord] = []
    samples: list[Sample] = []
    for path in files:
        if fmt is DatasetFormat.PRO:
            found = _pro_samples(path, image_root, langs, bad)
        else:
            found = _seeclick_samples(path, image_root, bad)
        samples.extend(s for s in found if filters.keeps(s))
        if filters.limit is not None and len(samples) >= filters.limit:
            break
    if bad and not skip_bad:
        more = f" (and {len(bad) - 1} more; --skip-bad leaves them out)" if len(bad) > 1 else ""
        raise InputError(bad[0].describe() + more)
    for record in bad:
        log.warning("skipped %s", record.describe())
    if filters.limit is not None:
        samples = samples[: filters.limit]
    return Dataset(root=root, format=fmt, samples=samples, skipped=bad)
