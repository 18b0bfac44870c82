"""Benchmark 1: what ``%load_ext gmi_magics`` costs, in fresh processes.

Bare and with-extension processes alternate, so drift hits both alike.  Each child
times itself from before ``import IPython`` (interpreter start-up is excluded).
Also: the first ``%%gmi`` cell, which pays for the lazily imported core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Row, median, ms

HEAVY = ("httpx", "orjson", "markdown", "nh3", "ipywidgets", "tqdm", "latex2mathml", "pygments")
TARGET = 0.030

SHELL = """\
import time; c=time.process_time(); t=time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
ip=InteractiveShell.instance()
"""
BARE = SHELL + "t1=time.perf_counter()\n"
# warm-up off here: this measures what load_ext itself imports (the warm-up thread's
# imports are measured by the first-cell benchmark below)
EXT = SHELL + (
    "ip.config.GMIMagics.warm_up = False\n"
    "t1=time.perf_counter(); ip.run_line_magic('load_ext','gmi_magics')\n"
)
REPORT = f"""\
t2=time.perf_counter(); c2=time.process_time()
import json, sys
print(json.dumps({{"total": t2 - t, "load": t2 - t1, "cpu": c2 - c,
    "heavy": [m for m in {HEAVY!r} if m in sys.modules],
    "modules": sorted(sys.modules)}}))
"""


def _child(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(runs: int, env: dict[str, str]) -> dict:
    _child(BARE + REPORT, env), _child(EXT + REPORT, env)  # warm .pyc and the profile dir
    bare, ext = [], []
    for run in range(runs):  # alternate which goes first
        pair = [(bare, BARE), (ext, EXT)][:: 1 if run % 2 else -1]
        for results, code in pair:
            results.append(_child(code + REPORT, env))
    before, after = set(bare[-1]["modules"]), set(ext[-1]["modules"])
    new_packages = sorted({m.split(".")[0] for m in after - before} - before)
    return {
        "bare": median([r["total"] for r in bare]),
        "ext": median([r["total"] for r in ext]),
        "load": median([r["load"] for r in ext]),
        "added": median([e["total"] - b["total"] for b, e in zip(bare, ext, strict=True)]),
        "cpu_added": median([e["cpu"] - b["cpu"] for b, e in zip(bare, ext, strict=True)]),
        "bare_cpu": median([r["cpu"] for r in bare]),
        "ext_cpu": median([r["cpu"] for r in ext]),
        "heavy_bare": bare[-1]["heavy"],
        "heavy_ext": ext[-1]["heavy"],
        "new_packages": new_packages,
        "new_modules": len(after - before),
        "runs": runs,
    }


def rows(result: dict) -> list[Row]:
    added = result["added"]
    absent = [m for m in HEAVY if m not in result["heavy_ext"]]
    new_heavy = [m for m in result["heavy_ext"] if m not in result["heavy_bare"]]
    preloaded = [m for m in result["heavy_ext"] if m in result["heavy_bare"]]
    note = f"; {', '.join(preloaded)} already loaded by bare IPython" if preloaded else ""
    return [
        Row(
            f"load: fresh IPython + `%load_ext gmi_magics` (median of {result['runs']})",
            f"bare {ms(result['bare'])} ({ms(result['bare_cpu'])} CPU)",
            f"{ms(result['ext'])} ({ms(result['ext_cpu'])} CPU)",
            f"{added * 1000:+.1f} ms ({result['cpu_added'] * 1000:+.1f} ms CPU); "
            "median of paired differences",
            "≤ 30 ms",
            added <= TARGET,
        ),
        Row(
            "load: the `load_ext` call alone (in-process)",
            "—",
            ms(result["load"], 2),
            f"+{ms(result['load'], 2)}",
            "≤ 30 ms",
            result["load"] <= TARGET,
        ),
        Row(
            "load: heavy modules absent after load_ext",
            f"bare imports: {', '.join(result['heavy_bare']) or 'none'}",
            f"absent: {', '.join(absent) or 'none'}{note}",
            f"newly imported: {', '.join(new_heavy) or 'none'} "
            f"({result['new_modules']} new modules; new packages: "
            f"{', '.join(result['new_packages']) or 'none'})",
            ", ".join(HEAVY) + " not imported by load_ext",
            not new_heavy,
        ),
    ]


# --- the first %%gmi cell --------------------------------------------------------

FIRST_CELL = f"""\
import sys, time, json
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from harness import quiet_stdout, shell
ip = shell()
ip.config.GMIMagics.warm_up = sys.argv[1] == "warm"
t = time.perf_counter()
ip.run_line_magic("load_ext", "gmi_magics")
load = time.perf_counter() - t
ip.run_line_magic("config", "GMIMagics.display = 'html'")
time.sleep(2.0)  # the user types the first question
times = []
for _ in range(2):
    t = time.perf_counter()
    with quiet_stdout():
        ip.run_cell_magic("gmi", "--no-history", "hi")
    times.append(time.perf_counter() - t)
print(json.dumps([*times, load]))
"""


def first_cell(runs: int, env: dict[str, str], server: Any) -> dict:
    result: dict[str, Any] = {"runs": runs}
    for mode in ("cold", "warm"):
        firsts, seconds, loads = [], [], []
        for _ in range(runs):
            server.enqueue("tok", 200, 2)
            out = subprocess.run(
                [sys.executable, "-c", FIRST_CELL, mode], env=env, capture_output=True, text=True
            )
            if out.returncode:
                raise RuntimeError(out.stderr)
            first, second, load = json.loads(out.stdout.strip().splitlines()[-1])
            firsts.append(first)
            seconds.append(second)
            loads.append(load)
        result[mode] = {"first": median(firsts), "second": median(seconds), "load": median(loads)}
    server.check_drained("first-cell benchmark")
    return result


def first_cell_rows(result: dict) -> list[Row]:
    cold, warm = result["cold"], result["warm"]
    extra = warm["first"] - warm["second"]
    return [
        Row(
            f"first `%%gmi` cell 2 s after load_ext, html, 200 tokens, warm-up off "
            f"(median of {result['runs']})",
            f"2nd cell {ms(cold['second'])}",
            f"1st cell {ms(cold['first'])}",
            f"+{ms(cold['first'] - cold['second'])} once",
            "(baseline)",
        ),
        Row(
            "first `%%gmi` cell 2 s after load_ext, warm-up on (default)",
            f"2nd cell {ms(warm['second'])}",
            f"1st cell {ms(warm['first'])}; load_ext {ms(warm['load'], 2)}",
            f"{extra * 1000:+.1f} ms once",
            "≤ 40 ms extra; load_ext ≤ 30 ms",
            extra <= 0.040 and warm["load"] <= TARGET,
        ),
    ]


def child_env(base_url: str = "") -> dict[str, str]:
    """The environment of child processes: bytecode is written (under the cache
    prefix run.py sets), as after a normal ``pip install``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if base_url:
        env.update(GMI_BASE_URL=base_url, GMI_API_KEY="bench-key")
    return env
