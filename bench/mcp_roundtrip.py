"""A `click` through `agent mcp` over stdio vs the same click through `agent do`, at 1080p.

    .venv/bin/python bench/mcp_roundtrip.py [--calls 100] [--do-runs 20]

Starts its own 1920x1080 Xvfb and the test event logger, then:

* mcp: the official MCP SDK client (`ClientSession` over `stdio_client`) calls the
  ``click`` tool at x, y (no model involved) against one ``agent mcp`` server: the
  round trip from ``call_tool`` to its result, median over `--calls` calls after 10
  warm-up calls. Each call is a full server step: capture (the step's observation),
  validation, the click, the record;
* agent do: ``agent do click X Y`` as a subprocess, what a client without MCP would
  run per action (Python start-up and imports included), median over `--do-runs`;
* env.act: the click alone in this process (`DesktopEnv.act`), the floor.

Every click is checked to have reached the app. Prints one JSON line. Target: the
MCP round trip <= 20 ms at 1080p.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1e3, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1e3, 2),
        "n": len(ordered),
    }


async def mcp_clicks(display: str, x: int, y: int, calls: int) -> list[float]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    env = {**os.environ, "DISPLAY": display}
    agent = Path(sys.executable).with_name("agent")
    params = StdioServerParameters(command=str(agent), args=["mcp"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for _ in range(10):
                await session.call_tool("click", {"x": x, "y": y})
            times = []
            for i in range(calls):
                t0 = time.perf_counter()
                result = await session.call_tool("click", {"x": x + i % 5, "y": y})
                times.append(time.perf_counter() - t0)
                assert not result.is_error, result
            return times


def main() -> int:
    import anyio

    from actions.types import Click
    from bench.timing import machine
    from env.desktop import DesktopEnv
    from env.virtual_display import VirtualDisplay
    from tests.fixtures.display import start_event_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--do-runs", type=int, default=20)
    args = parser.parse_args()

    with VirtualDisplay((1920, 1080)) as display, tempfile.TemporaryDirectory() as tmp:
        app = start_event_app(Path(tmp) / "events.jsonl", display=display.name)
        try:
            x, y = app.center("pad")
            mark = app.mark()
            mcp = anyio.run(mcp_clicks, display.name, x, y, args.calls)
            arrived = len(app.events("press", mark))
            assert arrived == args.calls + 10, f"{arrived} clicks reached the app"

            agent = Path(sys.executable).with_name("agent")
            env = {**os.environ, "DISPLAY": display.name}
            do = []
            mark = app.mark()
            for _ in range(args.do_runs):
                t0 = time.perf_counter()
                subprocess.run(
                    [str(agent), "do", "click", str(x), str(y)],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                do.append(time.perf_counter() - t0)
            assert len(app.events("press", mark)) == args.do_runs

            act = []
            with DesktopEnv() as desktop:
                desktop.act(Click(x=x, y=y))
                for _ in range(args.calls):
                    t0 = time.perf_counter()
                    desktop.act(Click(x=x, y=y))
                    act.append(time.perf_counter() - t0)
        finally:
            app.stop()
    mcp_row, do_row = ms(mcp), ms(do)
    print(
        json.dumps(
            {
                "bench": "mcp_roundtrip",
                "screen": "1920x1080",
                "mcp_click_stdio": mcp_row,
                "agent_do_click_subprocess": do_row,
                "env_act_click_in_process": ms(act),
                "ratio_do_over_mcp": round(do_row["median_ms"] / mcp_row["median_ms"], 1),
                "target_ms": 20,
                "met": mcp_row["median_ms"] <= 20,
                "machine": machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
