"""Batch throughput and memory against the stand-in server.

    python benchmarks/batch.py [--chatlas-python PATH]

1. 200 prompts, 250 ms per reply, max_active=16: wall time vs the ideal
   ceil(200 / 16) x 0.25 s (target: within 1.15x).  After one warm-up batch, the
   median of ``RUNS`` runs (a shared 2-core VM varies by +-0.1x between runs).
   The floor row runs the same load with 16 plain ``http.client`` threads and no
   gmi_magics at all: what the stand-in server and the machine cost by themselves.
2. Sequential (max_active=1) on 40 of them, scaled to 200, as a ratio.
3. chatlas ``parallel_chat`` on the same server, when a Python with chatlas is given
   (run in that interpreter, so chatlas's dependencies stay out of ours).
4. RSS growth for 2,500 and 10,000 items against a fast server (bytes per item).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import psutil

import gmi_magics
from gmi_magics.testing import RecordedRequest, StandInServer, delay
from gmi_magics.wire.client import GMIClient

LATENCY = 0.25
RUNS = 3
MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"

CHATLAS_SCRIPT = """
import asyncio, sys, time
from chatlas import ChatOpenAI, parallel_chat
chat = ChatOpenAI(base_url=sys.argv[1], api_key="bench-key", model=sys.argv[2])
prompts = [f"chatlas prompt {i}" for i in range(200)]
start = time.perf_counter()
out = asyncio.run(parallel_chat(chat, prompts, max_active=16, rpm=100000))
elapsed = time.perf_counter() - start
failed = sum(1 for r in out if isinstance(r, Exception) or r is None)
print(elapsed, failed)
"""


class SlowServer(StandInServer):
    """Every reply waits ``latency`` seconds before it starts."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    def _next_chat_script(self, record: RecordedRequest) -> Any:
        return delay(self.latency) if self.latency else super()._next_chat_script(record)


def timed_batch(client: GMIClient, prompts: list[str], max_active: int) -> float:
    start = time.perf_counter()
    results = gmi_magics.batch(prompts, client=client, max_active=max_active, progress=False)
    elapsed = time.perf_counter() - start
    assert all(results), "a benchmark item failed"
    return elapsed


SERVER_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[2])
from batch import SlowServer
with SlowServer(float(sys.argv[1])) as server:
    print(server.base_url, flush=True)
    time.sleep(3600)
"""


class ServerProcess:
    """A SlowServer in its own process, so it does not share the client's GIL."""

    def __init__(self, latency: float) -> None:
        here = os.path.dirname(os.path.abspath(__file__))
        command = [sys.executable, "-c", SERVER_SCRIPT, str(latency), here]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def floor_run(base_url: str, count: int, max_active: int) -> float:
    """The same load from plain ``http.client`` threads (streamed, read whole): seconds."""
    url = urlsplit(base_url)
    todo: queue.Queue[int] = queue.Queue()
    for index in range(count):
        todo.put(index)

    def worker() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            body = {
                "model": MODEL,
                "stream": True,
                "messages": [{"role": "user", "content": f"floor {index}"}],
            }
            connection = http.client.HTTPConnection(url.hostname or "", url.port)
            connection.request("POST", f"{url.path}/chat/completions", json.dumps(body))
            connection.getresponse().read()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(max_active)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def median_of(runs: list[float]) -> str:
    """``median s (min-max)`` of a few runs."""
    return f"{statistics.median(runs):.2f} s ({min(runs):.2f}-{max(runs):.2f})"


def throughput(chatlas_python: str | None) -> list[tuple[str, str]]:
    rows = []
    with ServerProcess(LATENCY) as server, GMIClient(base_url=server.base_url) as client:
        ideal = math.ceil(200 / 16) * LATENCY
        timed_batch(client, [f"warm-up {i}" for i in range(16)], 16)
        runs: list[float] = []
        floors: list[float] = []
        for run in range(RUNS):  # interleaved: both see the same load on the machine
            runs.append(timed_batch(client, [f"prompt {run} {i}" for i in range(200)], 16))
            floors.append(floor_run(server.base_url, 200, 16))
        batch_s = statistics.median(runs)
        rows.append((f"batch, 200 prompts, max_active=16 (median of {RUNS})", median_of(runs)))
        rows.append(("ideal ceil(200/16) x 0.25 s", f"{ideal:.2f} s"))
        rows.append(("ratio to ideal (target <= 1.15)", f"{batch_s / ideal:.3f}"))
        floor_s = statistics.median(floors)
        rows.append(("floor: plain http.client threads, same load", median_of(floors)))
        rows.append(("floor ratio to ideal (server + machine alone)", f"{floor_s / ideal:.3f}"))
        seq = timed_batch(client, [f"seq {i}" for i in range(40)], 1) * 5
        rows.append(("sequential (40 measured, x5)", f"{seq:.1f} s = {seq / batch_s:.1f}x batch"))
        rows.append(("chatlas parallel_chat, max_active=16", chatlas(chatlas_python, server)))
    return rows


def chatlas(python: str | None, server: ServerProcess) -> str:
    if not python:
        return "skipped (no Python with chatlas given)"
    try:
        done = subprocess.run(
            [python, "-c", CHATLAS_SCRIPT, server.base_url, MODEL],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"skipped ({type(error).__name__})"
    elapsed, failed = done.stdout.strip().splitlines()[-1].split()
    note = f", {failed} failed" if failed != "0" else ""
    return f"{float(elapsed):.2f} s{note}"


def memory() -> list[tuple[str, str]]:
    rows = []
    process = psutil.Process(os.getpid())
    with ServerProcess(0.0) as server, GMIClient(base_url=server.base_url) as client:
        gmi_magics.batch(["warm"], client=client, progress=False)
        for count in (2_500, 10_000):
            prompts = [f"memory item {count} {i}" for i in range(count)]
            before = process.memory_info().rss
            start = time.perf_counter()
            results = gmi_magics.batch(prompts, client=client, max_active=16, progress=False)
            seconds = time.perf_counter() - start
            grown = process.memory_info().rss - before
            assert len(results) == count
            rows.append(
                (
                    f"RSS growth, {count:,} items (results kept)",
                    f"{grown / 2**20:.1f} MB = {grown / count:,.0f} bytes/item, {seconds:.1f} s",
                )
            )
            del results
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chatlas-python", help="a Python interpreter with chatlas installed")
    args = parser.parse_args()
    os.environ.setdefault("GMI_API_KEY", "bench-key")
    rows = throughput(args.chatlas_python) + memory()
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
