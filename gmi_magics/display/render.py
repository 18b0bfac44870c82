"""Showing replies: MIME bundles, a throttled live HTML display, a terminal renderer.

The markdown → sanitized HTML work lives in :mod:`gmi_magics.display.markup`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TextIO

from IPython.display import DisplayHandle, display

from ..text import printable_text
from ..types import Reply, ToolBlock
from .blocks import BlockRenderer
from .markup import (
    footer_text,
    markdown_to_html,
    provenance,
    reply_bundle,
    reply_html,
    reply_text,
    tail_lines,
    tool_text,
)
from .streaming_markdown import StreamingMarkdown

__all__ = [
    "BlockRenderer",
    "HtmlRenderer",
    "NullRenderer",
    "Renderer",
    "TextRenderer",
    "ToolBlock",
    "footer_text",
    "make_renderer",
    "reply_bundle",
    "reply_html",
    "reply_text",
]

RendererKind = Literal["html", "text", "none"]
MAX_BYTES_PER_SECOND = 500_000  # live repaints send at most ~0.5 MB/s to the frontend
FLUSH_INTERVAL = 0.2  # seconds between flushes of a stream that is not a terminal
_UNKNOWN = -1.0  # a TextRenderer's flush interval before its first write
_display: Callable[..., Any] = display  # IPython's display() is untyped
Sink = Callable[[dict[str, str], "dict[str, Any] | None"], None]


class Renderer(Protocol):
    """Receives a reply as it streams, then the finished reply."""

    def start(self) -> None:
        """Called once before the first delta."""

    def update(self, text_delta: str, reasoning_delta: str) -> None:
        """Called for each streamed delta (hot path)."""

    def tool(self, block: ToolBlock) -> None:
        """Called when a tool call the model asked for has run."""

    def finish(self, reply: Reply, *, notes: Sequence[str] = (), error: str = "") -> None:
        """Called once with the finished (or partial, on error) reply."""


class NullRenderer:
    """Shows nothing (for programmatic use of the session, e.g. tests and batch jobs)."""

    def start(self) -> None:
        """Do nothing."""

    def update(self, text_delta: str, reasoning_delta: str) -> None:
        """Do nothing."""

    def tool(self, block: ToolBlock) -> None:
        """Do nothing."""

    def finish(self, reply: Reply, *, notes: Sequence[str] = (), error: str = "") -> None:
        """Do nothing."""


class HtmlRenderer:
    """Live sanitized HTML through one display handle, repainted at a bounded rate.

    For the chat panel (``sink``), which shows a reply in one place; a cell's reply
    streams through ``BlockRenderer`` (finished blocks sent once).

    The first delta paints at once; later ones at most every ``min_interval`` seconds
    (stretched to 3x the last repaint's cost, so long replies stay linear overall).
    ``finish`` always repaints with the final bundle.
    """

    def __init__(
        self,
        min_interval: float = 0.08,
        clock: Callable[[], float] = time.monotonic,
        sink: Sink | None = None,
    ) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self.sink = sink  # where bundles go instead of a display handle (the chat panel)
        self.updates = 0
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._handle: DisplayHandle | None = None
        self._due: float | None = None  # None: next delta repaints at once
        self._tools: list[ToolBlock] = []
        self._answer = StreamingMarkdown()
        self._thoughts = StreamingMarkdown()

    def start(self) -> None:
        """Show a waiting cursor (no markdown work yet) and keep the display handle."""
        self._show(self._streaming_bundle())

    def update(self, text_delta: str, reasoning_delta: str) -> None:
        """Collect a delta; repaint when the throttle allows."""
        if text_delta:
            self._text.append(text_delta)
        if reasoning_delta:
            self._reasoning.append(reasoning_delta)
        now = self.clock()
        if self._due is None or now >= self._due:
            bundle = self._streaming_bundle()
            self._show(bundle)
            cost = self.clock() - now
            size = len(bundle["text/html"])  # don't flood the frontend with huge pages
            self._due = now + max(self.min_interval, 3 * cost, size / MAX_BYTES_PER_SECOND)

    def tool(self, block: ToolBlock) -> None:
        """Add a finished tool call above the answer; repaint at once."""
        self._tools.append(block)
        self._show(self._streaming_bundle())

    def finish(self, reply: Reply, *, notes: Sequence[str] = (), error: str = "") -> None:
        """Repaint with the finished reply (partial text kept under an error).

        The output's metadata records what produced it (``provenance``).
        """
        bundle = reply_bundle(
            reply,
            notes=notes,
            error=error,
            tools=self._tools,
            render=_reuse(self._answer, "".join(self._text), reply.text),
            render_reasoning=_reuse(self._thoughts, "".join(self._reasoning), reply.reasoning),
        )
        self._show(bundle, metadata={"gmi_magics": provenance(reply)})

    def _streaming_bundle(self) -> dict[str, str]:
        text = "".join(self._text)
        self._text = [text] if text else []
        reasoning = "".join(self._reasoning)
        self._reasoning = [reasoning] if reasoning else []
        page = reply_html(
            text,
            reasoning=reasoning,
            tools=self._tools,
            streaming=True,
            render=self._answer.render,
            render_reasoning=self._thoughts.render,
        )
        return {"text/html": page, "text/plain": text}

    def _show(self, bundle: dict[str, str], metadata: dict[str, Any] | None = None) -> None:
        if self.sink is not None:
            self.sink(bundle, metadata)
        elif self._handle is None:
            self._handle = _display(bundle, raw=True, display_id=True, metadata=metadata)
        else:
            repaint: Callable[..., None] = self._handle.update
            repaint(bundle, raw=True, metadata=metadata)
        self.updates += 1


def _reuse(live: StreamingMarkdown, streamed: str, final: str) -> Callable[[str], str]:
    """Render the final text from the live cache when it is the streamed text.

    Blocks already rendered while streaming are not rendered again, so finishing a
    long reply costs its tail, not the whole reply once more.
    """
    same = (
        bool(streamed) and streamed.strip() == final and streamed.lstrip("\n") == streamed.lstrip()
    )
    return (lambda _text: live.render(streamed)) if same else markdown_to_html


class TextRenderer:
    """Plain text for terminals: deltas written as they arrive, never HTML.

    A terminal is flushed at every delta. A stream that flushes itself on a timer
    (ipykernel's, where each flush is a message to the frontend) is left to its timer;
    any other (a pipe) is flushed at most every ``FLUSH_INTERVAL`` seconds. Every
    stream is flushed before a tool runs and at the end.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._in_thinking = False
        self._wrote_text = False
        self._last = "\n"
        self._flushed = -FLUSH_INTERVAL
        self._interval: float | None = _UNKNOWN  # seconds between flushes (None: never)

    @property
    def stream(self) -> TextIO:
        """The target stream (``sys.stdout`` at write time unless given)."""
        return self._stream if self._stream is not None else sys.stdout

    def start(self) -> None:
        """Nothing to set up."""

    def update(self, text_delta: str, reasoning_delta: str) -> None:
        """Write the delta, marking where thinking starts and ends."""
        if reasoning_delta:
            if not self._in_thinking and not self._wrote_text:
                self._write("[Thinking] ")
                self._in_thinking = True
            self._write(reasoning_delta)
        if text_delta:
            if self._in_thinking:
                self._write("\n\n")
                self._in_thinking = False
            self._write(text_delta)
            self._wrote_text = True

    def tool(self, block: ToolBlock) -> None:
        """One line per finished tool call."""
        if self._last != "\n":
            self._write("\n")
        self._write(tool_text(block) + "\n")
        self.stream.flush()  # the tool runs now, maybe for a while

    def finish(self, reply: Reply, *, notes: Sequence[str] = (), error: str = "") -> None:
        """Write whatever was not streamed, then notes, error and footer lines."""
        if not self._wrote_text and not self._in_thinking:
            head = f"[Thinking] {reply.reasoning}\n\n" if reply.reasoning else ""
            self._write(head + reply.text)
        elif not self._wrote_text and reply.text:
            self._write("\n\n" + reply.text)
        tail = "\n".join(line for line in tail_lines(reply, notes, error) if line)
        if self._last != "\n":
            self._write("\n")
        if tail:
            self._write("\n" + tail + "\n")
        self.stream.flush()

    def _write(self, text: str) -> None:
        text = printable_text(text)  # no escape sequences or bidi overrides from the model
        if not text:
            return
        stream = self.stream
        stream.write(text)
        self._last = text[-1]
        if self._interval == _UNKNOWN:
            self._interval = _flush_interval(stream)
        if self._interval is None:
            return
        now = time.monotonic()
        if now - self._flushed >= self._interval:
            stream.flush()
            self._flushed = now


def _flush_interval(stream: TextIO) -> float | None:
    """Seconds between flushes the renderer makes on ``stream`` (None: it flushes itself).

    A terminal: every write. ipykernel's ``OutStream`` sends what was written on a timer
    of its own (``flush_interval``), so flushing it too would only split its messages.
    """
    try:
        if stream.isatty():
            return 0.0
    except (AttributeError, ValueError):  # a closed or minimal stream
        pass
    own = getattr(stream, "flush_interval", None)
    if isinstance(own, (int, float)) and 0 < own <= 1:
        return None
    return FLUSH_INTERVAL


def make_renderer(kind: RendererKind) -> Renderer:
    """The renderer for ``kind``: ``"html"``, ``"text"`` or ``"none"``."""
    if kind == "html":
        return BlockRenderer()
    if kind == "text":
        return TextRenderer()
    if kind == "none":
        return NullRenderer()
    raise ValueError(f"unknown renderer kind {kind!r}; use 'html', 'text' or 'none'")
