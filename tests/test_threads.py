"""Named threads (``--chat``): separate histories, ``%gmi chats``, reset of one thread."""

from __future__ import annotations

from helpers import sent_messages

from gmi_magics.testing import reply


def test_named_threads_keep_separate_histories(shell, server):
    server.enqueue(reply("D1"), reply("R1"), reply("D2"), reply("R2"))
    shell.run("%%gmi\nDefault one")
    shell.run("%%gmi --chat review\nReview one")
    assert sent_messages(server) == [{"role": "user", "content": "Review one"}]
    shell.run("%%gmi\nDefault two")
    assert sent_messages(server) == [
        {"role": "user", "content": "Default one"},
        {"role": "assistant", "content": "D1"},
        {"role": "user", "content": "Default two"},
    ]
    shell.run("%%gmi --chat review\nReview two")
    assert sent_messages(server) == [
        {"role": "user", "content": "Review one"},
        {"role": "assistant", "content": "R1"},
        {"role": "user", "content": "Review two"},
    ]


def test_chats_lists_threads_with_turn_counts(shell, server):
    assert "No conversations yet." in shell.run("%gmi chats").stdout
    server.enqueue(reply("D1"), reply("D2"), reply("R1"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    shell.run("%%gmi --chat review -s Tutor\nR")
    lines = shell.run("%gmi chats").stdout.splitlines()
    assert lines == ["default: 2 turns", "review: 1 turn · system: 'Tutor'"]


def test_reset_of_one_thread_leaves_the_others(shell, server):
    server.enqueue(reply("D1"), reply("R1"), reply("D2"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi --chat review\nR1")
    result = shell.run("%gmi reset --chat review")
    assert "Conversation 'review' cleared (1 turn removed)." in result.stdout
    assert shell.magics.session.threads["review"].turns == []
    shell.run("%%gmi\nQ2")
    assert [m["content"] for m in sent_messages(server)] == ["Q1", "D1", "Q2"]
