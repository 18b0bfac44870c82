"""The context budget through a real shell: oldest turns left out, ``--max-history``."""

from __future__ import annotations

from helpers import sent_messages

from gmi_magics.testing import reply


def _three_long_turns(shell, server) -> None:
    for n in (1, 2, 3):
        server.enqueue(reply(f"A{n} " + "y" * 77, usage=None))
        assert shell.run(f"%%gmi -s Be-brief\nQ{n} " + "x" * 77).success


def test_oldest_turns_are_left_out_to_fit_the_context_budget(shell, server):
    _three_long_turns(shell, server)
    # system 7 + new 24 + one turn 48 = 79 tokens (4 chars/token + 4 per message)
    shell.config(max_context_tokens=90)
    server.enqueue(reply("A4", usage=None))
    result = shell.run("%%gmi\nQ4 " + "x" * 77)
    assert result.success, result.error
    contents = [m["content"][:2] for m in sent_messages(server)]
    assert contents == ["Be", "Q3", "A3", "Q4"]
    assert sent_messages(server)[0] == {"role": "system", "content": "Be-brief"}
    assert "2 oldest turns not sent: context budget" in result.last_html
    assert "2 oldest turns not sent: context budget" in result.plain
    assert len(shell.conversation.turns) == 4, "left out of the request, not out of history"


def test_max_history_limits_the_turns_sent(shell, server):
    _three_long_turns(shell, server)
    server.enqueue(reply("A4"), reply("A5"))
    shell.run("%%gmi --max-history 1\nQ4")
    assert [m["content"][:2] for m in sent_messages(server)] == ["Be", "Q3", "A3", "Q4"]
    shell.run("%%gmi --max-history 0\nQ5")
    assert [m["content"][:2] for m in sent_messages(server)] == ["Be", "Q5"]
