"""The stand-in server in its own process, scripted over stdin.

Running it apart from the benchmark keeps its CPU out of the measured process
(``time.process_time`` counts every thread) and off the measured process's GIL,
as a real remote API would be.  Protocol, one command per line on stdin:

    tok N COUNT   enqueue COUNT replies of N pieces "tok "
    md N COUNT    enqueue COUNT replies of N realistic markdown pieces (corpus.deltas)
    pending       how many enqueued replies are still unused
    quit          stop

It prints the base URL once at start and ``ok`` after each command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def serve() -> None:
    import functools

    sys.path.insert(0, str(HERE))
    from corpus import deltas

    pieces_of = functools.cache(deltas)

    from gmi_magics.testing import StandInServer, reply

    with StandInServer() as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            kind, *numbers = line.split() or ["quit"]
            if kind == "quit":
                break
            if kind == "pending":
                print(server.pending, flush=True)
                continue
            size, count = (int(n) for n in numbers)
            pieces = ["tok "] * size if kind == "tok" else pieces_of(size)
            server.enqueue(*[reply(pieces)] * count)
            print("ok", flush=True)


class ServerProcess:
    """``with ServerProcess() as server: server.enqueue("tok", 200, 40)``."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError("the stand-in server process did not start")

    def enqueue(self, kind: str, size: int, count: int = 1) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f"{kind} {size} {count}\n")
        self._proc.stdin.flush()
        if self._proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the stand-in server process stopped answering")

    def pending(self) -> int:
        """Enqueued replies not yet requested (0 after a balanced benchmark)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("pending\n")
        self._proc.stdin.flush()
        return int(self._proc.stdout.readline())

    def check_drained(self, what: str) -> None:
        """Fail loudly if %%gmi sent more or fewer requests than were scripted."""
        left = self.pending()
        if left:
            raise RuntimeError(f"{what}: {left} scripted replies were never requested")

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.write("quit\n")
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    serve()
