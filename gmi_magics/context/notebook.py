"""The notebook itself as context (``%%gmi --context N``): the last N cells that ran.

Only on request.  What IPython keeps, and so what can be sent, per cell: its code
as typed (``In`` / the raw input history), its value (``Out`` / ``_oh``: the last
expression's result, shown through ``preview``: DataFrame heads, clipped reprs),
the error it raised when it raised the *last* error (``sys.last_value``: type,
message, the user's frames), and its value as an image when that value is a
figure, axes, list of plotted artists or an image.  Not kept by IPython, so never
sent: printed text (stdout/stderr), ``display()`` output, plots the inline
backend showed without being the cell's value, errors before the last one.
``%gmi`` / ``%%gmi`` cells are skipped; a cell that shows the API key is left out.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from .clipping import clip
from .explain import MAX_CELL_CHARS, trimmed_traceback, user_frames
from .preview import render_preview
from .secret_check import checked_secrets, shows_secret

MAX_CONTEXT_CELLS = 50
MAX_OUTPUT_CHARS = 1_500
OPEN, CLOSE = "<notebook_context>", "</notebook_context>"


@dataclass(frozen=True)
class ExecutedCell:
    """One cell that ran: its number, code, value (``Out``) and error report."""

    number: int
    source: str
    has_output: bool = False
    output: object = None
    error: str = ""


@dataclass
class NotebookContext:
    """The context block, the images it refers to ``(label, value)``, and its cells."""

    text: str
    images: list[tuple[str, object]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    left_out: list[int] = field(default_factory=list)  # cells that showed the key


def is_gmi_cell(source: str) -> bool:
    """A ``%%gmi`` cell, or one made only of ``%gmi`` lines."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if not lines:
        return True  # an empty cell: nothing to send either
    return lines[0].startswith("%%gmi") or all(line.startswith("%gmi") for line in lines)


def recent_cells(
    inputs: Sequence[str],
    outputs: Mapping[int, object],
    count: int,
    *,
    before: int,
    errors: Mapping[int, str] | None = None,
) -> list[ExecutedCell]:
    """The last ``count`` cells numbered below ``before`` (oldest first), gmi cells skipped.

    ``inputs[n]`` is cell n's code (IPython's raw input history), ``outputs`` its value.
    """
    chosen: list[ExecutedCell] = []
    number = min(before, len(inputs)) - 1
    while number > 0 and len(chosen) < min(count, MAX_CONTEXT_CELLS):
        source = inputs[number]
        if isinstance(source, str) and not is_gmi_cell(source):
            chosen.append(
                ExecutedCell(
                    number,
                    source,
                    number in outputs,
                    outputs.get(number),
                    (errors or {}).get(number, ""),
                )
            )
        number -= 1
    return chosen[::-1]


def error_report(error: BaseException, is_cell_file: Callable[[str], bool]) -> str:
    """``ZeroDivisionError: division by zero`` and the user's frames of the traceback."""
    line = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = user_frames(error.__traceback__, is_cell_file)
    return f"{line}\n{trimmed_traceback(frames)}".rstrip() if frames else line


def raising_cell(tb: TracebackType | None, cell_number: Callable[[str], int | None]) -> int | None:
    """The number of the cell whose code raised (the outermost cell frame)."""
    for frame in traceback.extract_tb(tb):
        number = cell_number(frame.filename)
        if number is not None:
            return number
    return None


def context_block(
    cells: Sequence[ExecutedCell],
    *,
    image_of: Callable[[object], object | None],
    secrets: Sequence[str] = (),
) -> NotebookContext:
    """The delimited block sent before the question, and the images it attaches."""
    context = NotebookContext("")
    pieces = []
    secrets = checked_secrets(secrets)
    for cell in cells:
        piece, image = _cell_text(cell, image_of)
        if shows_secret(piece, secrets):
            context.left_out.append(cell.number)
            piece, image = f"### In [{cell.number}]\n(left out: it shows your API key)", None
        if image is not None:
            context.images.append((f"Out[{cell.number}]", image))
        pieces.append(piece)
        context.numbers.append(cell.number)
    noun = "cell" if len(cells) == 1 else "cells"
    head = f"The last {len(cells)} {noun} I ran in my notebook, oldest first:"
    context.text = "\n\n".join([OPEN, head, *pieces, CLOSE])
    return context


def _cell_text(
    cell: ExecutedCell, image_of: Callable[[object], object | None]
) -> tuple[str, object]:
    """One cell as markdown: code, value (or its image), error."""
    parts = [
        f"### In [{cell.number}]",
        _fenced(clip(cell.source.rstrip(), MAX_CELL_CHARS), "python"),
    ]
    image = image_of(cell.output) if cell.has_output else None
    if cell.has_output:
        shown = render_preview(cell.output, max_chars=MAX_OUTPUT_CHARS).text
        note = " (attached as an image)" if image is not None else ""
        parts.append(f"Out [{cell.number}]{note}:\n{_fenced(shown)}")
    if cell.error:
        parts.append(f"Error:\n{_fenced(cell.error)}")
    return "\n".join(parts), image


def _fenced(text: str, language: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text}\n{fence}"
