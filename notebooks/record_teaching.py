"""Regenerate ``teaching_cache/``: the recording ``teaching.ipynb`` replays.

    python notebooks/record_teaching.py

Runs the notebook once with ``GMIMagics.cache = "record"`` against the offline stand-in
server, which answers each question with the scripted tutor reply below (in cell order).
No network and no API key are involved; the recording never holds a key.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from gmi_magics.testing import StandInServer, reply

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "teaching.ipynb"
CACHE = HERE / "teaching_cache"
REPLAY_LINE = '%config GMIMagics.cache = "replay"'
RECORD_LINE = '%config GMIMagics.cache = "record"'

TUTOR_REPLIES = [
    "Both describe the *centre* of a set of numbers, but they get there differently.\n\n"
    "- The **mean** adds everything up and divides by how many values there are: for "
    "1, 2, 3, 10 that is 16 / 4 = **4**.\n"
    "- The **median** is the middle value once the numbers are sorted: for 1, 2, 3, 10 "
    "it sits between 2 and 3, so it is **2.5**.\n\n"
    "Notice how the single 10 pulls the mean up but barely moves the median.\n\n"
    "**Check:** what is the median of 7, 1, 5?",
    "Yes, that is exactly the right instinct. The median only cares about the *order* of "
    "the values, so one extreme value cannot drag it far; the mean uses every value's "
    "size, so a single outlier shifts it.\n\n"
    "That is why house prices and incomes are usually reported as medians: a few very "
    "large values would make the mean look unrepresentative.\n\n"
    "**Check:** can you think of a situation where the mean is the more useful summary?",
    "Let's work it out together instead, it only takes two steps.\n\n"
    "1. Add the five numbers: 2 + 4 + 4 + 5 + 100 = ?\n"
    "2. Divide that total by how many numbers there are.\n\n"
    "Once you have it, compare it with the median of the same list (the middle value "
    "after sorting). Which of the two describes a *typical* value here better, and why?",
]
QUIZ_REPLY = (
    "**Question:** A class records these quiz scores: 3, 6, 6, 7, 48. Which statement is "
    "true?\n\n"
    "- **A.** The mean and the median are equal.\n"
    "- **B.** The median is 6 and the mean is larger than the median.\n"
    "- **C.** The median is 7 and the mean is smaller than the median.\n"
    "- **D.** The mean is 6 and the median is 14.\n\n"
    "Reply with A, B, C or D."
)


def recording_notebook() -> nbformat.NotebookNode:
    """The lesson with its cache mode switched from replay to record."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    sources = [cell.source for cell in notebook.cells]
    if not any(REPLAY_LINE in source for source in sources):
        raise SystemExit(f"{NOTEBOOK.name} has no line {REPLAY_LINE!r}")
    for cell in notebook.cells:
        cell.source = cell.source.replace(REPLAY_LINE, RECORD_LINE)
    return notebook


def _pieces(text: str, size: int = 24) -> list[str]:
    """The reply streamed in pieces of a few words, as a model sends it."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def main() -> int:
    notebook = recording_notebook()
    shutil.rmtree(CACHE, ignore_errors=True)
    with StandInServer() as server:
        server.enqueue(*(reply(_pieces(text)) for text in [*TUTOR_REPLIES, QUIZ_REPLY]))
        os.environ["GMI_BASE_URL"] = server.base_url
        os.environ["GMI_API_KEY"] = "recording-needs-no-real-key"
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute(cwd=str(HERE))
        if server.pending:
            raise SystemExit(f"{server.pending} scripted replies were never asked for")
    recorded = sorted(CACHE.glob("*.json"))
    print(f"Recorded {len(recorded)} replies in {CACHE}", file=sys.stderr)
    return 0 if len(recorded) == len(TUTOR_REPLIES) + 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
