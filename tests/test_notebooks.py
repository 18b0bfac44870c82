"""The committed notebooks run top to bottom in a real kernel against the stand-in server."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import TEST_KEY
from nbclient import NotebookClient

EXPECTED_PROMPTS = {
    # a trailing "?" is a question for the model, not IPython's help
    "quickstart": ["In one sentence: when is a p-value misleading?"],
}
REPLAYED = {"teaching"}  # answers from a committed recording: never reach the server
NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def _outputs(notebook: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, server) -> None:
    committed = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in committed.cells), "commit notebooks without outputs"
    client = NotebookClient(committed, timeout=60, kernel_name="python3")
    client.execute(cwd=str(path.parent))
    outputs = _outputs(committed)
    errors = [
        o for c in committed.cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert not errors, errors
    assert TEST_KEY not in outputs
    assert "text/html" in outputs
    assert server.chat_requests or path.stem in REPLAYED, "the notebook never reached the server"
    assert all(r.headers["authorization"] == f"Bearer {TEST_KEY}" for r in server.chat_requests)
    sent = [r.json["messages"][-1]["content"] for r in server.chat_requests]
    for prompt in EXPECTED_PROMPTS.get(path.stem, []):
        assert prompt in sent


def test_data_science_notebook_is_committed_without_outputs():
    path = Path(__file__).parent.parent / "notebooks" / "data-science.ipynb"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    sources = "\n".join(c.source for c in notebook.cells)
    for piece in ("%load_ext gmi_magics", "{df}", "-f code", "-f json", "%gmi usage"):
        assert piece in sources
