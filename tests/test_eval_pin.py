"""Eval's protocol pinning is a library call: what `agent eval screenspot` runs with."""

from __future__ import annotations

from agent.eval.protocol import pin_protocol
from agent.models.profiles import get_profile
from agent.models.spec import ModelSpec


def test_pin_protocol_names_the_detected_profile_and_its_benchmark_pixels() -> None:
    spec = ModelSpec(backend="openai", model="Tongyi-MAI/MAI-UI-8B", base_url="http://h:1/v1")
    pinned, reason = pin_protocol(spec)
    profile = get_profile(pinned.profile or "")
    assert pinned.profile == "mai-ui" and reason
    assert (pinned.min_pixels, pinned.max_pixels) == profile.pixel_limits("benchmark")
    assert pinned.model == spec.model and pinned.base_url == spec.base_url
    low, _ = pin_protocol(spec, max_pixels=1_000_000)[0].pixel_limits(profile)
    assert pin_protocol(spec, max_pixels=1_000_000)[0].max_pixels == 1_000_000 and low
