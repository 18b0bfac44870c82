"""Incremental markdown for live replies: finished blocks render once, the tail each time."""

from __future__ import annotations

from .markup import markdown_to_html
from .mdprep import BlockScanner


class StreamingMarkdown:
    """Renders a growing markdown text, re-rendering only its unfinished tail.

    A block is finished once a blank line (outside code fences and ``$$`` math) is
    followed by a line that starts a new top-level block (``BlockScanner``);
    finished blocks are rendered once and cached, so a long streamed reply costs
    linear work.  The final render of a reply uses ``markdown_to_html`` on the
    whole text.
    """

    def __init__(self) -> None:
        self._html: list[str] = []
        self.done = 0  # text[:done] is rendered and cached
        self._scanned = 0  # complete lines scanned so far
        self._blocks = BlockScanner()

    def advance(self, text: str) -> tuple[str, str]:
        """Render the blocks ``text`` newly finished: their (markdown, HTML), or ("", "").

        ``text`` must extend the text of the previous call.
        """
        cut = self._scan(text)
        if cut <= self.done:
            return "", ""
        source = text[self.done : cut]
        page = markdown_to_html(source)
        self.done = cut
        return source, page

    def tail(self, text: str) -> str:
        """HTML of the unfinished tail of ``text`` (after the last ``advance``)."""
        return markdown_to_html(text[self.done :])

    def render(self, text: str) -> str:
        """HTML for ``text``, which must extend the text of the previous call."""
        source, page = self.advance(text)
        if source:
            self._html.append(page)
        return "".join(self._html) + self.tail(text)

    def _scan(self, text: str) -> int:
        """Advance over complete lines; return where the last finished block ends."""
        cut = self.done
        end = text.rfind("\n") + 1
        pos = self._scanned
        while pos < end:
            newline = text.index("\n", pos)
            line = text[pos:newline]
            if self._blocks.starts_block(line):
                cut = pos
            self._blocks.track(line)
            pos = newline + 1
        self._scanned = pos
        return cut
