"""A cell becomes one request: its shape, exact history, big cells (real shell, real HTTP)."""

from __future__ import annotations

from conftest import TEST_KEY
from helpers import DEFAULT_MODEL

from gmi_magics.testing import reply


def test_cell_streams_rendered_markdown_and_keeps_history(shell, server):
    server.enqueue(reply(["# Title\n\n", "| a | b |\n|---|---|\n| 1 | 2 |\n"]))
    first = shell.run("%%gmi\nExplain a p-value")
    assert first.success
    assert "<h1>Title</h1>" in first.last_html
    assert "<table>" in first.last_html
    assert "text/markdown" not in str(first.outputs)
    server.enqueue(reply("Second answer"))
    shell.run("%%gmi\nAnd a follow-up?")
    sent = server.last_request.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "Explain a p-value"
    assert sent[1]["content"].startswith("# Title")
    assert sent[2]["content"] == "And a follow-up?"


def test_default_request_shape(shell, server):
    server.enqueue(reply("ok"))
    result = shell.run("%%gmi\n  Hello there  \n")
    assert result.success, result.error
    request = server.last_request
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer " + TEST_KEY
    body = request.json
    assert body["model"] == DEFAULT_MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "Hello there"}]
    for absent in ("temperature", "max_tokens"):
        assert absent not in body


def test_history_on_turn_two_and_three_is_exact(shell, server):
    server.enqueue(reply("A1"), reply("A2 *md*"), reply("A3"))
    shell.run("%%gmi\nQ1")
    assert server.last_request.json["messages"] == [{"role": "user", "content": "Q1"}]
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2 *md*"},
        {"role": "user", "content": "Q3"},
    ]
    assert [t.user for t in shell.conversation.turns] == ["Q1", "Q2", "Q3"]


def test_200_kb_cell_is_sent(shell, server):
    big = "\n".join(f"line {i}: " + "x" * 90 for i in range(2_000))  # ~200 KB
    server.enqueue(reply("Read it all."))
    result = shell.run("%%gmi\n" + big)
    assert result.success, result.everything
    assert server.last_request.json["messages"][-1]["content"] == big
    assert len(server.last_request.body) > 200_000
    assert shell.conversation.turns[-1].user == big
