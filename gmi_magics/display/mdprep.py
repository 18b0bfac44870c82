"""Model markdown, prepared for Python-Markdown: closed fences, nested lists as written."""

from __future__ import annotations

import re

FENCE_LINE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})(.*)")
_ITEM = re.compile(r"( *)(?:[-*+]|\d{1,9}[.)]) +(?=\S)")


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


def normalize_list_indent(text: str) -> str:
    """Re-indent nested list items (models use 2 or 3 spaces; Python-Markdown needs 4).

    An item indented more than the open item is one level deeper; code fences are
    left alone, and a paragraph line at the margin closes every open list.
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
            out.append(line)
            continue
        indent = len(item.group(1))
        while levels and indent < levels[-1]:
            levels.pop()
        if not levels or indent > levels[-1]:
            levels.append(indent)
        out.append("    " * (len(levels) - 1) + line[indent:])
    return "\n".join(out)
