"""``%gmi question`` on one line: joins the conversation, keeps the text exactly."""

from __future__ import annotations

import pytest

from gmi_magics.testing import reply


def test_line_mode_joins_the_conversation(shell, server):
    server.enqueue(reply("A1"), reply("4"), reply("A3"))
    shell.run("%%gmi\nQ1")
    result = shell.run("%gmi what is 2+2?")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1] == {
        "role": "user",
        "content": "what is 2+2?",
    }
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "what is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "Q3"},
    ]


@pytest.mark.parametrize("question", ["what's up", "it's \"quoted\" isn't it?", "a 'single' quote"])
def test_line_mode_keeps_quotes_and_apostrophes(shell, server, question):
    server.enqueue(reply("ok"))
    result = shell.run(f"%gmi {question}")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1]["content"] == question


def test_line_mode_with_options(shell, server):
    server.enqueue(reply("ok"))
    result = shell.run("%gmi -m Qwen/Qwen3-32B -t 0 what is a monad")
    assert result.success, result.error
    body = server.last_request.json
    assert body["model"] == "Qwen/Qwen3-32B"
    assert body["temperature"] == 0
    assert body["messages"][-1]["content"] == "what is a monad"


def test_line_mode_with_options_and_an_apostrophe(shell, server):
    server.enqueue(reply("ok"))
    result = shell.run("%gmi -m Qwen/Qwen3-32B what's a monad?")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1]["content"] == "what's a monad?"


@pytest.mark.parametrize(
    ("word", "question"),
    [
        ("last", "last year's winner of the Tour de France?"),
        ("history", "history of the Roman empire in one paragraph"),
        ("models", "models of computation compared"),
    ],
)
def test_line_question_starting_with_a_subcommand_word_is_not_dropped(
    shell, server, word, question
):
    """`%gmi last year's winner?` must not silently run `%gmi last` and drop the rest."""
    server.enqueue(reply("A1"), reply("ok"))
    shell.run("%%gmi\nQ1")
    result = shell.run(f"%gmi {question}")
    asked = server.chat_requests[-1].json["messages"][-1]["content"]
    refused = not result.success and word in str(result.error)
    assert asked == question or refused, "the words after the subcommand were silently ignored"


def test_a_question_may_start_with_a_subcommand_word(shell, server):
    server.enqueue(reply("Rome..."))
    result = shell.run("%gmi history of the Roman empire in one line")
    assert result.success, result.everything
    assert server.last_request.json["messages"][-1]["content"] == (
        "history of the Roman empire in one line"
    )


def test_question_mark_lines_inside_a_multi_line_cell_are_questions(shell, server):
    server.enqueue(reply("blue"))
    result = shell.run("x = 1\n%gmi why is the sky blue?")
    assert result.success, result.everything
    assert server.last_request.json["messages"][-1]["content"] == "why is the sky blue?"
