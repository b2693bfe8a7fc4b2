"""`agent eval screenspot` as a library call: `run_screenspot(EvalOptions) -> EvalResult`.

Everything the command does beyond reading its options: the dataset loaded and
filtered, the protocol pinned (`agent.eval.protocol.pin_protocol`), the model
loaded only when samples are left to ground, the run made (resumable, into
``out``) and its result file written. The CLI translates options into
`EvalOptions` and prints the tables; a Python caller gets the same result file::

    from agent.models.spec import ModelSpec
    from tasks.screenspot_eval import EvalOptions, run_screenspot

    result = run_screenspot(EvalOptions(data="ScreenSpot-Pro", out="ssp.json",
                                        spec=ModelSpec(model="Qwen/Qwen2.5-VL-3B-Instruct")))
    print(result.report["metrics"]["overall"]["action_acc"])

It lives in `tasks` (not `agent.eval`) because the dataset readers are
`tasks.screenspot`'s, a layer above `agent`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from actions.project_errors import InputError
from agent.eval.harness_readers import ParserName
from agent.eval.runner import RunStats
from agent.models.spec import ModelSpec
from tasks.screenspot import Filters


class EvalOptions(BaseModel):
    """One ScreenSpot run: the data, the model and how its answers are judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: Path = Field(description="ScreenSpot-Pro / v2 / v1 folder")
    out: Path = Field(description="result file (official format); progress resumes from it")
    format: Literal["pro", "v2", "v1"] | None = Field(None, description="default: detected")
    images: Path | None = Field(None, description="image folder, if elsewhere")
    filters: Filters = Field(default_factory=Filters)
    lang: Literal["en", "cn", "all"] = "en"
    skip_bad: bool = Field(False, description="skip broken records, counted in the file")
    spec: ModelSpec = Field(description="the model; its profile's protocol is pinned")
    min_pixels: int | None = Field(None, gt=0, description="default: the profile's")
    max_pixels: int | None = Field(None, gt=0, description="default: the benchmark limit")
    parser: ParserName = "official"
    zoom: bool = Field(False, description="also a second pass on a crop (own rows)")
    zoom_size: str | None = Field(None, description="fraction of each side, N or WxH")
    two_stage: bool = Field(
        False,
        description="ground in two passes (agent.two_stage; the spec's settings, else the "
        "profile's, else the defaults): two-stage, not an official protocol",
    )
    restart: bool = Field(False, description="ignore earlier progress for `out`")
    ray: bool = Field(
        False, description="send the samples as Ray tasks ($RAY_ADDRESS, else a local cluster)"
    )
    batch_size: int | None = Field(None, gt=0, description="default: by device")


class EvalResult(BaseModel):
    """What a run wrote and did."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    out: Path
    report: dict[str, Any] = Field(description="the result file's content")
    stats: RunStats
    endpoints: str | None = Field(None, description="several endpoints: how each fared")

    @property
    def label(self) -> str:
        return self.report["protocol"]["label"]


def run_screenspot(
    options: EvalOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[RunStats], None] | None = None,
) -> EvalResult:
    """Ground every sample of the dataset and write the official result file (resumable).

    `on_start` is called with the number of samples once the input is checked,
    `on_progress` after each batch. Bad input (dataset, settings, another
    language's file at `out`) is a one-line `InputError` before any model loads.
    """
    from agent.eval.protocol import pin_protocol
    from agent.eval.runner import RunSettings, ScreenSpotRun
    from agent.eval.zoom import parse_zoom_size
    from agent.models.load import load_model
    from tasks.screenspot import load_dataset

    if not options.restart:
        refuse_other_language(options.out, options.lang)
    spec, reason = pin_protocol(
        _two_stage(options), min_pixels=options.min_pixels, max_pixels=options.max_pixels
    )
    settings = RunSettings(
        spec=spec, zoom=options.zoom, zoom_size=parse_zoom_size(options.zoom_size),
        parser=options.parser, profile_reason=reason,
    )  # fmt: skip
    dataset = load_dataset(
        options.data, fmt=options.format, images=options.images, filters=options.filters,
        lang=options.lang, skip_bad=options.skip_bad,
    )  # fmt: skip
    if not dataset.samples:
        raise InputError(f"{options.data}: no sample matches the filters")
    runner = ScreenSpotRun(dataset, settings, options.out, skip_bad=options.skip_bad)
    loaded: list[Any] = []
    stack = contextlib.ExitStack()

    def load() -> Any:
        loaded.append(load_model(spec))
        if options.ray:
            from agent.parallel.ray_eval import ray_model

            return stack.enter_context(ray_model(spec, loaded[-1]))
        return loaded[-1]

    if on_start is not None:
        on_start(len(dataset.samples))
    with stack:
        report, stats = runner.run(
            None, restart=options.restart, on_progress=on_progress,
            batch_size=options.batch_size, load_model=load,
        )  # fmt: skip
    # Under Ray each worker has its own endpoint pool: the local one saw no request.
    endpoints = None if options.ray else _endpoints(loaded)
    return EvalResult(out=options.out, report=report, stats=stats, endpoints=endpoints)


def _two_stage(options: EvalOptions) -> ModelSpec:
    """The spec, with two-stage settings when `options.two_stage` asks and it has none."""
    spec = options.spec
    if not options.two_stage or spec.two_stage is not None:
        return spec
    from agent.models.profile import TwoStage

    chosen = spec.resolve(read_config=False).profile.two_stage if spec.backend != "ocr" else None
    fields = spec.model_dump(exclude_unset=True)
    fields["two_stage"] = chosen or TwoStage()
    return ModelSpec(**fields)


def _endpoints(loaded: list[Any]) -> str | None:
    pool = getattr(loaded[0], "pool", None) if loaded else None
    if pool is None or len(pool) <= 1:
        return None
    failed = pool.failures()
    retried = f" (failed requests were retried on another: {failed})" if failed else ""
    return f"{pool.describe()}{retried}"


def refuse_other_language(out: Path, lang: str) -> None:
    """A finished result file of another language at `out` is kept, not silently replaced."""
    from agent.eval.results import load_results

    if not out.is_file():
        return
    try:
        langs = {row.lang for row in load_results(out).details}
    except InputError:
        return  # not a result file: the run's own checks speak about it
    wanted = {"en", "cn"} if lang == "all" else {lang}
    if langs and langs != wanted:
        shown = "all" if langs == {"en", "cn"} else ", ".join(sorted(langs))
        raise InputError(
            f"{out} holds results of --lang {shown}; this run is --lang {lang}: write it to "
            f"another --out (e.g. {out.with_name(f'{out.stem}-{lang}{out.suffix}')}) "
            "or pass --restart to replace it"
        )
