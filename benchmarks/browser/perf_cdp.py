"""Browser main-thread cost of one long math-heavy ``%%gmi`` stream, old renderer vs new.

    /tmp/labenv/bin/python benchmarks/browser/perf_cdp.py \
        [--before /tmp/old85] [--tokens 20000] [--rate 1000] [--per-chunk 5] [--repeat 1]

For each code version a ``jupyter lab`` server on 127.0.0.1 starts with its kernels
importing that version's ``gmi_magics`` (``PYTHONPATH`` on the server process is
inherited by kernels); "before" is a checkout of the old tree (e.g.
``git worktree add --detach /tmp/old85 85e3401``: one display repainted whole on every
update), "after" is this checkout (BlockRenderer: finished blocks sent once as their own
outputs, only the open tail repainted). The stand-in chat server (this process) streams
a reply of ``--tokens`` 4-character tokens, inline math in every paragraph and display
math every few lines, paced at ``--rate`` tokens/s. System Chromium opens the notebook in
JupyterLab and runs the cell; a CDP session samples ``Performance.getMetrics`` before the
cell runs, every second while it streams and after MathJax settles. Prints a markdown
table of the deltas (script, layout, style recalculation, all main-thread tasks), the
peak main-thread load, wall times and the final number of MathJax elements.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frontend_lab
from frontend import Notebook, Run
from harness import CheckFailed, Server, Shots, Watch, chromium, notebook, wait_until

from gmi_magics.testing import StandInServer, reply

HERE = Path(__file__).resolve().parents[2]
METRICS = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration")
MATH = "mjx-container, .MathJax, .MathJax_CHTML, .MathJax_SVG, .MathJax_Display"
END = "END-OF-LECTURE"
CELLS = [
    "%load_ext gmi_magics\nimport gmi_magics\nprint(gmi_magics.__file__)",
    "%%gmi\nA long lecture on sums, with all the maths written out.",
]


def paragraph(n: int) -> str:
    """One math-heavy paragraph: inline math throughout, one display formula."""
    return (
        f"**Step {n}.** For every $i \\le {n}$ let $x_i^2 + y_i^2 = r_{{{n}}}^2$, so that "
        f"$\\alpha_{{{n}}} = \\frac{{x_i}}{{r_{{{n}}}}}$ and $\\beta_{{{n}}} \\ge 0$. "
        f"Summing the first $n = {n}$ terms gives a closed form:\n\n"
        f"$$\\sum_{{i=1}}^{{{n}}} x_i^2 = \\frac{{{n}({n}+1)(2\\cdot{n}+1)}}{{6}}$$\n\n"
        f"Hence $\\sqrt{{\\alpha_{{{n}}}^2 + \\beta_{{{n}}}^2}} \\le 1$ and the bound "
        f"$e^{{-{n}t}} < \\epsilon$ holds for large $t$.\n\n"
    )


def lecture(tokens: int) -> list[str]:
    """``tokens`` pieces of 4 characters (one token each), ending with ``END``."""
    text, n = "# Sums of squares\n\n", 1
    while len(text) < tokens * 4:
        text += paragraph(n)
        n += 1
    text = text[: tokens * 4 - len(END) - 2] + f"\n\n{END}"
    return [text[i : i + 4] for i in range(0, len(text), 4)]


@dataclass
class Result:
    """One measured stream."""

    version: str
    module: str
    deltas: dict[str, float]
    busiest: float
    wall_done: float | None  # None: still streaming at --timeout
    kernel_done: float | None  # the server saw the kernel idle (None: not before the prompt)
    wall_settled: float
    math: int
    outputs: int
    nodes: int
    heap_mb: float
    series: list[dict[str, float]] = field(default_factory=list)


def metrics(cdp: Any) -> dict[str, float]:
    found = cdp.send("Performance.getMetrics")["metrics"]
    return {m["name"]: float(m["value"]) for m in found}


def settle(nb: Notebook, timeout: float = 120) -> int:
    """Wait until the MathJax element count stays the same for 3 s; return it."""
    area = nb.area(1)
    last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = area.locator(MATH).count()
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= 3:
            return int(count)
        time.sleep(0.5)
    return last


def stream(run: Run, cdp: Any, nb: Notebook, pieces: list[str], args: argparse.Namespace) -> Any:
    """Run the cell, sampling metrics each second until it finishes (or ``--timeout``)."""
    per = args.per_chunk
    chunks = ["".join(pieces[i : i + per]) for i in range(0, len(pieces), per)]
    run.chat.enqueue(reply(chunks, chunk_delay=per / args.rate))
    series = [metrics(cdp)]
    started = time.monotonic()
    nb.run(1, wait=False)
    deadline, kernel_done, busy = started + args.timeout, None, False
    while "*" in nb.prompt(1):
        state = nb.server.kernel_state(nb.name) if kernel_done is None else None
        busy = busy or state == "busy"
        if busy and state == "idle":
            kernel_done = time.monotonic() - started  # the server saw the kernel finish
        if time.monotonic() > deadline:
            return series, started, None, kernel_done
        time.sleep(1.0)
        series.append(metrics(cdp))
    return series, started, time.monotonic() - started, kernel_done


def peak_load(series: list[dict[str, float]]) -> float:
    """The busiest sampling interval: main-thread task time over wall time."""
    pairs = itertools.pairwise(series)
    return max(
        (b["TaskDuration"] - a["TaskDuration"]) / max(b["Timestamp"] - a["Timestamp"], 1e-3)
        for a, b in pairs
    )


def measure(run: Run, version: str, pieces: list[str], args: argparse.Namespace) -> Result:
    nb = run.open("perf", len(CELLS))
    assert run.page is not None
    nb.run(0)
    module = nb.text(0).strip().splitlines()[-1]
    cdp = run.page.context.new_cdp_session(run.page)
    cdp.send("Performance.enable", {"timeDomain": args.time_domain})
    series, started, wall_done, kernel_done = stream(run, cdp, nb, pieces, args)
    area = nb.area(1)
    if wall_done is not None:
        wait_until(lambda: area.locator(".gmi-footer").count(), 30, "the footer")
        math = settle(nb)
        if END not in nb.text(1):
            raise CheckFailed(f"{version}: the reply's last line is not shown")
    else:
        math = area.locator(MATH).count()
    wall_settled = time.monotonic() - started
    series.append(metrics(cdp))
    first, last = series[0], series[-1]
    run.shot(f"perf-{version}", nb.cell(1))
    return Result(
        version, module, {m: last[m] - first[m] for m in METRICS}, peak_load(series),
        wall_done, kernel_done, wall_settled, math, nb.outputs(1).count(), int(last["Nodes"]),
        last["JSHeapUsedSize"] / 1e6, series,
    )  # fmt: skip


def python_path(version: str, before: Path, work: Path) -> str:
    """A PYTHONPATH holding only ``gmi_magics`` of that version."""
    source = before / "gmi_magics" if version == "before" else HERE / "gmi_magics"
    folder = work / f"path-{version}"
    folder.mkdir()
    (folder / "gmi_magics").symlink_to(source)
    return str(folder)


def one_version(version: str, args: argparse.Namespace, chat: StandInServer) -> Result:
    work = Path(tempfile.mkdtemp(prefix=f"gmi-perf-{version}-"))
    root = work / "notebooks"
    root.mkdir()
    (root / "jupyterlab-perf.ipynb").write_text(json.dumps(notebook(CELLS)))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = python_path(version, args.before, work)
    server = Server(root, chat.base_url)
    try:
        server.start(work)
        watch = Watch()
        with chromium(args.chromium, work / "profile", watch) as browser:
            run = Run(browser, frontend_lab.FRONTEND, server, chat, watch, Shots(args.out))
            return measure(run, version, lecture(args.tokens), args)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        server.stop()
        chat.reset()
        shutil.rmtree(work, ignore_errors=True)


def table(results: list[Result], args: argparse.Namespace) -> str:
    head = (
        "| version | script s | layout s | style s | all tasks s | peak load | "
        "stream wall s | kernel idle s | settled wall s | MathJax elements | outputs | "
        "DOM nodes* | JS heap MB |"
    )
    rows = [head, "|" + "---|" * 13]
    for r in results:
        d = r.deltas
        done = f"{r.wall_done:.1f}" if r.wall_done is not None else f"> {args.timeout:.0f}"
        idle = "-" if r.kernel_done is None else f"{r.kernel_done:.1f}"
        rows.append(
            f"| {r.version} | {d['ScriptDuration']:.2f} | {d['LayoutDuration']:.2f} | "
            f"{d['RecalcStyleDuration']:.2f} | {d['TaskDuration']:.2f} | {r.busiest:.2f} | "
            f"{done} | {idle} | {r.wall_settled:.1f} | {r.math} | {r.outputs} | "
            f"{r.nodes} | {r.heap_mb:.0f} |"
        )
    rate = f"{args.tokens} tokens at {args.rate:.0f} tok/s, {args.per_chunk} per SSE chunk"
    notes = (
        "\n\nstream wall: until the prompt shows the cell finished; kernel idle: when the "
        "server saw the kernel finish, if that came before the prompt did; peak load: main-thread "
        "task time / wall time in the busiest ~1 s sample; "
        "*Nodes counts nodes not yet garbage-collected (detached ones too)"
    )
    header = f"{rate}; JupyterLab, headless Chromium, durations in {args.time_domain}\n\n"
    return header + "\n".join(rows) + notes


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--before", type=Path, default=Path("/tmp/old85"))
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1_000.0, help="tokens per second")
    parser.add_argument("--per-chunk", type=int, default=5, help="tokens per SSE chunk")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--versions", default="before,after")
    parser.add_argument("--timeout", type=float, default=400.0, help="seconds per stream")
    parser.add_argument(
        "--time-domain", default="threadTicks", choices=["threadTicks", "timeTicks"],
        help="durations as main-thread CPU time (default) or wall time",
    )  # fmt: skip
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, help="screenshot folder (default: a new /tmp dir)")
    parser.add_argument("--json", type=Path, help="also save every result (with samples)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not (args.before / "gmi_magics" / "__init__.py").exists():
        sys.exit(f"no old tree at {args.before}: git worktree add --detach {args.before} 85e3401")
    args.out = args.out or Path(tempfile.mkdtemp(prefix="gmi-perf-shots-"))
    args.out.mkdir(parents=True, exist_ok=True)
    chat = StandInServer().start()
    results = []
    try:
        for _ in range(args.repeat):
            for version in args.versions.split(","):
                result = one_version(version, args, chat)
                print(f"{version}: {result.module}: {result.deltas}", flush=True)
                results.append(result)
    finally:
        chat.stop()
    print(table(results, args))
    print(f"screenshots: {args.out}")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
