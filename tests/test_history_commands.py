"""``%gmi history``, ``reset`` and ``undo`` through a real shell."""

from __future__ import annotations

import re

from gmi_magics.testing import reply


def test_history_shows_sanitized_transcript(shell, server):
    server.enqueue(
        reply("First **bold** answer"),
        reply("<img src=x onerror=alert(1)> [x](javascript:alert(1)) <script>alert(2)</script>"),
    )
    assert shell.run("%%gmi -s Brief\nFirst question").success
    shell.run("%%gmi\nSecond <b onclick=alert(3)>question</b>")
    result = shell.run("%gmi history")
    assert result.success
    page = result.last_html
    assert "First question" in page
    assert "<strong>bold</strong>" in page
    assert "Second" in page and "question" in page
    assert page.index("First question") < page.index("Second")
    assert "Brief" in page
    lowered = page.lower()
    assert "<script" not in lowered.replace("<style>", "")
    assert "onerror" not in lowered or "&lt;img" in lowered
    assert not re.search(r"<[^>]*\son\w+\s*=", page)
    assert 'href="javascript' not in lowered
    plain = result.outputs[-1]["text/plain"]
    assert "First question" in plain


def test_history_when_empty(shell, server):
    result = shell.run("%gmi history")
    assert result.success
    assert "empty" in result.last_html
    assert server.chat_requests == []


def test_reset(shell, server):
    server.enqueue(reply("A1"), reply("A2"), reply("fresh"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    result = shell.run("%gmi reset")
    assert "2 turns removed" in result.stdout
    assert shell.conversation.turns == []
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [{"role": "user", "content": "Q3"}]
    assert "(1 turn removed)" in shell.run("%gmi reset").stdout
    assert "(0 turns removed)" in shell.run("%gmi reset").stdout


def test_undo(shell, server):
    server.enqueue(reply("A1"), reply("A2"), reply("A3"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    result = shell.run("%gmi undo")
    assert "Q2" in result.stdout
    assert [t.user for t in shell.conversation.turns] == ["Q1"]
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q3"},
    ]


def test_undo_on_empty(shell, server):
    result = shell.run("%gmi undo")
    assert result.success
    assert "Nothing to undo" in result.stdout
    assert shell.conversation.turns == []


def test_undo_drops_the_latest_committed_turn_after_a_rerun(shell, server):
    server.enqueue(reply("A1"), reply("B1"), reply("A2"))
    shell.run("%%gmi\nquestion A", cell_id="a")
    shell.run("%%gmi\nquestion B", cell_id="b")
    shell.run("%%gmi\nquestion A again", cell_id="a")  # replaces A in place
    assert [t.user for t in shell.conversation.turns] == ["question A again", "question B"]
    result = shell.run("%gmi undo")
    assert "question A again" in result.stdout
    assert [t.user for t in shell.conversation.turns] == ["question B"]
