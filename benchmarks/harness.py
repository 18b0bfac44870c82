"""Shared pieces: the shell with a counting display publisher, null output, rows."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class NullWriter(io.TextIOBase):
    """A text stream that drops everything (stdout of the text renderer)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    baseline: str
    measured: str
    added: str
    target: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        verdict = {True: "yes", False: "**NO**", None: ""}[self.met]
        return [self.benchmark, self.baseline, self.measured, self.added, self.target, verdict]


HEADER = ["benchmark", "baseline", "gmi_magics", "added / ratio", "target", "met"]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def kib(count: float) -> str:
    return f"{count / 1024:,.0f} KiB"


@dataclass
class Sample:
    """Wall and CPU seconds of one timed call."""

    wall: float
    cpu: float


def timed(call: Callable[[], Any]) -> Sample:
    """Wall and CPU time of one call, with the garbage collector paused (as timeit does)."""
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        call()
        return Sample(time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        if collecting:
            gc.enable()


# --- the shell -------------------------------------------------------------------


def _publisher_class() -> type:
    from IPython.core.displaypub import DisplayPublisher

    class CountingPublisher(DisplayPublisher):
        """Serialises each display message to JSON like a kernel would, then drops it."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.count = 0
            self.bytes = 0

        def publish(self, data: Any, metadata: Any = None, *_args: Any, **kwargs: Any) -> None:
            message = {"data": data, "metadata": metadata or {}}
            message["transient"] = kwargs.get("transient") or {}
            self.bytes += len(json.dumps(message))
            self.count += 1

        def reset(self) -> None:
            self.count = self.bytes = 0

    return CountingPublisher


def shell() -> Any:
    """The process's InteractiveShell, its displays going to a counting publisher."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file, no history writes
    ip = InteractiveShell.instance(config=config)
    if not hasattr(ip.display_pub, "count"):
        ip.display_pub = _publisher_class()(shell=ip)
    return ip


def gmi_shell(base_url: str) -> Any:
    """``shell()`` with ``%load_ext gmi_magics`` done once, pointed at ``base_url``."""
    os.environ.update(GMI_BASE_URL=base_url, GMI_API_KEY="bench-key")
    ip = shell()
    if "GMIMagics" not in ip.magics_manager.registry:
        ip.run_line_magic("load_ext", "gmi_magics")
    return ip


def quiet_stdout() -> contextlib.AbstractContextManager[Any]:
    """Send ``sys.stdout`` (where the text renderer writes) to a null writer."""
    return contextlib.redirect_stdout(NullWriter())
