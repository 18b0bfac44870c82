"""Parameter descriptions from docstrings (Google, NumPy and reST styles).

``parse_docstring`` returns a docstring's summary paragraph and a description for
each documented parameter; ``function_schema`` uses them. Only the standard library
is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["parse_docstring"]

_GOOGLE_HEADER = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(.*?\))?\s*:(?:\s+(.*))?$")
_NUMPY_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:(?:\s+(.*))?$")
_RULE = re.compile(r"^\s*-{3,}\s*$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The summary paragraph and per-parameter descriptions (Google, NumPy, reST)."""
    lines = (doc or "").expandtabs().splitlines()
    params: dict[str, str] = {}
    for i, line in enumerate(lines):
        text = line.strip()
        if _GOOGLE_HEADER.match(text):
            block = _indented_block(lines[i + 1 :], _indent(line))
            params.update(_entries(block, _google_head))
        elif text == "Parameters" and i + 1 < len(lines) and _RULE.match(lines[i + 1]):
            params.update(_entries(_numpy_block(lines[i + 2 :]), _numpy_head))
        elif text.startswith(":param"):
            block = [text, *_indented_block(lines[i + 1 :], _indent(line))]
            params.update(_entries(block, _rest_head))
    return _summary(lines), params


def _summary(lines: list[str]) -> str:
    taken: list[str] = []
    for i, line in enumerate(lines):
        text = line.strip()
        next_is_rule = i + 1 < len(lines) and _RULE.match(lines[i + 1])
        if not text or next_is_rule or _GOOGLE_HEADER.match(text) or text[0] == ":":
            break
        taken.append(text)
    return " ".join(taken)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indented_block(lines: list[str], indent: int) -> list[str]:
    """Lines up to the first non-blank one indented no deeper than ``indent``."""
    for n, line in enumerate(lines):
        if line.strip() and _indent(line) <= indent:
            return lines[:n]
    return lines


def _numpy_block(lines: list[str]) -> list[str]:
    """Lines up to the next NumPy section header (a line underlined by dashes)."""
    for n in range(len(lines) - 1):
        if lines[n].strip() and _RULE.match(lines[n + 1]):
            return lines[:n]
    return lines


def _entries(
    block: list[str], head: Callable[[str], tuple[list[str], str] | None]
) -> dict[str, str]:
    """Entries start at the block's base indent; deeper lines continue them."""
    found: dict[str, list[str]] = {}
    base = min((_indent(line) for line in block if line.strip()), default=0)
    names: list[str] = []
    for line in block:
        text = line.strip()
        parsed = head(text) if text and _indent(line) <= base else None
        if parsed:
            names, first = parsed
            for name in names:
                found[name] = [first] if first else []
        elif text:
            for name in names:
                found[name].append(text)
    return {name: " ".join(parts) for name, parts in found.items() if parts}


def _google_head(text: str) -> tuple[list[str], str] | None:
    match = _GOOGLE_ENTRY.match(text)
    return ([match[1]], match[2] or "") if match else None


def _numpy_head(text: str) -> tuple[list[str], str] | None:
    match = _NUMPY_ENTRY.match(text)
    if not match:
        return None
    return [name.strip().lstrip("*") for name in match[1].split(",")], ""


def _rest_head(text: str) -> tuple[list[str], str] | None:
    match = _REST_PARAM.match(text)
    return ([match[1]], match[2] or "") if match else None
