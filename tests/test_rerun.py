"""Re-running a cell follows the notebook's order (real shell, real HTTP)."""

from __future__ import annotations

import pytest

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
