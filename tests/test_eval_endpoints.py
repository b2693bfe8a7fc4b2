"""`agent eval --base-url A --base-url B ...`: requests spread over endpoints, one failing.

Three chat-completions servers on loopback speaking the real protocol
(tests/test_models_openai.py's FakeServer: it clicks the centre of the image it
receives): two answer, one answers every request with HTTP 500. The result file
must hold the same predictions as a run against one endpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.cli.main import main
from tests.made_data import made_dataset

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"


def test_two_good_endpoints_and_a_failing_one_give_the_single_endpoint_result(
    tmp_path: Path, capsys
) -> None:
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer

    good, other, broken = FakeServer(), FakeServer(), FakeServer()
    for server in (good, other):
        server.script = lambda body, number: (200, {}, 0.05)  # slow enough to overlap
    broken.script = lambda body, number: (500, {"error": {"message": "replica down"}}, 0.0)
    base = ["eval", "screenspot", "--data", str(made_dataset()), "--backend", "openai",
            "--model", MODEL, "--concurrency", "2", "--limit", "12", "--no-progress"]  # fmt: skip
    try:
        assert main([*base, "--base-url", good.base_url, "--out", str(tmp_path / "one.json")]) == 0
        alone = len(good.requests)
        capsys.readouterr()
        # The first --base-url names the run (its fingerprint), as with one endpoint.
        many = ["--base-url", good.base_url, "--base-url", broken.base_url,
                "--base-url", other.base_url]  # fmt: skip
        assert main([*base, *many, "--out", str(tmp_path / "three.json")]) == 0
        out = capsys.readouterr().out
    finally:
        for server in (good, other, broken):
            server.close()
    one = json.loads((tmp_path / "one.json").read_text())
    three = json.loads((tmp_path / "three.json").read_text())
    assert three["details"] == one["details"] and three["metrics"] == one["metrics"]
    assert three["run"]["fingerprint"] == one["run"]["fingerprint"]
    assert alone == 12
    assert len(good.requests) - alone > 0 and len(other.requests) > 0  # both served
    assert len(good.requests) - alone + len(other.requests) == 12
    assert broken.requests  # it was tried, failed, and its requests went elsewhere
    shown = " ".join(out.split())  # rich wraps long lines
    assert re.search(rf"{re.escape(broken.base_url)}: 0 answered, [12] failed", shown), out
