"""Where markdown code lies in a text (fenced blocks, inline spans): sent verbatim."""

from __future__ import annotations

import bisect
import re

__all__ = ["CodeMap", "code_spans"]

_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t]*(?=\n)")


def code_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each markdown code block and inline code span, in order."""
    spans: list[tuple[int, int]] = []
    gap = 0
    for start, end in _fenced_blocks(text):
        spans.extend(_inline_spans(text, gap, start))
        spans.append((start, end))
        gap = end
    spans.extend(_inline_spans(text, gap, len(text)))
    return spans


class CodeMap:
    """Answers "is this position inside markdown code?" for one text."""

    def __init__(self, text: str) -> None:
        spans = code_spans(text) if "`" in text or "~~~" in text else []
        self._starts = [start for start, _ in spans]
        self._ends = [end for _, end in spans]

    def covers(self, position: int) -> bool:
        """True when ``position`` lies inside a code block or span."""
        index = bisect.bisect_right(self._starts, position) - 1
        return index >= 0 and position < self._ends[index]


def _fenced_blocks(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks per CommonMark: the closing fence is the same character,
    at least as long, with nothing after it; an unclosed fence runs to the end."""
    blocks: list[tuple[int, int]] = []
    opening: tuple[str, int, int] | None = None  # fence character, length, start
    position = 0
    for line in text.split("\n"):
        fence = _FENCE_LINE.fullmatch(line)
        if fence is None:
            pass
        elif opening is None:
            if not (fence[1][0] == "`" and "`" in fence[2]):  # `-fence info has no `
                opening = (fence[1][0], len(fence[1]), position)
        elif fence[1][0] == opening[0] and len(fence[1]) >= opening[1] and not fence[2].strip():
            blocks.append((opening[2], position + len(line)))
            opening = None
        position += len(line) + 1
    if opening is not None:
        blocks.append((opening[2], len(text)))
    return blocks


def _inline_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Inline code spans in ``text[start:end]``: a run of N backticks up to the next
    run of exactly N, within one paragraph (no blank line between)."""
    runs = [(run.start(), run.end()) for run in _BACKTICKS.finditer(text, start, end)]
    if len(runs) < 2:
        return []
    blanks = [blank.start() for blank in _BLANK_LINE.finditer(text, start, end)]
    by_length: dict[int, list[int]] = {}
    for index, (run_start, run_end) in enumerate(runs):
        by_length.setdefault(run_end - run_start, []).append(index)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        run_start, run_end = runs[index]
        same = by_length[run_end - run_start]
        later = bisect.bisect_right(same, index)
        if later < len(same):
            close_start, close_end = runs[same[later]]
            blank = bisect.bisect_left(blanks, run_end)
            if blank == len(blanks) or blanks[blank] >= close_start:
                spans.append((run_start, close_end))
                index = same[later]
        index += 1
    return spans
