"""Batch checkpoints: one JSON line per finished item, appended as it completes.

A line is ``{"v": 1, "key": <sha256 of prompt + model + params>, "text": ...,
"reasoning": ..., "model": ..., "finish_reason": ..., "usage": [in, out]}``; the
prompt itself, headers and the API key are never written.  Each line goes out in
one ``write`` on an ``O_APPEND`` descriptor (under a lock), so concurrent workers,
and processes sharing the file, never interleave.  Reading treats the file as
hostile: only lines whose key this batch needs are kept, each line and field is
bounded and type-checked, and damaged lines are skipped and counted.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import GMIError
from ..jsonsafe import loads_bounded
from ..settings import DEFAULT_MAX_REPLY_BYTES
from ..text import redact
from ..types import Reply, Usage

VERSION = 1
MAX_LINE = 2 * DEFAULT_MAX_REPLY_BYTES + 4096  # text + reasoning, JSON-escaped
_KEY = re.compile(r"[0-9a-f]{64}")
_SHORT = 200  # model / finish_reason


class CheckpointError(GMIError):
    """The checkpoint file cannot be read or written."""

    hint = "Check the path and its permissions, or pass another checkpoint file."


@dataclass
class Loaded:
    """What a checkpoint held for this batch, and what was wrong with it."""

    replies: dict[str, Reply] = field(default_factory=dict)
    damaged: list[int] = field(default_factory=list)  # 1-based line numbers

    def note(self, path: str | os.PathLike[str]) -> str:
        """One line about skipped lines ("" when none were)."""
        if not self.damaged:
            return ""
        shown = ", ".join(str(n) for n in self.damaged[:5])
        more = f" and {len(self.damaged) - 5} more" if len(self.damaged) > 5 else ""
        noun = "line" if len(self.damaged) == 1 else "lines"
        return (
            f"Checkpoint {Path(path).name}: {len(self.damaged)} damaged {noun} skipped "
            f"(line {shown}{more}); those items are sent again."
        )


def load(path: str | os.PathLike[str], wanted: Collection[str]) -> Loaded:
    """The replies recorded under the keys in ``wanted`` (a missing file holds none)."""
    loaded = Loaded()
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return loaded
    except OSError as error:
        raise CheckpointError(f"Cannot read the checkpoint {Path(path).name}: {error}.") from None
    with file:
        for number, line in enumerate(_lines(file), start=1):
            if line is None:
                loaded.damaged.append(number)
                continue
            if not line.strip():
                continue
            entry = _entry(line)
            if entry is None:
                loaded.damaged.append(number)
            elif entry[0] in wanted:
                loaded.replies[entry[0]] = entry[1]
    return loaded


def _lines(file: IO[bytes]) -> Any:
    """Each line (``None`` for one longer than ``MAX_LINE``, which is skipped)."""
    while True:
        line = file.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # drop the rest of the over-long line, a chunk at a time
                rest = file.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def _entry(line: bytes) -> tuple[str, Reply] | None:
    """``(key, reply)`` from one line, or ``None`` when it is not a valid entry."""
    try:
        data = loads_bounded(line, max_depth=4)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    key, text, reasoning = data.get("key"), data.get("text"), data.get("reasoning", "")
    model, finish = data.get("model", ""), data.get("finish_reason")
    usage = _usage(data.get("usage"))
    ok = (
        isinstance(key, str)
        and _KEY.fullmatch(key) is not None
        and isinstance(text, str)
        and isinstance(reasoning, str)
        and isinstance(model, str)
        and len(model) <= _SHORT
        and (finish is None or (isinstance(finish, str) and len(finish) <= _SHORT))
        and usage is not False
    )
    if not ok or not isinstance(text, str) or not isinstance(key, str):
        return None
    reply = Reply(
        text=text,
        reasoning=reasoning,
        usage=usage if isinstance(usage, Usage) else None,
        finish_reason=finish,
        model=model,
        metadata={"from_checkpoint": True},
    )
    return key, reply


def _usage(value: Any) -> Usage | bool | None:
    """``[in, out]`` as a Usage; ``None`` when absent; ``False`` when malformed."""
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(type(v) is int and 0 <= v < 10**12 for v in value)
    ):
        return Usage(value[0], value[1], value[0] + value[1])
    return False


class Writer:
    """Appends finished items; thread-safe; opened lazily, closed by ``close``."""

    def __init__(self, path: str | os.PathLike[str], secret: str | None = None) -> None:
        self.path = Path(path)
        self._secret = secret
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(fd).st_size
            if size:  # a line cut short by a crash must not swallow the next one
                with open(self.path, "rb") as reader:
                    reader.seek(size - 1)
                    if reader.read(1) != b"\n":
                        os.write(fd, b"\n")
        except OSError as error:
            raise CheckpointError(
                f"Cannot write the checkpoint {self.path.name}: {error.strerror or error}."
            ) from None
        return fd

    def append(self, key: str, reply: Reply) -> None:
        """Record one finished reply under ``key``."""
        usage = reply.usage
        entry = {
            "v": VERSION,
            "key": key,
            "text": redact(reply.text, self._secret),
            "reasoning": redact(reply.reasoning, self._secret),
            "model": reply.model[:_SHORT],
            "finish_reason": reply.finish_reason,
            "usage": None if usage is None else [usage.prompt_tokens, usage.completion_tokens],
        }
        data = (json.dumps(entry, ensure_ascii=True) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(data)
            while view:  # one write for a regular file; loop only on a short write
                view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
