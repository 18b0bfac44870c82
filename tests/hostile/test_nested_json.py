"""The hostile JSON corpus through every entry point that parses outside data.

Stream chunks, non-streamed replies, ``/models``, error bodies, tool arguments, saved
chat files, cache recordings and ``-f json`` replies: each entry becomes a value or
one clear line, never a ``RecursionError`` or a traceback wall.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from json_corpus import JSON_CORPUS

from gmi_magics import Conversation, GMIClient
from gmi_magics.chat.persist import load_threads
from gmi_magics.errors import GMIError
from gmi_magics.jsonsafe import loads_bounded
from gmi_magics.testing import DONE, StandInServer, chunk, reply, sse, status
from gmi_magics.tools.registry import ToolRegistry, run_tool_call
from gmi_magics.types import ToolCall
from gmi_magics.wire.cache import FORMAT

sys.path.insert(0, str(Path(__file__).parent))

CORPUS = pytest.mark.parametrize("make", JSON_CORPUS.values(), ids=JSON_CORPUS.keys())
MESSAGES = [{"role": "user", "content": "q"}]
MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"


def one_line_or_value(call: Callable[[], Any]) -> BaseException | None:
    """Run ``call``: a value, or a GMIError whose message is one line."""
    try:
        call()
    except GMIError as error:
        assert "\n" not in error.message, error.message
        assert error.__cause__ is None or not isinstance(error.__cause__, RecursionError)
        return error
    return None


def client(server: StandInServer, **options: Any) -> GMIClient:
    return GMIClient(base_url=server.base_url, max_retries=0, **options)


@CORPUS
def test_loads_bounded_never_raises_recursion_error(make: Callable[[], str]) -> None:
    text = make()
    for data in (text, text.encode()):
        try:
            loads_bounded(data)
        except ValueError as error:
            assert "\n" not in str(error)


@CORPUS
def test_a_stream_chunk(server: StandInServer, make: Callable[[], str]) -> None:
    server.enqueue(sse(chunk("a"), "data: " + make() + "\n\n", chunk(finish_reason="stop"), DONE))
    with client(server) as gmi:
        assert one_line_or_value(lambda: list(gmi.stream_chat(MESSAGES, model=MODEL)))


@CORPUS
def test_a_non_streamed_reply(server: StandInServer, make: Callable[[], str]) -> None:
    server.enqueue(status(200, make(), content_type="application/json"))
    with client(server) as gmi:
        one_line_or_value(lambda: gmi.chat(MESSAGES, model=MODEL))


@CORPUS
def test_the_models_list(server: StandInServer, make: Callable[[], str]) -> None:
    server.enqueue_models(status(200, make(), content_type="application/json"))
    with client(server) as gmi:
        one_line_or_value(gmi.list_models)


@CORPUS
def test_an_error_body(server: StandInServer, make: Callable[[], str]) -> None:
    server.enqueue(status(500, make(), content_type="application/json"))
    with client(server) as gmi:
        error = one_line_or_value(lambda: gmi.chat(MESSAGES, model=MODEL))
    assert isinstance(error, GMIError) and "HTTP 500" in str(error)


@CORPUS
def test_tool_arguments_are_an_error_result_for_the_model(make: Callable[[], str]) -> None:
    def echo(value: str = "") -> str:
        return value

    result = run_tool_call(ToolCall("call_1", "echo", make()), ToolRegistry([echo]))
    assert result.output.startswith("Error: "), result.output[:200]
    assert "\n" not in result.output[:300]


@CORPUS
def test_a_saved_chat_file(tmp_path: Path, make: Callable[[], str]) -> None:
    path = tmp_path / "chat.json"
    path.write_text(make())
    one_line_or_value(lambda: load_threads(path))


@CORPUS
def test_a_cache_recording(server: StandInServer, tmp_path: Path, make: Callable[[], str]) -> None:
    with client(server, cache="record", cache_dir=tmp_path) as gmi:
        Conversation(gmi).send("q", history=False)
    (path,) = tmp_path.glob("*.json")
    for text in (make(), json.dumps({"format": FORMAT, "status": 200, "headers": {}})[:-1]
                 + ', "body": ' + make() + "}"):  # fmt: skip
        path.write_text(text)
        with client(server, cache="replay", cache_dir=tmp_path) as gmi:
            error = one_line_or_value(lambda: Conversation(gmi).send("q", history=False))
        assert error is not None and "damaged" in str(error)


# --- in a real shell -----------------------------------------------------------------

SHELL_CASES = ["arrays-1M-unclosed", "objects-100k", "huge-float", "nan"]


@pytest.mark.parametrize("name", SHELL_CASES)
def test_in_a_cell_each_is_one_line(shell: Any, server: StandInServer, name: str) -> None:
    shell.config(max_retries=0)  # the 500 is answered once
    payload = JSON_CORPUS[name]()
    server.enqueue(sse(chunk("a"), "data: " + payload + "\n\n", DONE))
    server.enqueue(status(200, payload, content_type="application/json"))
    server.enqueue(status(500, payload, content_type="application/json"))
    for cell in ("%%gmi\nq", "%%gmi --no-stream\nq", "%%gmi\nq"):
        result = shell.run(cell)
        assert not result.success and isinstance(result.error, GMIError), (cell, result.error)
        assert "Traceback" not in result.stdout + result.stderr
        assert "RecursionError" not in result.everything
    assert shell.conversation.turns == []


@pytest.mark.parametrize("name", ["arrays-10k", "nan", "huge-float"])
def test_a_json_reply_in_a_cell_is_one_line(shell: Any, server: StandInServer, name: str) -> None:
    server.enqueue(reply([JSON_CORPUS[name]()]))  # one piece: this tests parsing, not streaming
    result = shell.run("%%gmi -f json\nq")
    assert not result.success and type(result.error).__name__ == "ReplyFormatError"
    assert "Traceback" not in result.stdout + result.stderr


def test_a_nested_saved_chat_in_a_cell_is_one_line(shell: Any, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(JSON_CORPUS["arrays-1M-unclosed"]())
    result = shell.run(f"%gmi load {path}")
    assert not result.success and isinstance(result.error, GMIError)
    assert "Traceback" not in result.stdout + result.stderr


def test_nested_tool_arguments_go_back_to_the_model(shell: Any, server: StandInServer) -> None:
    assert shell.run("def echo(value: str = '') -> str:\n    return value").success
    deep = JSON_CORPUS["objects-100k"]()
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "echo", "arguments": deep}}  # fmt: skip
    server.enqueue(reply(tool_calls=[call], finish_reason="tool_calls"), reply("sorry"))
    result = shell.run("%%gmi --tools echo\nplease echo")
    assert result.success, result.error
    sent = server.chat_requests[1].json["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["content"].startswith("Error: arguments")
    assert "nested deeper" in sent[-1]["content"]
