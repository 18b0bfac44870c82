"""The system prompt: ``-s``, ``%gmi system``, the ``system_prompt`` trait, per thread."""

from __future__ import annotations

import pytest
from helpers import one_error_line, sent_messages

from gmi_magics.testing import reply, status


@pytest.mark.parametrize("flag", ["-s", "--system"])
def test_system_option_is_first_and_sticky(shell, server, flag):
    server.enqueue(reply("Arr"), reply("Arr again"))
    assert shell.run(f"%%gmi {flag} Pirate\nHello").success
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "Pirate"},
        {"role": "user", "content": "Hello"},
    ]
    shell.run("%%gmi\nMore")
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "Pirate"},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Arr"},
        {"role": "user", "content": "More"},
    ]


@pytest.mark.parametrize(
    ("options", "system"),
    [
        ('-s "Be terse." -m "Qwen/Qwen3-32B"', "Be terse."),
        ("-s 'Be terse.' -m 'Qwen/Qwen3-32B'", "Be terse."),
        ('--system "It\'s fine, really." --model Qwen/Qwen3-32B', "It's fine, really."),
    ],
)
def test_quoted_multi_word_system_prompt(shell, server, options, system):
    """`-s "Be terse"` is the only way to give a multi-word prompt: no quotes on the wire."""
    server.enqueue(reply("ok"))
    result = shell.run(f"%%gmi {options}\nHello")
    assert result.success, result.error
    body = server.last_request.json
    assert body["messages"][0] == {"role": "system", "content": system}
    assert body["model"] == "Qwen/Qwen3-32B"


def test_system_with_no_history_applies_to_that_request_only(shell, server):
    server.enqueue(reply("A1"), reply("fr"), reply("A2"))
    shell.run("%%gmi -s Sticky\nQ1")
    shell.run("%%gmi --no-history -s Translator\nBonjour")
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "Translator"},
        {"role": "user", "content": "Bonjour"},
    ]
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "Sticky"},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]


def test_config_system_prompt(shell, server):
    server.enqueue(reply("a"))
    shell.ip.run_line_magic("config", "GMIMagics.system_prompt = 'You are terse.'")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["messages"][0] == {
        "role": "system",
        "content": "You are terse.",
    }


def test_system_subcommand_sets_and_shows_a_threads_prompt(shell, server):
    result = shell.run("%gmi system --chat review You are a patient statistics tutor")
    assert result.success, result.error
    assert "You are a patient statistics tutor" in result.stdout
    server.enqueue(reply("D"), reply("R"))
    shell.run("%%gmi\nDefault question")
    assert sent_messages(server) == [{"role": "user", "content": "Default question"}]
    shell.run("%%gmi --chat review\nWhat is a p-value?")
    assert sent_messages(server)[0] == {
        "role": "system",
        "content": "You are a patient statistics tutor",
    }
    shown = shell.run("%gmi system --chat review").stdout
    assert shown.strip() == "System prompt of 'review': 'You are a patient statistics tutor'"
    assert shell.run("%gmi system").stdout.strip() == "System prompt of 'default': None"


def test_system_subcommand_keeps_apostrophes(shell, server):
    result = shell.run('%gmi system "Don\'t give the answer away"')
    assert result.success, one_error_line(result)
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nQ")
    assert sent_messages(server)[0] == {"role": "system", "content": "Don't give the answer away"}


def test_system_option_sets_the_threads_prompt(shell, server):
    server.enqueue(reply("R1"), reply("R2"))
    shell.run("%%gmi --chat review -s 'Be Socratic.'\nQ1")
    shell.run("%%gmi --chat review\nQ2")
    assert sent_messages(server)[0] == {"role": "system", "content": "Be Socratic."}
    assert "'Be Socratic.'" in shell.run("%gmi system --chat review").stdout


def test_system_empty_string_clears_a_configured_prompt(shell, server):
    shell.config(system_prompt="Be brief.")
    server.enqueue(reply("a"), reply("b"))
    shell.run("%%gmi --chat b\nFirst")
    assert server.last_request.json["messages"][0] == {"role": "system", "content": "Be brief."}
    shell.run('%gmi system --chat b ""')
    shell.run("%%gmi --chat b\nSecond")
    assert all(m["role"] != "system" for m in server.last_request.json["messages"])


def test_system_accepts_chat_equals_form(shell, server):
    shell.run("%gmi system --chat=review Be nice")
    assert shell.magics.session.threads["review"].system == "Be nice"


def test_a_failed_cell_does_not_change_the_system_prompt(shell, server):
    shell.config(max_retries=0)
    server.enqueue(status(500, "boom"))
    assert not shell.run("%%gmi -s 'You are a pirate'\nAhoy").success
    assert shell.conversation.system is None
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nHello")
    assert server.last_request.json["messages"][0]["role"] == "user"
