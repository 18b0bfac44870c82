"""``%gmi retry``: re-asks with the cell's options, replaces the reply, never loses the turn."""

from __future__ import annotations

from helpers import one_error_line, sent_messages

from gmi_magics.testing import reply, status


def test_retry_reasks_the_last_message_and_replaces_the_reply(shell, server):
    server.enqueue(reply("A1"), reply("Bad answer"), reply("Better answer"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    result = shell.run("%gmi retry")
    assert result.success, result.error
    assert "Better answer" in result.last_html
    assert sent_messages(server) == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [
        ("Q1", "A1"),
        ("Q2", "Better answer"),
    ]


def test_retry_replays_the_cells_options(shell, server):
    server.enqueue(reply("first"), reply("second"))
    shell.run("%%gmi --chat c -m Qwen/Qwen3-32B -t 0.1 --max-tokens 7\nOnce more")
    result = shell.run("%gmi retry --chat c")
    assert result.success, result.everything
    body = server.last_request.json
    assert body["model"] == "Qwen/Qwen3-32B"
    assert body["temperature"] == 0.1 and body["max_tokens"] == 7
    thread = shell.magics.session.threads["c"]
    assert [t.reply.text for t in thread.turns] == ["second"]


def test_failed_retry_keeps_the_old_turn(shell, server):
    server.enqueue(reply("A1"), status(401, {"error": {"message": "bad key"}}))
    shell.run("%%gmi\nQ1")
    before = list(shell.conversation.turns)
    result = shell.run("%gmi retry")
    assert not result.success
    assert type(result.error).__name__ == "AuthenticationError"
    assert shell.conversation.turns == before


def test_failed_retry_keeps_the_old_turn_when_the_question_repeats(shell, server):
    server.enqueue(reply("A1"), reply("A2"), status(401, {"error": {"message": "bad key"}}))
    shell.run("%%gmi\nAgain?")
    shell.run("%%gmi\nAgain?")
    result = shell.run("%gmi retry")
    assert not result.success
    assert [t.reply.text for t in shell.conversation.turns] == ["A1", "A2"]


def test_retry_on_an_empty_thread(shell, server):
    result = shell.run("%gmi retry")
    assert not result.success
    assert "Nothing to retry" in one_error_line(result)
    assert server.chat_requests == []
