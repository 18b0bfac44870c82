"""Cell options (-m, -t, --max-tokens, --no-history, --no-stream, -o) and the help listing them."""

from __future__ import annotations

import re

import pytest
from helpers import DEFAULT_MODEL, USAGE

from gmi_magics.magics import SUBCOMMANDS as MAGIC_SUBCOMMANDS
from gmi_magics.magics import GMIMagics
from gmi_magics.subcommands import SUBCOMMANDS
from gmi_magics.testing import reply


@pytest.mark.parametrize("flag", ["-m", "--model"])
def test_model_option(shell, server, flag):
    server.enqueue(reply("ok"))
    assert shell.run(f"%%gmi {flag} Qwen/Qwen3-32B\nHi").success
    assert server.last_request.json["model"] == "Qwen/Qwen3-32B"
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nAgain")
    assert server.last_request.json["model"] == DEFAULT_MODEL, "-m is for one cell only"


@pytest.mark.parametrize(
    ("options", "expected"),
    [("-t 0", 0), ("--temperature 0.7", 0.7), ("-t 0.0", 0), ("-t 1.5", 1.5)],
)
def test_temperature_option_zero_is_sent(shell, server, options, expected):
    server.enqueue(reply("ok"))
    assert shell.run(f"%%gmi {options}\nHi").success
    body = server.last_request.json
    assert "temperature" in body
    assert body["temperature"] == expected


def test_max_tokens_option(shell, server):
    server.enqueue(reply("ok"))
    assert shell.run("%%gmi --max-tokens 64\nHi").success
    assert server.last_request.json["max_tokens"] == 64


def test_no_history_option(shell, server):
    server.enqueue(reply("A1"), reply("one-off"), reply("A2"))
    shell.run("%%gmi\nQ1")
    before = list(shell.conversation.turns)
    assert shell.run("%%gmi --no-history\nSide question").success
    assert server.last_request.json["messages"] == [{"role": "user", "content": "Side question"}]
    assert shell.conversation.turns == before
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]


def test_no_stream_option(shell, server):
    server.enqueue(reply("**Whole** reply", usage=USAGE))
    result = shell.run("%%gmi --no-stream\nHi")
    assert result.success, result.error
    body = server.last_request.json
    assert body["stream"] is False
    assert "stream_options" not in body
    assert "<strong>Whole</strong> reply" in result.last_html
    assert "12 in / 7 out tokens" in result.last_html
    assert shell.conversation.turns[-1].reply.text == "**Whole** reply"


@pytest.mark.parametrize("flag", ["-o", "--out"])
def test_out_option_stores_the_reply(shell, server, flag):
    server.enqueue(
        reply("The *answer*", reasoning="because", usage=USAGE, finish_reason="stop", model="m/x")
    )
    result = shell.run(f"%%gmi {flag} answer\nQ")
    assert result.success, result.error
    stored = shell.ns["answer"]
    assert stored.text == "The *answer*"
    assert stored.reasoning == "because"
    assert (stored.usage.prompt_tokens, stored.usage.completion_tokens) == (12, 7)
    assert stored.model == "m/x"
    assert stored.finish_reason == "stop"
    bundle, _ = shell.ip.display_formatter.format(stored)  # how the notebook shows it
    assert set(bundle) >= {"text/html", "text/plain"}
    assert "<em>answer</em>" in bundle["text/html"]
    assert "The *answer*" in bundle["text/plain"]


def test_out_option_in_line_mode(shell, server):
    server.enqueue(reply("4"))
    assert shell.run("%gmi -o r what is 2+2?").success
    assert shell.ns["r"].text == "4"
    assert server.last_request.json["messages"][-1]["content"] == "what is 2+2?"


def test_docstring_and_parser_help_list_every_option():
    doc = GMIMagics.gmi.__doc__
    for option in (
        *("-m", "--model", "-t", "--temperature", "--max-tokens", "-s", "--system"),
        *("--no-history", "--no-stream", "-o", "--out"),
        *("history", "reset", "undo", "models", "config", "last"),
    ):
        assert re.search(rf"(?<![\w-]){re.escape(option)}\b", doc), option


def test_pinfo_shows_the_options(shell):
    result = shell.run("%%gmi?")
    text = result.everything
    assert "--no-history" in text
    assert "--max-tokens" in text


def test_the_magic_knows_every_subcommand():
    assert set(MAGIC_SUBCOMMANDS) == set(SUBCOMMANDS)
