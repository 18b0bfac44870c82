"""Benchmarks of gmi_magics: load cost, per-turn overhead, streaming display cost.

    python benchmarks/run.py          # full run (about 2-3 minutes on 2 cores)
    python benchmarks/run.py --quick  # fewer repetitions (under a minute)

Prints a markdown table and writes the same to ``benchmarks/results.md``.  Every
figure is a median of fresh runs; baselines are measured in the same run,
interleaved with what they are compared to.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load_cost  # noqa: E402
import per_turn  # noqa: E402
import per_turn_offline  # noqa: E402
import pipeline  # noqa: E402
import streaming  # noqa: E402
from harness import Row, gmi_shell, table  # noqa: E402
from server import ServerProcess  # noqa: E402

SMALL, BIG = 2_000, 20_000


@dataclass(frozen=True)
class Plan:
    load_runs: int
    first_cell_runs: int
    turns: int
    stream_runs: int
    e2e_runs: int
    paced: tuple[tuple[int, float], ...]  # (tokens, tokens per second)


FULL = Plan(9, 5, 40, 7, 9, ((SMALL, 100.0), (SMALL, 1000.0), (BIG, 1000.0)))
QUICK = Plan(7, 5, 20, 5, 5, ())


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(plan: Plan) -> list[Row]:
    rows: list[Row] = []
    step(f"load cost: {plan.load_runs} bare and {plan.load_runs} %load_ext processes")
    rows += load_cost.rows(load_cost.measure(plan.load_runs, load_cost.child_env()))
    with ServerProcess() as server:
        step(f"first %%gmi cell: {plan.first_cell_runs} processes")
        env = load_cost.child_env(server.base_url)
        rows += load_cost.first_cell_rows(load_cost.first_cell(plan.first_cell_runs, env, server))
        step(f"per-turn overhead: {plan.turns} turns x (raw httpx, text, html)")
        rows += per_turn.rows(per_turn.measure(server, plan.turns))
        step(f"per-turn overhead without sockets: {plan.turns * 5} turns x 3")
        rows += per_turn_offline.rows(per_turn_offline.measure(plan.turns * 5))
        ip = gmi_shell(server.base_url)
        rows += pipeline.rows(pipeline.measure(), pipeline.turn_steps(ip))
        step(f"streaming end to end: {plan.e2e_runs} runs x 2 sizes")
        e2e = streaming.end_to_end(server, (SMALL, BIG), plan.e2e_runs)
    step(f"streaming direct: {plan.stream_runs} runs x 2 sizes x 2 renderers")
    direct = {  # the text renderer is cheap: more runs steady its medians
        (kind, n): result
        for kind in ("html", "text")
        for n, result in streaming.direct(
            kind, (SMALL, BIG), plan.stream_runs * (5 if kind == "text" else 1)
        ).items()
    }
    rows += streaming.direct_rows(direct, SMALL, BIG)
    rows += streaming.e2e_rows(e2e, SMALL, BIG)
    if plan.paced:
        step(f"streaming paced (simulated token rate): {plan.paced}")
        paced = {
            (n, rate): streaming.direct("html", (n,), plan.stream_runs - 2, rate=rate)[n]
            for n, rate in plan.paced
        }
        rows += streaming.paced_rows(paced)
    return rows


NOTES = """\
How: load rows time fresh `python -c` processes (bare IPython vs + `%load_ext`, alternating,
bytecode cached); per-turn rows interleave raw httpx and `%%gmi` against the stand-in server
running in its own process, and report the median of paired differences; displays go to a
publisher that JSON-encodes each message like a kernel and drops it ("sent" = bytes a frontend
would receive). "paced" rows feed the same deltas under a simulated token rate (real clock plus
simulated gaps), so the renderer's throttle sees a real stream's timing. CPU = `process_time`."""


def header(quick: bool, seconds: float) -> str:
    import IPython

    return (
        f"gmi_magics benchmarks ({'--quick' if quick else 'full'} run, {seconds:.0f} s): "
        f"Python {platform.python_version()}, IPython {IPython.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()} {platform.system()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gmi-bench-") as scratch:
        os.environ["IPYTHONDIR"] = str(Path(scratch, "ipython"))  # not the user's profile
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(scratch, "pycache"))  # for children
        os.environ["NO_PROXY"] = "127.0.0.1,localhost"
        rows = run(QUICK if args.quick else FULL)
    elapsed = time.perf_counter() - started
    report = f"{header(args.quick, elapsed)}\n\n{table(rows)}\n\n{NOTES}\n"
    print(report)
    (HERE / "results.md").write_text(report, encoding="utf-8")
    missed = [row.benchmark for row in rows if row.met is False]
    if missed:
        print(f"{len(missed)} target(s) missed.", file=sys.stderr)
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
