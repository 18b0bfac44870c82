"""``notebooks/teaching.ipynb`` runs with no network and no key: every reply is replayed
from the committed recording in ``notebooks/teaching_cache/``."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import TEST_KEY
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
NOTEBOOK = NOTEBOOKS / "teaching.ipynb"
CACHE = NOTEBOOKS / "teaching_cache"


def recorded_replies() -> list[str]:
    """The answer text of each recorded (streamed) reply."""
    replies = []
    for path in sorted(CACHE.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        text = ""
        for line in record["body"].splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[len("data: ") :]).get("choices", []):
                    text += choice.get("delta", {}).get("content") or ""
        replies.append(text)
    return replies


def test_the_recording_is_committed_and_holds_no_key() -> None:
    replies = recorded_replies()
    assert len(replies) == 4 and all(replies)
    for path in CACHE.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert TEST_KEY not in text and "Bearer" not in text and "recording-needs" not in text


@pytest.mark.timeout(180)
def test_the_lesson_replays_offline_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GMI_API_KEY", "GMI_CLOUD_APIKEY", "GMI_BASE_URL", "GMI_MODEL"):
        monkeypatch.delenv(name, raising=False)  # the kernel inherits this environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells)
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute(cwd=str(NOTEBOOKS))
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, errors
    asked = [cell for cell in notebook.cells if cell.source.startswith("%%gmi")]
    # the reply's parts as a console prints them (the stylesheet and the emptied live
    # tail carry no text)
    shown = ["\n".join(filter(None, map(_plain, cell.outputs))) for cell in asked]
    replies = recorded_replies()
    assert len(asked) == len(replies)
    for reply in replies:
        assert sum(reply in text for text in shown) == 1, reply[:60]
    usage = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "Token budget: 4,000;" in usage


def _plain(output: nbformat.NotebookNode) -> str:
    return str(output.get("data", {}).get("text/plain", ""))
