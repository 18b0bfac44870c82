"""Edge cases of history, options and failures found in review; each through a real shell."""

from __future__ import annotations

import json
import re
import traceback

from conftest import TEST_KEY

from gmi_magics.magics import SUBCOMMANDS as MAGIC_SUBCOMMANDS
from gmi_magics.subcommands import SUBCOMMANDS
from gmi_magics.testing import DISCONNECT, chunk, delay, reply, sse, status

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_lines(result) -> list[str]:
    text = ANSI.sub("", result.stdout + result.stderr)
    return [line for line in text.splitlines() if line.strip()]


def assert_one_clear_line(result, class_name: str) -> None:
    assert not result.success
    assert type(result.error).__name__ == class_name, result.error
    lines = error_lines(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert 1 <= len(lines) <= 3 and lines[0].startswith(f"{class_name}: "), lines


def test_no_stream_read_timeout_is_one_line(shell, server):
    shell.config(timeout=1.0, max_retries=0)
    server.enqueue(sse(delay(3)))
    assert_one_clear_line(shell.run("%%gmi --no-stream\nSlow?"), "APITimeoutError")


def test_no_stream_disconnect_is_one_line(shell, server):
    shell.config(max_retries=0)
    server.enqueue(sse(chunk("x"), DISCONNECT))
    assert_one_clear_line(shell.run("%%gmi --no-stream\nCut?"), "StreamError")


def test_models_disconnect_is_one_line(shell, server):
    server.enqueue_models(sse(chunk("x"), DISCONNECT))
    assert_one_clear_line(shell.run("%gmi models"), "StreamError")


def test_a_broken_stream_error_does_not_carry_the_key_in_its_context(shell, server):
    shell.config(max_retries=0)
    server.enqueue(sse(chunk("partial"), DISCONNECT))
    result = shell.run("%%gmi\nQ")
    error = result.error
    chain = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert error.__context__ is None and error.__cause__ is None
    assert TEST_KEY not in chain


def test_invalid_base_url_is_a_configuration_error(shell, server):
    shell.config(base_url="http://[::1/v1")
    assert_one_clear_line(shell.run("%%gmi\nHi"), "ConfigurationError")
    shell.config(base_url="")
    server.enqueue(reply("fine"))
    assert shell.run("%%gmi\nHi").success


def test_undo_drops_the_latest_committed_turn_after_a_rerun(shell, server):
    server.enqueue(reply("A1"), reply("B1"), reply("A2"))
    shell.run("%%gmi\nquestion A", cell_id="a")
    shell.run("%%gmi\nquestion B", cell_id="b")
    shell.run("%%gmi\nquestion A again", cell_id="a")  # replaces A in place
    assert [t.user for t in shell.conversation.turns] == ["question A again", "question B"]
    result = shell.run("%gmi undo")
    assert "question A again" in result.stdout
    assert [t.user for t in shell.conversation.turns] == ["question B"]


def test_an_interrupt_fails_the_cell_with_one_line_and_keeps_the_partial_turn(shell, server):
    shell.run("def slow_tool(x: str) -> str:\n    raise KeyboardInterrupt\n")
    call = {"index": 0, "id": "c1", "type": "function"}
    call["function"] = {"name": "slow_tool", "arguments": '{"x": "a"}'}
    server.enqueue(reply("Let me check.", tool_calls=[call], finish_reason="tool_calls"))
    result = shell.run("%%gmi --tools slow_tool\nGo")
    assert not result.success, "an interrupt must stop Run All, like any interrupt"
    assert type(result.error).__name__ == "StoppedError"
    assert "Traceback" not in result.stdout + result.stderr
    assert "Interrupted" in error_lines(result)[0]
    turns = shell.conversation.turns
    assert len(turns) == 1 and turns[0].interrupted and turns[0].reply.text == "Let me check."


def test_a_failed_cell_does_not_change_the_system_prompt(shell, server):
    shell.config(max_retries=0)
    server.enqueue(status(500, "boom"))
    assert not shell.run("%%gmi -s 'You are a pirate'\nAhoy").success
    assert shell.conversation.system is None
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nHello")
    assert server.last_request.json["messages"][0]["role"] == "user"


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


def test_system_empty_string_clears_a_configured_prompt(shell, server):
    shell.config(system_prompt="Be brief.")
    server.enqueue(reply("a"), reply("b"))
    shell.run("%%gmi --chat b\nFirst")
    assert server.last_request.json["messages"][0] == {"role": "system", "content": "Be brief."}
    shell.run('%gmi system --chat b ""')
    shell.run("%%gmi --chat b\nSecond")
    assert all(m["role"] != "system" for m in server.last_request.json["messages"])


def test_a_question_may_start_with_a_subcommand_word(shell, server):
    server.enqueue(reply("Rome..."))
    result = shell.run("%gmi history of the Roman empire in one line")
    assert result.success, result.everything
    assert server.last_request.json["messages"][-1]["content"] == (
        "history of the Roman empire in one line"
    )


def test_a_misspelled_subcommand_option_is_reported_not_sent(shell, server):
    result = shell.run("%gmi reset --chta review")
    assert not result.success and "unrecognized arguments" in result.everything
    assert not server.chat_requests


def test_system_accepts_chat_equals_form(shell, server):
    shell.run("%gmi system --chat=review Be nice")
    assert shell.magics.session.threads["review"].system == "Be nice"


def test_save_with_chat_default_saves_only_that_thread(shell, server, tmp_path):
    server.enqueue(reply("d"), reply("o"))
    shell.run("%%gmi\nIn default")
    shell.run("%%gmi --chat other\nIn other")
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save --chat default {path}").success
    assert list(json.loads(path.read_text())["threads"]) == ["default"]


def test_question_mark_lines_inside_a_multi_line_cell_are_questions(shell, server):
    server.enqueue(reply("blue"))
    result = shell.run("x = 1\n%gmi why is the sky blue?")
    assert result.success, result.everything
    assert server.last_request.json["messages"][-1]["content"] == "why is the sky blue?"


def test_the_magic_knows_every_subcommand():
    assert set(MAGIC_SUBCOMMANDS) == set(SUBCOMMANDS)
