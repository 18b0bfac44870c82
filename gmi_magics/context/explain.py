"""Turn the last exception into a prompt: type, message, the user's traceback, the cell."""

from __future__ import annotations

import linecache
import traceback
from collections.abc import Callable
from types import TracebackType

MAX_FRAMES_HEAD, MAX_FRAMES_TAIL = 3, 8
MAX_CELL_CHARS = 4_000

EXPLAIN_REQUEST = (
    "My notebook cell raised the error below. Explain in a few sentences what went wrong, "
    "then give the corrected code."
)


def user_frames(
    tb: TracebackType | None, is_cell_file: Callable[[str], bool]
) -> list[traceback.FrameSummary]:
    """Frames from the first notebook-cell frame on (IPython's own frames dropped)."""
    frames = traceback.extract_tb(tb)
    for index, frame in enumerate(frames):
        if is_cell_file(frame.filename):
            return list(frames[index:])
    return []  # the error never reached user code (e.g. a SyntaxError): no frames


def trimmed_traceback(frames: list[traceback.FrameSummary]) -> str:
    """A traceback text that keeps the first and last frames of a long chain."""
    if len(frames) > MAX_FRAMES_HEAD + MAX_FRAMES_TAIL:
        skipped = len(frames) - MAX_FRAMES_HEAD - MAX_FRAMES_TAIL
        head = traceback.format_list(frames[:MAX_FRAMES_HEAD])
        tail = traceback.format_list(frames[-MAX_FRAMES_TAIL:])
        return "".join([*head, f"  ... {skipped} frames skipped ...\n", *tail])
    return "".join(traceback.format_list(frames))


def cell_source(frames: list[traceback.FrameSummary], is_cell_file: Callable[[str], bool]) -> str:
    """The source of the cell that raised (the first cell frame), clipped."""
    for frame in frames:
        if is_cell_file(frame.filename):
            source = "".join(linecache.getlines(frame.filename))
            return source[:MAX_CELL_CHARS]
    return ""


def exception_report(exc: BaseException, is_cell_file: Callable[[str], bool]) -> str:
    """The message sent by ``%gmi explain``: request, error, traceback, and the cell."""
    frames = user_frames(exc.__traceback__, is_cell_file)
    error_line = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    parts = [EXPLAIN_REQUEST, f"Error:\n```\n{error_line}\n```"]
    if frames:
        parts.append(f"Traceback (most recent call last):\n```\n{trimmed_traceback(frames)}```")
    source = cell_source(frames, is_cell_file)
    filename = getattr(exc, "filename", None)
    if not source and isinstance(exc, SyntaxError) and filename and is_cell_file(filename):
        source = "".join(linecache.getlines(filename))[:MAX_CELL_CHARS]
    if source:
        parts.append(f"The cell:\n```python\n{source.rstrip()}\n```")
    return "\n\n".join(parts)
