"""Model markdown, prepared for Python-Markdown: closed fences, nested lists as written.

Model text is hostile: nesting is capped (``MAX_DEPTH``) before Python-Markdown,
which recurses once per level, sees it; long texts are cut into pieces of bounded
size at block boundaries (``split_blocks``), so no single render is large.
"""

from __future__ import annotations

import re

FENCE_LINE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})(.*)")
_ITEM = re.compile(r"( *)(?:[-*+]|\d{1,9}[.)]) +(?=\S)")
MAX_DEPTH = 12  # nested lists / block quotes kept; deeper markers are shown as text
_MARKER = re.compile(r"[ \t]*(?:(>)[ \t]?|(?:[-*+]|\d{1,9}([.)]))(?:[ \t]+|$))")
_RULE = re.compile(r"[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*\Z")
_LIST_START = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")


def fence_after(line: str, open_mark: str) -> str:
    """The open code fence after ``line`` ("" when none): opens, closes, or keeps it."""
    match = FENCE_LINE.match(line)
    if match is None:
        return open_mark
    mark, rest = match.groups()
    if not open_mark:
        return mark
    closes = mark[0] == open_mark[0] and len(mark) >= len(open_mark) and not rest.strip()
    return "" if closes else open_mark


def close_open_fence(text: str) -> str:
    """Close a code fence left open at the end (mid-stream or cut-off replies)."""
    mark = ""
    for line in text.splitlines():
        mark = fence_after(line, mark)
    return f"{text}\n{mark}" if mark else text


def cap_markers(line: str, depth: int = 0) -> str:
    """Escape the container markers (``>``, ``-``, ``1.`` …) that open a line past ``MAX_DEPTH``.

    ``depth`` is how deep the line already is; ``1. 1. 1. x`` nests once per marker.
    """
    if _RULE.match(line):
        return line
    pos = 0
    for _ in range(MAX_DEPTH - depth):
        match = _MARKER.match(line, pos)
        if match is None or match.end() == pos:
            return line
        pos = match.end()
    match = _MARKER.match(line, pos)
    if match is None or match.end() == pos:
        return line
    if match.group(1) or match.group(2):  # ">" or the "." / ")" of "1."
        escape_at = match.start(1) if match.group(1) else match.start(2)
    else:  # a bullet: escape the bullet itself
        escape_at = len(line) - len(line[match.start() :].lstrip(" \t"))
    return line[:escape_at] + "\\" + line[escape_at:]


def normalize_list_indent(text: str) -> str:
    """Re-indent nested list items (models use 2 or 3 spaces; Python-Markdown needs 4).

    An item indented more than the open item is one level deeper (at most
    ``MAX_DEPTH``); code fences are left alone, and a paragraph line at the margin
    closes every open list.
    """
    out: list[str] = []
    levels: list[int] = []  # indents of the open list levels
    mark = ""
    for line in text.split("\n"):
        was_fenced, mark = mark, fence_after(line, mark)
        item = None if was_fenced or mark else _ITEM.match(line)
        if item is None:
            if not was_fenced and line.strip() and not line.startswith(" "):
                levels = []
            out.append(line if was_fenced or mark else cap_markers(line))
            continue
        indent = len(item.group(1))
        while levels and indent < levels[-1]:
            levels.pop()
        if not levels or (indent > levels[-1] and len(levels) < MAX_DEPTH):
            levels.append(indent)
        out.append("    " * (len(levels) - 1) + cap_markers(line[indent:], len(levels) - 1))
    return "\n".join(out)


class BlockScanner:
    """Follows markdown line by line: where a finished top-level block ends.

    A block is finished once a blank line (outside code fences and ``$$`` math) is
    followed by a line that starts a new top-level block (not indented, not a list
    item): text before such a line renders the same on its own.
    """

    def __init__(self) -> None:
        self.fence = ""
        self._math = False
        self._blank_before = False

    def starts_block(self, line: str) -> bool:
        """Whether ``line`` (the next one) starts a new, independent block."""
        return (
            self._blank_before
            and not self.fence
            and not self._math
            and line[:1] not in ("", " ", "\t")
            and _LIST_START.match(line) is None
        )

    def track(self, line: str) -> None:
        """Take ``line`` into account."""
        fenced = self.fence
        self.fence = fence_after(line, self.fence)
        if not fenced and not self.fence and line.count("$$") % 2:
            self._math = not self._math
        self._blank_before = not self.fence and not line.strip()


def split_blocks(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of about ``limit`` characters (joined, they are ``text``).

    Cuts fall between finished blocks where possible, else before a line at the
    margin, else between lines, else (in one huge line) at a space; never inside
    a code fence.  Texts up to ``limit`` stay whole.
    """
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    scanner, start, pos = BlockScanner(), 0, 0
    cuts = [0, 0, 0]  # latest block boundary, margin line, any line (outside fences)
    while pos < len(text):
        newline = text.find("\n", pos)
        end = len(text) if newline < 0 else newline + 1
        line = text[pos:end].rstrip("\n")
        if pos > start and not scanner.fence:
            _note_cuts(cuts, pos, line, scanner, pos - start >= 8 * limit)
        if pos - start >= limit:
            cut = next((c for c in cuts if c - start >= limit // 4), max(cuts))
            if cut > start:
                pieces.append(text[start:cut])
                start = cut
        scanner.track(line)
        if not scanner.fence and end - start > 2 * limit:  # one huge line
            start = _cut_line(text, start, end, limit, pieces)
        pos = end
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def _note_cuts(cuts: list[int], pos: int, line: str, scanner: BlockScanner, late: bool) -> None:
    """Record ``pos`` (before ``line``) as a place to cut; inside a table only when ``late``."""
    if scanner.starts_block(line):
        cuts[0] = pos
    if "|" not in line or late:  # a table cut in two loses its header
        cuts[1] = pos if line[:1] not in ("", " ", "\t") else cuts[1]
        cuts[2] = pos


def _cut_line(text: str, start: int, end: int, limit: int, pieces: list[str]) -> int:
    """Cut ``text[start:end]`` (ending in one huge line) at spaces, about ``limit`` apart."""
    while end - start > 2 * limit:
        space = text.rfind(" ", start + limit // 2, start + limit)
        cut = space + 1 if space >= 0 else start + limit
        pieces.append(text[start:cut])
        start = cut
    return start
