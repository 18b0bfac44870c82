"""The data of a stream's events → deltas: the hot path of every streamed reply.

``ChunkReader`` reads each event's JSON into a ``Delta`` (``parse_chunk``), joins the
text-only deltas of one burst into one (the same text, without a scrub, a count and a
repaint per chunk), and reads the usual chunk without parsing its envelope at all:
a server sends the same envelope around every token (``{"id": …, "choices": [{"delta":
{"content": "…"}, …}]}``), so once one chunk's envelope is known and checked, a chunk
that is that envelope around a plain string (no quote, backslash or control
character) carries exactly that string.  Anything else goes the whole way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from ..errors import StreamError
from ..jsonsafe import DEFAULT_MAX_DEPTH, json_depth_exceeds, loads_bounded
from ..text import clip, printable
from ..types import Delta
from .deltas import parse_chunk

__all__ = ["DONE", "ChunkReader", "loads_chunk"]

DONE = Delta(finish_reason="[DONE]")
"""The end-of-stream event, told apart by identity (no chunk reads to it)."""
PROBE = "gmi-probe"  # a plain string put in a learned envelope to check it
TRIES = 8  # envelopes learned per stream that did not pay off, at most
PAID_OFF = 16  # chunks read through an envelope that make it worth learning the next


class ChunkReader:
    """Reads one stream's event data into deltas (see the module docstring)."""

    def __init__(self, secret: str | None, *, learn: bool = True) -> None:
        self.secret = secret
        self._head = ""  # the learned envelope: what comes before the text ...
        self._tail = ""  # ... and after it; "" while none is known
        self._known = Delta()  # what the envelope says besides the text
        self._reasoning = False  # the text is reasoning, not content
        self._tries = TRIES if learn else 0  # a server that varies every envelope stops it
        self._served = 0  # chunks read through the current envelope

    @property
    def learned(self) -> bool:
        """Whether an envelope is known (chunks in it skip the JSON parser)."""
        return bool(self._tail)

    def deltas(self, events: list[str]) -> Iterator[Delta]:
        """The deltas of ``events`` (``DONE`` last if the stream ended there), each run
        of text-only deltas of one model joined; what was read before a failure
        (malformed data, an error event, Ctrl-C) comes out before it."""
        run: list[Delta] = []
        for data in events:
            try:
                delta = self._plain_text(data) if self._tail else None
                if delta is None:
                    delta = DONE if data.startswith("[DONE]") else self._read(data)
            except BaseException:
                if run:
                    yield _joined(run)
                raise
            if _text_only(delta):
                if not run or delta.model == run[0].model:
                    run.append(delta)
                    continue
                yield _joined(run)
                run = [delta]
                continue
            if run:
                yield _joined(run)
                run = []
            yield delta
            if delta is DONE:
                return
        if run:
            yield _joined(run)

    def _plain_text(self, data: str) -> Delta | None:
        """The delta of a chunk that is the learned envelope around a plain string."""
        head, tail = self._head, self._tail
        end = len(data) - len(tail)
        if end < len(head) or not (data.startswith(head) and data.endswith(tail)):
            return None
        text = data[len(head) : end]
        if not _plain(text):
            return None  # escapes or controls: the whole way
        self._served += 1
        return _with_text(self._known, text, self._reasoning)

    def _read(self, data: str) -> Delta:
        """One chunk the whole way; a plain text chunk teaches its envelope."""
        delta = parse_chunk(loads_chunk(data, self.secret))
        if (self._tries or self._served >= PAID_OFF) and _plain_text_only(delta):
            self._learn(data, delta)
        return delta

    def _learn(self, data: str, delta: Delta) -> None:
        """Keep the envelope of ``data`` if a probe string in its place reads back as
        the same delta with the probe for text (then so does every plain string)."""
        if self._served < PAID_OFF:
            self._tries -= 1
        self._served = 0
        reasoning = not delta.content
        text = delta.reasoning if reasoning else delta.content
        quoted = f'"{text}"'
        at = data.find(quoted)
        if at < 0 or data.find(quoted, at + 1) >= 0:
            return  # written with escapes, or in two places: not this one
        head, tail = data[: at + 1], data[at + 1 + len(text) :]
        known = _with_text(delta, "", reasoning)
        expected = _with_text(known, PROBE, reasoning)
        try:
            probed = parse_chunk(loads_chunk(head + PROBE + tail, self.secret))
        except StreamError:
            return
        if probed == expected:
            self._head, self._tail, self._reasoning, self._known = head, tail, reasoning, known


def _plain_text_only(delta: Delta) -> bool:
    """A delta of plain text (see ``_plain``) in exactly one field, and nothing else."""
    content, reasoning = delta.content, delta.reasoning
    return _text_only(delta) and bool(content) != bool(reasoning) and _plain(content or reasoning)


def _text_only(delta: Delta) -> bool:
    """A delta with no tool call, finish reason or usage (text, or nothing)."""
    return not (delta.tool_calls or delta.finish_reason or delta.usage)


def _plain(text: str) -> bool:
    """No quote, backslash or control character: a JSON string of exactly these chars."""
    return '"' not in text and "\\" not in text and text.isprintable()


def _with_text(delta: Delta, text: str, reasoning: bool) -> Delta:
    """``delta`` with ``text`` as its reasoning or its content."""
    return delta._replace(reasoning=text) if reasoning else delta._replace(content=text)


def _joined(run: list[Delta]) -> Delta:
    if len(run) == 1:
        return run[0]
    content = "".join([delta.content for delta in run])
    reasoning = "".join([delta.reasoning for delta in run])
    return Delta(content, reasoning, model=run[0].model)


def loads_chunk(data: str, secret: str | None) -> Any:
    """One chunk's JSON: orjson on the hot path (a chunk per token, ~4x faster than
    the stdlib), ``loads_bounded`` for anything it refuses or that is nested deep.

    A chunk's numbers are counts, indexes and timestamps, so orjson reading integers
    past 64 bits as floats changes nothing here (tool arguments are strings).
    """
    if not json_depth_exceeds(data, DEFAULT_MAX_DEPTH):
        try:
            return orjson.loads(data)
        except ValueError:
            pass  # e.g. a lone surrogate, which the stdlib reads: its verdict is final
    try:
        return loads_bounded(data)
    except ValueError:
        pass  # raised below, so the error holds no context (whose ``doc`` is the data)
    preview = clip(printable(data), 60, secret)
    raise StreamError(f"The reply stream carried malformed data: {preview!r}")
