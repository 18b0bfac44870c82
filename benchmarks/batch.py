"""Batch throughput and memory against the stand-in server.

    python benchmarks/batch.py [--chatlas-python PATH]

1. 200 prompts, 250 ms per reply, max_active=16: wall time vs the ideal
   ceil(200 / 16) x 0.25 s (target: within 1.15x).  After one warm-up batch, the
   median (min-max) of ``RUNS`` runs, every contender once per run, interleaved (a
   shared 2-core VM varies by +-0.1x between runs): ``batch`` streamed (the
   default), ``batch(stream=False)``, the floor (16 plain ``http.client`` threads,
   no gmi_magics: what the stand-in server and the machine cost by themselves) and
   chatlas.  CPU milliseconds per request of the client and the server process
   show where the time goes.
2. Sequential (max_active=1) on 40 of them, scaled to 200, as a ratio.
3. chatlas ``parallel_chat`` on the same server, when a Python with chatlas is given
   (run in that interpreter, so chatlas's dependencies stay out of ours).  It uses
   ``ChatOpenAICompletions`` (``ChatOpenAI`` speaks OpenAI's Responses API,
   ``/v1/responses``, which the stand-in and GMI do not serve) and, like
   ``parallel_chat`` always does, non-streamed requests.
4. RSS growth for 2,500 and 10,000 items against a fast server (bytes per item).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import math
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import psutil

import gmi_magics
from gmi_magics.testing import RecordedRequest, StandInServer, delay
from gmi_magics.wire.client import GMIClient

LATENCY = 0.25
RUNS = 5
MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
Work = Callable[[str], float]  # one timed run, given a tag that makes its prompts unique
Contender = tuple[Work, "psutil.Process"]  # the run, and the process doing the client side

CHATLAS_SCRIPT = """
import asyncio, os, sys, time
reply = os.fdopen(os.dup(1), "w")  # answers to the benchmark; chatlas's progress bars
os.dup2(2, 1)  # and other output go to stderr instead
sys.stdout = sys.stderr
from chatlas import ChatOpenAICompletions, parallel_chat
chat = ChatOpenAICompletions(base_url=sys.argv[1], api_key="bench-key", model=sys.argv[2])
loop = asyncio.new_event_loop()
def run(tag, count):
    prompts = [f"chatlas {tag} {i}" for i in range(count)]
    start = time.perf_counter()
    out = loop.run_until_complete(
        parallel_chat(chat, prompts, max_active=16, rpm=1_000_000, on_error="continue")
    )
    elapsed = time.perf_counter() - start
    failed = [r for r in out if isinstance(r, Exception) or r is None]
    return elapsed, len(failed), repr(failed[0])[:200] if failed else ""
run("warm-up", 16)
print("ready", file=reply, flush=True)
for line in sys.stdin:
    print(*run(line.strip(), 200), file=reply, flush=True)
"""


class SlowServer(StandInServer):
    """Every reply waits ``latency`` seconds before it starts."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    def _next_chat_script(self, record: RecordedRequest) -> Any:
        return delay(self.latency) if self.latency else super()._next_chat_script(record)


def timed_batch(
    client: GMIClient, prompts: list[str], max_active: int, stream: bool = True
) -> float:
    start = time.perf_counter()
    results = gmi_magics.batch(
        prompts, client=client, max_active=max_active, progress=False, stream=stream
    )
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

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        return cpu_seconds(psutil.Process(self.process.pid))


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class Chatlas:
    """chatlas in its own interpreter: one warm-up, then one timed run per ``run()``."""

    def __init__(self, python: str, base_url: str) -> None:
        command = [python, "-c", CHATLAS_SCRIPT, base_url, MODEL]
        # progress bars go to stderr: a pipe could fill up; closed in close()
        self.stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        if self.stdout.readline().strip() != "ready":
            message = self.error()
            self.close()
            raise RuntimeError(message)

    def run(self, tag: str) -> tuple[float, str]:
        """Seconds for 200 prompts, and a note on failures ("" when none failed)."""
        self.stdin.write(f"{tag}\n")
        self.stdin.flush()
        elapsed, failed, first = [*self.stdout.readline().split(" ", 2), "", ""][:3]
        if not elapsed:
            raise RuntimeError(self.error())
        return float(elapsed), "" if failed == "0" else f"{failed} failed: {first.strip()}"

    def timed(self, tag: str) -> float:
        """Seconds for 200 prompts; RuntimeError if any failed."""
        elapsed, failed = self.run(tag)
        if failed:
            raise RuntimeError(f"chatlas: {failed}")
        return elapsed

    def error(self) -> str:
        """The last line chatlas wrote on stderr (why it could not run)."""
        self.stop()
        self.stderr.seek(0)
        lines = self.stderr.read().strip().splitlines()
        return lines[-1] if lines else f"exit status {self.process.returncode}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.stdin.close()
            self.process.terminate()
        self.process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self.stderr.close()


def floor_run(base_url: str, count: int, max_active: int) -> float:
    """The same load from plain ``http.client`` threads (streamed, read whole): seconds.
    AssertionError if a request failed (a thread that died would make it slower)."""
    url = urlsplit(base_url)
    todo: queue.Queue[int] = queue.Queue()
    for index in range(count):
        todo.put(index)
    failures: list[OSError] = []

    def worker() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                floor_request(url.hostname or "", url.port, url.path, index)
            except OSError as error:
                failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(max_active)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    assert not failures, f"{len(failures)} floor requests failed: {failures[0]!r}"
    return elapsed


def floor_request(host: str, port: int | None, path: str, index: int) -> None:
    """One streamed chat request on a new connection, read to the end."""
    body = {
        "model": MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": f"floor {index}"}],
    }
    connection = http.client.HTTPConnection(host, port)
    try:
        connection.request("POST", f"{path}/chat/completions", json.dumps(body))
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")
    finally:
        connection.close()


def median_of(runs: list[float]) -> str:
    """``median s (min-max)`` of a few runs."""
    return f"{statistics.median(runs):.2f} s ({min(runs):.2f}-{max(runs):.2f})"


def ratios(runs: list[float], ideal: float) -> str:
    """``median (min-max)`` of the runs as ratios to the ideal."""
    values = [run / ideal for run in runs]
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


class Timings:
    """Seconds per run and CPU per request, for each contender."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.client_ms: dict[str, list[float]] = {}
        self.server_ms: dict[str, list[float]] = {}

    def measure(self, name: str, server: ServerProcess, contender: Contender, tag: str) -> None:
        """Run the contender (seconds); CPU per request of its process and the server."""
        work, process = contender
        client_before, server_before = cpu_seconds(process), server.cpu_seconds()
        self.seconds.setdefault(name, []).append(work(tag))
        client_ms = (cpu_seconds(process) - client_before) * 1000 / 200
        server_ms = (server.cpu_seconds() - server_before) * 1000 / 200
        self.client_ms.setdefault(name, []).append(client_ms)
        self.server_ms.setdefault(name, []).append(server_ms)

    def rows(self, ideal: float) -> list[tuple[str, str]]:
        out = []
        for name, runs in self.seconds.items():
            out.append((name, f"{median_of(runs)} = {ratios(runs, ideal)}x ideal"))
        for name in self.client_ms:
            client = statistics.median(self.client_ms[name])
            server = statistics.median(self.server_ms[name])
            out.append((f"CPU ms/request, {name}", f"client {client:.1f}, server {server:.1f}"))
        return out


def contenders(
    client: GMIClient, server: ServerProcess, chatlas: Chatlas | None
) -> dict[str, Contender]:
    """What runs once per round: name -> (a function of the run's tag returning seconds,
    the process whose CPU is the client's)."""
    prompts = [f"prompt {i}" for i in range(200)]
    me = psutil.Process(os.getpid())

    def streamed(tag: str) -> float:
        return timed_batch(client, [tag + p for p in prompts], 16)

    def whole(tag: str) -> float:
        return timed_batch(client, [tag + p for p in prompts], 16, stream=False)

    def floor(_tag: str) -> float:
        return floor_run(server.base_url, 200, 16)

    out: dict[str, Contender] = {
        "batch, streamed (default)": (streamed, me),
        "batch, stream=False": (whole, me),
        "floor: 16 plain http.client threads": (floor, me),
    }
    if chatlas is not None:
        process = psutil.Process(chatlas.process.pid)
        out["chatlas parallel_chat (not streamed)"] = (chatlas.timed, process)
    return out


def throughput(chatlas_python: str | None) -> list[tuple[str, str]]:
    ideal = math.ceil(200 / 16) * LATENCY
    rows = [("ideal ceil(200/16) x 0.25 s (target <= 1.15x)", f"{ideal:.2f} s")]
    with ServerProcess(LATENCY) as server, GMIClient(base_url=server.base_url) as client:
        chatlas, note = start_chatlas(chatlas_python, server.base_url)
        timings = Timings()
        try:
            timed_batch(client, [f"warm-up {i}" for i in range(16)], 16)
            runs = contenders(client, server, chatlas)
            for run in range(RUNS):  # interleaved: all see the same load on the machine
                for name, contender in runs.items():
                    timings.measure(name, server, contender, f"{run} ")
        finally:
            if chatlas is not None:
                chatlas.close()
        rows += timings.rows(ideal)
        if note:
            rows.append(("chatlas parallel_chat", note))
        seq = timed_batch(client, [f"seq {i}" for i in range(40)], 1) * 5
        batch_s = statistics.median(timings.seconds["batch, streamed (default)"])
        rows.append(("sequential (40 measured, x5)", f"{seq:.1f} s = {seq / batch_s:.1f}x batch"))
    return rows


def start_chatlas(python: str | None, base_url: str) -> tuple[Chatlas | None, str]:
    """chatlas ready to run, or None and why not."""
    if not python:
        return None, "skipped (no Python with chatlas given: --chatlas-python)"
    try:
        return Chatlas(python, base_url), ""
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        return None, f"could not run: {error}"


def rss_growth(count: int) -> tuple[int, float]:
    """RSS growth (bytes) and seconds of ``count`` items against a fast server, results
    kept; run in a fresh process so memory freed by earlier runs is not reused."""
    process = psutil.Process(os.getpid())
    with ServerProcess(0.0) as server, GMIClient(base_url=server.base_url) as client:
        warm = [f"warm {i}" for i in range(32)]
        gmi_magics.batch(warm, client=client, max_active=16, progress=False)
        gc.collect()
        before, start = process.memory_info().rss, time.perf_counter()
        prompts = [f"memory item {i}" for i in range(count)]
        results = gmi_magics.batch(prompts, client=client, max_active=16, progress=False)
        seconds, grown = time.perf_counter() - start, process.memory_info().rss - before
        assert len(results) == count and all(results), "a memory item failed"
    return grown, seconds


def memory() -> list[tuple[str, str]]:
    rows, grown = [], {}
    for count in (2_500, 10_000):
        command = [sys.executable, os.path.abspath(__file__), "--rss", str(count)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        size, seconds = done.stdout.split()[-2:]
        grown[count] = int(size)
        value = f"{grown[count] / 2**20:.1f} MB = {grown[count] / count:,.0f} bytes/item"
        rows.append((f"RSS growth, {count:,} items (results kept)", f"{value}, {seconds} s"))
    extra = (grown[10_000] - grown[2_500]) / 7_500
    rows.append(("RSS per item from 2,500 to 10,000 items", f"{extra:,.0f} bytes/item"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chatlas-python", help="a Python interpreter with chatlas installed")
    parser.add_argument("--rss", type=int, help=argparse.SUPPRESS)  # one memory run
    args = parser.parse_args()
    os.environ.setdefault("GMI_API_KEY", "bench-key")
    if args.rss:
        grown, seconds = rss_growth(args.rss)
        print(grown, f"{seconds:.1f}")
        return 0
    rows = throughput(args.chatlas_python) + memory()
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
