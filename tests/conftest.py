"""Shared test configuration.

Fixtures live in tests/fixtures/ (one module per real peer: a virtual display
with real apps, an adb server speaking the real protocol, a tiny Qwen2.5-VL
checkpoint). In CI (SCREENPILOT_CI=1) a skipped test fails the run: a missing
system dependency must never turn into a green build that tested nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.display",
    "tests.fixtures.adb_server",
    "tests.fixtures.tiny_qwen",
    "tests.fixtures.grounding_server",
]

IN_CI = bool(os.environ.get("SCREENPILOT_CI"))

# A real official ScreenSpot-Pro result file (Qwen2-VL, 1581 samples), copied from
# ../shared/data so that a clean clone tests against it wherever it is checked out.
REAL_RESULTS = Path(__file__).parent / "data" / "screenspot_pro" / "qwen2vl_results.json"


def need(condition: bool, reason: str) -> None:
    """Skip the test when `condition` is false; in CI, fail it instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI is missing a dependency: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _locate_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Locate caches (agent.cache) go to the test run's tmp, never beside tasks/examples/*.yaml
    or into ~/.cache; set in os.environ, so CLI subprocesses inherit it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCREENPILOT_LOCATE_CACHE", str(tmp_path_factory.mktemp("locate-cache")))
        yield


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nCI: {len(_skipped)} test(s) were skipped; failing the run: {_skipped[:5]}")
