"""A cell's reply as a run of outputs: finished blocks sent once, only the open tail repainted.

Every part of a reply reaches the frontend once as a ``display_data`` with
``text/html`` (sanitized) and ``text/plain`` (its markdown), never updated again:
finished markdown blocks (batched), each round's thinking (collapsed), each tool
call, and at the end the last blocks with notes, error, footer and the provenance
metadata.  A live output below them shows the open tail (or a window of the
thinking) through ``update_display_data``; it carries no ``text/plain``, and it is
emptied before the next part is published below it.  So a notebook frontend shows
rendered HTML while streaming, and ``jupyter console`` (which ignores updates)
prints every part as text exactly once.

The repaints are throttled by bytes as well as by time: they may spend at most
``REPAINT_SHARE`` times a lower bound of the final output's size so far (message
headers counted), so the bytes a frontend receives for one reply stay within about
3x its final output, whatever the reply's length or token rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from IPython.display import DisplayHandle, display

from ..text import printable_text
from ..types import Reply, ToolBlock
from .markup import (
    div,
    markdown_to_html,
    provenance,
    reply_bundle,
    stylesheet,
    tail_lines,
    thinking_html,
    tool_html,
    tool_text,
    with_cursor,
)
from .streaming_markdown import StreamingMarkdown

MESSAGE_OVERHEAD = 700  # bytes of header, parent header and signature of one iopub message
REPAINT_SHARE = 1.5  # repaints may spend this multiple of the final output's size so far
GROWTH = 2.2  # final bytes (HTML + plain text) per markdown character, at least
FOOTER_BYTES = 400  # footer line and provenance metadata, at least
THINKING_WINDOW = 1_200  # characters of the thinking shown while it streams
MIN_INTERVAL = 0.05  # at most 20 repaints a second
MAX_BYTES_PER_SECOND = 500_000
PART = '<div class="gmi-reply gmi-part">'
EMPTY = {"text/html": '<div class="gmi-part"></div>'}  # an emptied output (no text/plain)
_display: Callable[..., Any] = display  # IPython's display() is untyped
# The parts of one reply read as one: no gaps between their outputs (JupyterLab, Notebook 7
# and nbconvert's lab template: jp-OutputArea; nbclassic and the classic template: output_area;
# VS Code's notebook webview: output_container, whose padding VS Code sets inline, and whose
# outputs keep their blocks' margins, so a part's last margin goes).
PART_CSS = """
.jp-OutputArea-child:has(.gmi-part), .output_area:has(.gmi-part) { margin: 0; min-height: 0; }
.jp-OutputArea-output:has(> .gmi-part), .output_subarea:has(> .gmi-part) {
  padding-top: 0 !important; padding-bottom: 0 !important; margin-top: 0; margin-bottom: 0; }
.output_container > .output:has(.gmi-part) {
  padding-top: 0 !important; padding-bottom: 0 !important; }
.output_container .gmi-part > :last-child { margin-bottom: 0; }
.gmi-part > details.gmi-thinking, .gmi-part > details.gmi-tool { margin: 0.25em 0; }
"""


class BlockRenderer:
    """Streams one reply into a cell as outputs that are sent once, plus one live tail."""

    def __init__(
        self, min_interval: float = MIN_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self.updates = 0  # messages sent (outputs and repaints)
        self.sent = 0  # estimated bytes sent, message headers included
        self._spent = 0  # bytes sent that are not part of the final output
        self._kept_bytes = 0  # bytes of the outputs that stay (the final output so far)
        self._kept: list[DisplayHandle] = []
        self._tools: list[ToolBlock] = []
        self._live: DisplayHandle | None = None
        self._styled = False  # the stylesheet is in an output that stays
        self._due: float | None = None
        self._text: list[str] = []  # answer text of the current round
        self._thinking: list[str] = []  # thinking of the current round, not yet published
        self._said: list[str] = []  # answer text of earlier rounds (for the final check)
        self._thought: list[str] = []  # published thinking
        self._answer = StreamingMarkdown()
        self._pending: list[tuple[str, str]] = []  # finished (markdown, HTML), not published
        self._committed = 0  # the current round's text[:_committed] is published

    # --- the Renderer protocol ---------------------------------------------------------

    def start(self) -> None:
        """Nothing yet: the first delta paints at once."""

    def update(self, text_delta: str, reasoning_delta: str) -> None:
        """Collect a delta; publish finished blocks and repaint the tail when allowed."""
        if reasoning_delta:
            self._thinking.append(reasoning_delta)
        if text_delta:
            if text_delta.strip() and self._thinking:
                self._publish_thinking()  # the answer starts: this round's thinking is done
            self._text.append(text_delta)
        now = self.clock()
        if self._due is not None and now < self._due:
            return
        size = self._paint()
        cost = self.clock() - now
        self._due = now + max(self.min_interval, 3 * cost, size / MAX_BYTES_PER_SECOND)

    def tool(self, block: ToolBlock) -> None:
        """Publish this round's thinking and text, then the tool call, in order."""
        self._publish_thinking()
        self._close_round()
        self._tools.append(block)
        self._publish(tool_html(block), tool_text(block))
        self._due = None

    def finish(self, reply: Reply, *, notes: Sequence[str] = (), error: str = "") -> None:
        """Publish the rest of the reply with notes, error, footer and provenance."""
        metadata = {"gmi_magics": provenance(reply)}
        if not self._matches(reply):  # not streamed (or not as streamed): show it whole
            self._clear_all()
            bundle = reply_bundle(reply, notes=notes, error=error, tools=self._tools)
            self._show(bundle, metadata)
            return
        text = self._joined()
        self._advance(text)
        thinking_page, thinking_plain = self._thinking_parts()
        rest = text[self._answer.done :]
        body = "".join(page for _, page in self._pending) + markdown_to_html(rest)
        source = "".join(source for source, _ in self._pending) + rest
        lines = tail_lines(reply, notes, error)
        page = thinking_page + body + "".join(div("gmi-note", note) for note in notes)
        page += div("gmi-error", error) if error else ""
        page += div("gmi-footer", lines[-1]) if lines[-1] else ""
        plain = thinking_plain + source.strip("\n")
        plain += "\n\n" + "\n".join(line for line in lines if line) if any(lines) else ""
        self._clear_live()
        bundle = {"text/html": self._part(page), "text/plain": printable_text(plain.strip("\n"))}
        self._show(bundle, metadata)

    # --- streaming ---------------------------------------------------------------------

    def _paint(self) -> int:
        """Publish newly finished blocks, then repaint the open tail, as the budget allows.

        A finished block is never part of a repaint: it waits until it can go out once.
        """
        text = self._joined()
        self._advance(text)
        if self._pending and self._afford(3 * MESSAGE_OVERHEAD):  # clear, publish, new tail
            self._publish_pending()
        if not self._afford(MESSAGE_OVERHEAD + len(text) - self._answer.done):
            return 0
        if self._thinking and not text.strip():
            page = _thinking_window(self._thinking_so_far())
        else:
            page = with_cursor(self._answer.tail(text))
        page = self._part(page, style=False)
        if not self._afford(MESSAGE_OVERHEAD + len(page)):
            return 0
        self._head()
        self._repaint(page)
        return len(page)

    def _advance(self, text: str) -> None:
        source, page = self._answer.advance(text)
        if source:
            self._pending.append((source, page))

    def _repaint(self, page: str) -> None:
        bundle = {"text/html": page}
        if self._live is None:
            self._live = self._send(bundle, None)
        else:
            _update(self._live, bundle)
            self._count(len(page))
        self._spent += len(page) + MESSAGE_OVERHEAD

    def _publish_pending(self) -> None:
        source = "".join(source for source, _ in self._pending)
        page = "".join(page for _, page in self._pending)
        self._pending = []
        self._committed = self._answer.done
        self._publish(page, source)

    def _close_round(self) -> None:
        """The round's text is complete: publish all of it (a tool call follows)."""
        text = self._joined()
        self._advance(text)
        rest = text[self._answer.done :]
        source = "".join(source for source, _ in self._pending) + rest
        page = "".join(page for _, page in self._pending) + markdown_to_html(rest)
        if source.strip():
            self._publish(page, source)
            self._said.append(text.strip())
        self._text, self._pending, self._committed = [], [], 0
        self._answer = StreamingMarkdown()

    def _publish_thinking(self) -> None:
        page, plain = self._thinking_parts()
        if page:
            self._publish(page, plain)

    def _thinking_parts(self) -> tuple[str, str]:
        """The current round's thinking, collapsed (HTML, plain text); then it is done."""
        reasoning = self._thinking_so_far().strip()
        self._thinking = []
        if not reasoning:
            return "", ""
        self._thought.append(reasoning)
        body = markdown_to_html(reasoning)
        page = thinking_html(body, expanded=False)
        return page, f"[Thinking]\n{reasoning}\n[/Thinking]\n\n"

    # --- outputs -----------------------------------------------------------------------

    def _publish(self, page: str, plain: str) -> None:
        """A part of the reply, sent once below what is shown; the live tail goes."""
        self._clear_live()
        text = printable_text(plain.strip("\n")) + "\n"  # a console prints a blank line after
        bundle = {"text/html": self._part(page), "text/plain": text}
        self._kept.append(self._show(bundle, None))
        self._spent += MESSAGE_OVERHEAD  # the header: the payload is part of the final output

    def _head(self) -> None:
        """The stylesheet, once, in the reply's first output (it stays; no height)."""
        if not self._styled:
            self._kept.append(self._show({"text/html": self._part("")}, None))
            self._spent += MESSAGE_OVERHEAD

    def _show(self, bundle: dict[str, str], metadata: dict[str, Any] | None) -> DisplayHandle:
        handle = self._send(bundle, metadata)
        self._kept_bytes += sum(map(len, bundle.values()))
        return handle

    def _send(self, bundle: dict[str, str], metadata: dict[str, Any] | None) -> DisplayHandle:
        handle: DisplayHandle = _display(bundle, raw=True, display_id=True, metadata=metadata)
        self._count(sum(map(len, bundle.values())))
        return handle

    def _clear_live(self) -> None:
        if self._live is not None:
            _update(self._live, EMPTY)  # nothing to show, no height (an empty {} stays on
            # screen in nbclassic and warns in nbconvert)
            self._count(0)
            self._spent += MESSAGE_OVERHEAD
            self._live = None

    def _clear_all(self) -> None:
        self._clear_live()
        for handle in self._kept:
            _update(handle, EMPTY)
            self._count(0)
        self._kept, self._styled = [], False

    def _count(self, size: int) -> None:
        self.updates += 1
        self.sent += size + MESSAGE_OVERHEAD

    def _part(self, page: str, *, style: bool = True) -> str:
        """``page`` in a reply part; the first part that stays carries the stylesheet."""
        css = ""
        if style and not self._styled:
            css, self._styled = f"<style>{stylesheet()}{PART_CSS}</style>", True
        return f"{PART}{css}{page}</div>"

    # --- budget and checks -------------------------------------------------------------

    def _afford(self, cost: int) -> bool:
        """Whether ``cost`` more bytes keep repaints within their share of the final size."""
        unsent = len(self._joined()) - self._committed + len(self._thinking_so_far())
        style = 0 if self._styled else len(stylesheet())
        floor = self._kept_bytes + style + FOOTER_BYTES + int(GROWTH * unsent)
        return self._spent + cost <= REPAINT_SHARE * floor

    def _joined(self) -> str:
        """The round's answer text so far (its pieces joined once, not per repaint)."""
        if len(self._text) > 1:
            self._text = ["".join(self._text)]
        return self._text[0] if self._text else ""

    def _thinking_so_far(self) -> str:
        """The round's unpublished thinking (its pieces joined once, like ``_joined``)."""
        if len(self._thinking) > 1:
            self._thinking = ["".join(self._thinking)]
        return self._thinking[0] if self._thinking else ""

    def _matches(self, reply: Reply) -> bool:
        """Whether ``reply`` is what streamed here (so the parts shown stay)."""
        if not self._kept and self._live is None:
            return False
        said = [*self._said, self._joined().strip()]
        thought = [*self._thought, self._thinking_so_far().strip()]
        return _words(said) == _words([reply.text]) and _words(thought) == _words([reply.reasoning])


def _update(handle: DisplayHandle, bundle: dict[str, str]) -> None:
    repaint: Callable[..., None] = handle.update  # untyped in IPython
    repaint(bundle, raw=True)


def _words(parts: list[str]) -> list[str]:
    return " ".join(parts).split()


def _thinking_window(reasoning: str) -> str:
    """The end of the thinking so far, open, in a bounded window (repainted often)."""
    window = reasoning
    if len(reasoning) > THINKING_WINDOW:
        window = reasoning[-THINKING_WINDOW:]
        window = "…" + window[window.find(" ") + 1 :]
    body = with_cursor(markdown_to_html(window))
    return thinking_html(body, expanded=True, label="Thinking…")
