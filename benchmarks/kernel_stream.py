"""Benchmark: what a frontend receives while a reply streams, through a real kernel.

An ipykernel (jupyter_client) runs ``%%gmi`` against the stand-in server, which
paces a realistic markdown reply (``corpus.deltas``) at a token rate; requests are
shaped like JupyterLab's (``cellId``).  For each reply: bytes of every display
message on iopub (all frames, headers included), the final output's size (the
outputs a saved notebook keeps), their ratio, repaints per second, and the
kernel's CPU time (``/proc``).

    python benchmarks/kernel_stream.py                      # this checkout
    python benchmarks/kernel_stream.py --code /tmp/before   # another gmi_magics tree
    python benchmarks/kernel_stream.py --sizes 2000 --rates 1000
    python benchmarks/kernel_stream.py --against-raw --sizes 2000 --rates 50
        # kernel CPU of a raw httpx loop reading the same stream, %%gmi as text, as HTML
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from corpus import deltas  # noqa: E402
from kernel_protocol import KernelSession  # noqa: E402

from gmi_magics.testing import StandInServer, reply  # noqa: E402

KEY = "gmi-benchmark-key"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kernel: KernelSession, server: StandInServer, tokens: int, rate: float) -> dict:
    server.reset()
    server.enqueue(reply(deltas(tokens), chunk_delay=1 / rate))
    pid = kernel.manager.provisioner.pid  # type: ignore[union-attr]
    before = cpu_seconds(pid)
    execution = kernel.execute("%%gmi\nExplain", cell_id=True, timeout=3_600)
    cpu = cpu_seconds(pid) - before
    assert execution.reply["status"] == "ok", execution.reply
    return {
        "tokens": tokens,
        "rate": rate,
        "sent": execution.sent,
        "final": execution.final_size,
        "messages": len(execution.of("display_data", "update_display_data")),
        "repaints_per_s": execution.repaints / execution.seconds,
        "seconds": execution.seconds,
        "cpu": cpu,
    }


RAW_SETUP = f"""import httpx, os, sys
sys.path.insert(0, {str(HERE)!r})
from per_turn import BODY, raw_stream  # the per-turn benchmark's baseline
"""
RAW_LOOP = """with httpx.Client() as client:
    raw_stream(client, os.environ["GMI_BASE_URL"] + "/chat/completions", BODY)()
"""
READERS = {  # name: (a cell run first, the measured cell)
    "raw httpx loop": (RAW_SETUP, RAW_LOOP),
    "%%gmi, display = 'text'": ("%config GMIMagics.display = 'text'", "%%gmi\nExplain"),
    "%%gmi, display = 'html'": ("%config GMIMagics.display = 'html'", "%%gmi\nExplain"),
}


def against_raw(kernel: KernelSession, server: StandInServer, tokens: int, rate: float) -> None:
    """Kernel CPU of each reader in ``READERS`` on the same paced stream."""
    pid = kernel.manager.provisioner.pid  # type: ignore[union-attr]
    for name, (setup, code) in READERS.items():
        kernel.execute(setup)
        server.reset()
        server.enqueue(reply(deltas(tokens), chunk_delay=1 / rate))
        before = cpu_seconds(pid)
        execution = kernel.execute(code, cell_id=True, timeout=3_600)
        assert execution.reply["status"] == "ok", execution.reply
        cpu = cpu_seconds(pid) - before
        print(
            f"| {name} | {tokens:,} @ {rate:,.0f} tok/s | {execution.seconds:.1f} s "
            f"| {cpu:.2f} s |",
            flush=True,
        )
    kernel.execute("%config GMIMagics.display = 'auto'")


def row(label: str, r: dict) -> str:
    return (
        f"| {label} | {r['tokens']:,} @ {r['rate']:,.0f} tok/s | {r['sent'] / 1e3:,.1f} KB "
        f"| {r['final'] / 1e3:,.1f} KB | {r['sent'] / r['final']:.1f}× "
        f"| {r['messages']} | {r['repaints_per_s']:.1f} | {r['seconds']:.1f} s "
        f"| {r['cpu']:.2f} s ({100 * r['cpu'] / r['seconds']:.0f}%) |"
    )


HEADER = (
    "| code | reply | bytes sent | final output | bytes/final | display messages "
    "| repaints/s | stream time | kernel CPU |\n|---|---|---|---|---|---|---|---|---|"
)


RAW_HEADER = "| reader | reply | stream time | kernel CPU |\n|---|---|---|---|"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", help="a gmi_magics source tree to run instead of this one")
    parser.add_argument("--label", default="after")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 1_000])
    parser.add_argument(
        "--against-raw", action="store_true", help="kernel CPU against a raw httpx loop"
    )
    args = parser.parse_args(argv)
    env = {"PYTHONPATH": args.code} if args.code else {}
    with StandInServer() as server:
        kernel = KernelSession(server.base_url, KEY, extra_env=env)
        try:
            kernel.execute("%%gmi\nwarm up")  # imports and the client, outside the figures
            print(RAW_HEADER if args.against_raw else HEADER, flush=True)
            for tokens in args.sizes:
                for rate in args.rates:
                    if args.against_raw:
                        against_raw(kernel, server, tokens, rate)
                        continue
                    started = time.perf_counter()
                    print(row(args.label, measure(kernel, server, tokens, rate)), flush=True)
                    print(f"<!-- {time.perf_counter() - started:.0f} s -->", file=sys.stderr)
        finally:
            kernel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
