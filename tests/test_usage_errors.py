"""Usage errors: one ``UsageError`` line, nothing sent, history untouched."""

from __future__ import annotations

import time

import pytest
from helpers import (
    assert_recovers,
    assert_usage_error,
    seed,
)


@pytest.mark.parametrize(
    ("cell", "phrases"),
    [
        ("%%gmi --bogus\nQuestion", ["--bogus"]),
        ("%%gmi\n", ["empty"]),
        ("%%gmi\n   \n\t\n", ["Nothing to send"]),
        ("%%gmi stray words\nQuestion", ["stray words"]),
        ("%%gmi --max-tokens lots\nQuestion", ["--max-tokens"]),
    ],
    ids=["unknown-option", "empty", "blank", "stray-words", "bad-int"],
)
def test_usage_errors_send_nothing(shell, server, cell, phrases):
    before = seed(shell, server)
    count = len(server.requests)
    result = shell.run(cell)
    assert_usage_error(result, *phrases)
    assert len(server.requests) == count
    assert_recovers(shell, server, before)


def test_huge_cell_is_refused_before_sending(shell, server):
    before = seed(shell, server)
    count = len(server.requests)
    huge = "word " * 400_000  # 2 MB
    started = time.monotonic()
    result = shell.run("%%gmi\n" + huge)
    assert time.monotonic() - started < 10
    text = assert_usage_error(result, "characters", "limit")
    assert "word word" not in text  # the message does not echo the cell
    assert len(server.requests) == count
    assert_recovers(shell, server, before)


def test_unexpected_words_after_cell_magic(shell, server):
    result = shell.run("%%gmi stray words\nHi")
    assert not result.success
    assert "stray words" in str(result.error)
    assert server.chat_requests == []


@pytest.mark.parametrize("cell", ["%%gmi\n   \n", "%gmi", "%gmi   "])
def test_empty_message_is_a_usage_error(shell, server, cell):
    result = shell.run(cell)
    assert not result.success
    assert "Nothing to send" in result.everything + str(result.error)
    assert server.chat_requests == []


def test_a_misspelled_subcommand_option_is_reported_not_sent(shell, server):
    result = shell.run("%gmi reset --chta review")
    assert not result.success and "unrecognized arguments" in result.everything
    assert not server.chat_requests
