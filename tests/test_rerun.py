"""Re-running a cell follows the notebook's order (real shell, real HTTP)."""

from __future__ import annotations

import json
from typing import Any

import nbformat
import pytest
from conftest import TEST_KEY
from helpers import sent_messages
from nbclient import NotebookClient

from gmi_magics.testing import reply


def _users(request_json: dict) -> list[str]:
    return [m["content"] for m in request_json["messages"] if m["role"] in ("user", "assistant")]


def test_rerun_of_an_earlier_cell_sends_only_the_turns_before_it(shell, server):
    server.enqueue(reply("RA"), reply("RB"), reply("RC"), reply("RA2"))
    shell.run("%%gmi\nA", cell_id="a")
    shell.run("%%gmi\nB", cell_id="b")
    shell.run("%%gmi\nC", cell_id="c")
    shell.run("%%gmi\nA2", cell_id="a")
    assert _users(server.last_request.json) == ["A2"], "later turns must never be sent first"
    assert [t.user for t in shell.conversation.turns] == ["A2", "B", "C"]
    assert shell.conversation.turns[0].reply.text == "RA2"


@pytest.mark.parametrize("rerun", ["b", "c"])
def test_rerun_of_a_middle_or_last_cell_sees_the_turns_above(shell, server, rerun):
    server.enqueue(*(reply(f"R{i}") for i in range(4)))
    for cell in "abc":
        shell.run(f"%%gmi\n{cell.upper()}", cell_id=cell)
    shell.run(f"%%gmi\n{rerun.upper()} again", cell_id=rerun)
    above = [c.upper() for c in "abc"[: "abc".index(rerun)]]
    sent = _users(server.last_request.json)
    assert sent[::2] == [*above, f"{rerun.upper()} again"]
    assert [t.user for t in shell.conversation.turns][: len(above)] == above


def test_later_cells_see_the_replaced_turn_in_place(shell, server):
    server.enqueue(reply("RA"), reply("RB"), reply("RA2"), reply("RD"))
    shell.run("%%gmi\nA", cell_id="a")
    shell.run("%%gmi\nB", cell_id="b")
    shell.run("%%gmi\nA2", cell_id="a")
    shell.run("%%gmi\nD", cell_id="d")
    assert _users(server.last_request.json) == ["A2", "RA2", "B", "RB", "D"]


def test_two_asks_in_one_cell_stay_two_and_rerun_in_place(shell, server):
    server.enqueue(*(reply(f"R{i}") for i in range(5)))
    shell.run("%%gmi\nZ", cell_id="z")
    shell.run("%gmi one\n%gmi two", cell_id="x")
    shell.run("%gmi one again\n%gmi two again", cell_id="x")
    assert [t.user for t in shell.conversation.turns] == ["Z", "one again", "two again"]
    assert _users(server.last_request.json)[::2] == ["Z", "one again", "two again"]


def test_rerun_keeps_memory_flat(shell, server):
    server.enqueue(*(reply(f"R{i}") for i in range(30)))
    for _ in range(30):
        shell.run("%%gmi\nsame cell", cell_id="same")
    conversation = shell.conversation
    assert len(conversation.turns) == 1
    assert len(conversation._committed) == 1, "replaced turns must not be retained"


def test_undo_after_rerun_drops_the_rerun_turn(shell, server):
    server.enqueue(reply("RA"), reply("RB"), reply("RA2"))
    shell.run("%%gmi\nA", cell_id="a")
    shell.run("%%gmi\nB", cell_id="b")
    shell.run("%%gmi\nA2", cell_id="a")
    shell.run("%gmi undo")
    assert [t.user for t in shell.conversation.turns] == ["B"]


def execute_with_cell_id(client: NotebookClient, cell: Any, index: int) -> None:
    """Execute ``cell`` as JupyterLab does: its id in the request's ``metadata.cellId``.

    nbclient (0.11) sends no cell id, so a plain ``execute_cell`` is a run without one.
    """
    kc = client.kc
    plain_execute = kc.execute

    def execute(code: str, **options: Any) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": options.get("store_history", True),
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": options.get("stop_on_error", True),
        }
        message = kc.session.msg("execute_request", content, metadata={"cellId": cell.id})
        kc.shell_channel.send(message)
        return str(message["header"]["msg_id"])

    kc.execute = execute
    try:
        client.execute_cell(cell, index)
    finally:
        kc.execute = plain_execute


def test_rerun_with_same_cell_id_replaces_the_turn(shell, server):
    server.enqueue(reply("First try"), reply("Second try"))
    assert shell.run("%%gmi\nQ", cell_id="abc").success
    assert shell.run("%%gmi\nQ", cell_id="abc").success
    assert [r.json["messages"] for r in server.chat_requests] == [
        [{"role": "user", "content": "Q"}],
        [{"role": "user", "content": "Q"}],
    ]
    turns = shell.conversation.turns
    assert len(turns) == 1
    assert turns[0].reply.text == "Second try"


def test_rerun_replaces_in_place_between_other_cells(shell, server):
    server.enqueue(reply("A"), reply("B"), reply("A2"), reply("C"))
    shell.run("%%gmi\nQa", cell_id="a")
    shell.run("%%gmi\nQb", cell_id="b")
    shell.run("%%gmi\nQa edited", cell_id="a")
    assert "Qa" not in [m["content"] for m in server.last_request.json["messages"]]
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [
        ("Qa edited", "A2"),
        ("Qb", "B"),
    ]
    shell.run("%%gmi\nQc", cell_id="c")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Qa edited"},
        {"role": "assistant", "content": "A2"},
        {"role": "user", "content": "Qb"},
        {"role": "assistant", "content": "B"},
        {"role": "user", "content": "Qc"},
    ]


def test_rerun_without_cell_id_appends(shell, server):
    server.enqueue(reply("First"), reply("Second"))
    shell.run("%%gmi\nQ", cell_id="abc")
    shell.run("%%gmi\nQ")
    shell_turns = shell.conversation.turns
    assert [t.reply.text for t in shell_turns] == ["First", "Second"]
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "First"},
        {"role": "user", "content": "Q"},
    ]


def test_two_questions_in_one_cell_are_both_kept(shell, server):
    """One cell, two %gmi lines: the second is a new turn, not a re-run of the first."""
    server.enqueue(reply("A1"), reply("A2"))
    result = shell.run("%gmi first question\n%gmi second question", cell_id="multi")
    assert result.success, result.error
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "second question"},
    ]
    assert [t.user for t in shell.conversation.turns] == ["first question", "second question"]


def test_rerun_replaces_and_append_mode_appends(shell, server):
    server.enqueue(reply("A"), reply("A again"), reply("Follow"))
    shell.run("%%gmi\nQ", cell_id="cell-1")
    shell.run("%%gmi\nQ", cell_id="cell-1")
    shell.run("%%gmi\nNext", cell_id="cell-2")
    assert [m["content"] for m in sent_messages(server)] == ["Q", "A again", "Next"]

    shell.run('%config GMIMagics.rerun = "append"')
    server.enqueue(reply("B"), reply("B again"))
    shell.run("%%gmi\nQ", cell_id="cell-1")
    shell.run("%%gmi\nQ", cell_id="cell-1")
    assert [m["content"] for m in sent_messages(server)] == [
        *("Q", "A again", "Next", "Follow", "Q", "B", "Q"),
    ]
    assert len(shell.conversation.turns) == 4


def test_rerun_in_a_real_kernel(server):
    """A real kernel: the same cell id replaces its turn; a run without an id appends."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext gmi_magics"),
        nbformat.v4.new_code_cell("%%gmi\nWhat is a p-value?"),
        nbformat.v4.new_code_cell("%%gmi\nAnd a confidence interval?"),
    ]
    server.enqueue(reply("First try"), reply("Second try"), reply("CI answer"), reply("Third"))
    client = NotebookClient(notebook, timeout=60, kernel_name="python3")
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
        execute_with_cell_id(client, notebook.cells[1], 1)
        execute_with_cell_id(client, notebook.cells[1], 1)
        first_outputs = [o for o in notebook.cells[1].outputs if o.output_type == "display_data"]
        execute_with_cell_id(client, notebook.cells[2], 2)
        client.execute_cell(notebook.cells[1], 1)  # no cell id: appends
    requests = server.chat_requests
    assert len(requests) == 4
    assert requests[1].json["messages"] == [{"role": "user", "content": "What is a p-value?"}]
    assert requests[2].json["messages"] == [
        {"role": "user", "content": "What is a p-value?"},
        {"role": "assistant", "content": "Second try"},
        {"role": "user", "content": "And a confidence interval?"},
    ]
    assert [m["content"] for m in requests[3].json["messages"]] == [
        *("What is a p-value?", "Second try", "And a confidence interval?", "CI answer"),
        "What is a p-value?",
    ]
    (output,) = [o for o in first_outputs if "gmi_magics" in o["metadata"]]  # one reply
    assert "Second try" in output["data"]["text/html"]
    meta = output["metadata"]["gmi_magics"]
    assert (meta["thread"], meta["turn"], meta["host"]) == ("default", 1, "127.0.0.1")
    assert TEST_KEY not in json.dumps(notebook)


def test_vscode_cell_uris_work_as_cell_ids(shell, server):
    """VS Code sends the cell's URI as ``cellId``: a re-run replaces its turn the same way."""
    first = "vscode-notebook-cell:/home/u/lesson.ipynb#W0sZmlsZQ%3D%3D"
    second = "vscode-notebook-cell:/home/u/lesson.ipynb#W1sZmlsZQ%3D%3D"
    server.enqueue(reply("A"), reply("B"), reply("A2"))
    shell.run("%%gmi\nQa", cell_id=first)
    shell.run("%%gmi\nQb", cell_id=second)
    shell.run("%%gmi\nQa again", cell_id=first)
    assert [m["content"] for m in server.last_request.json["messages"]] == ["Qa again"]
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [
        ("Qa again", "A2"),
        ("Qb", "B"),
    ]
