"""Provenance metadata on the final display (model, host, params, usage, turn)."""

from __future__ import annotations

import json
from typing import Any

from conftest import TEST_KEY
from IPython.utils.capture import capture_output

from gmi_magics.testing import reply


def run_with_metadata(shell, cell: str, **kwargs: Any) -> tuple[Any, list[Any]]:
    """Run a cell capturing the raw display outputs (with their ``.metadata``)."""
    with capture_output() as captured:
        outcome = shell.ip.run_cell(cell, **kwargs)
    return outcome, list(captured.outputs)


def test_final_display_records_provenance(shell, server):
    usage = {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}
    server.enqueue(reply("R1"), reply("Answer", usage=usage, model="served/model"))
    shell.run("%%gmi --chat review\nFirst")
    outcome, outputs = run_with_metadata(
        shell, "%%gmi --chat review -t 0.3 --max-tokens 50\nSecond"
    )
    assert outcome.success, outcome.error_in_exec
    final = outputs[-1]
    assert "Answer" in final.data["text/html"]
    meta = final.metadata["gmi_magics"]
    assert meta["model"] == "served/model"
    assert meta["host"] == "127.0.0.1"
    assert meta["params"] == {"temperature": 0.3, "max_tokens": 50}
    assert meta["usage"]["prompt_tokens"] == 31
    assert meta["usage"]["completion_tokens"] == 9
    assert meta["usage"]["total_tokens"] == 40
    assert isinstance(meta["latency"], float) and 0 <= meta["latency"] < 30
    assert meta["finish_reason"] == "stop"
    assert (meta["thread"], meta["turn"]) == ("review", 2)
    assert TEST_KEY not in json.dumps(final.metadata)
    assert "b1a0" not in json.dumps(final.metadata)


def test_provenance_turn_index_after_a_rerun(shell, server):
    server.enqueue(reply("A"), reply("B"), reply("A2"))
    shell.run("%%gmi\nQa", cell_id="a")
    shell.run("%%gmi\nQb", cell_id="b")
    _, outputs = run_with_metadata(shell, "%%gmi\nQa again", cell_id="a")
    assert outputs[-1].metadata["gmi_magics"]["turn"] == 1
