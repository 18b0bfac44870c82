"""Every failure through the real shell: one clear message, history untouched, next cell works.

Each test seeds the default conversation with one good turn, provokes a failure with
``%%gmi``, then checks what the user saw (an error class name and a sentence, a ``Hint:``
line, no traceback wall), that ``shell.conversation.turns`` is exactly as before, what
went over the wire, and that the next cell succeeds without the failed message in its
history.
"""

from __future__ import annotations

import copy
import re
import signal
import socket
import threading
import time
from typing import Any

import pytest
from conftest import TEST_KEY

from gmi_magics.testing import (
    DISCONNECT,
    DONE,
    chunk,
    delay,
    hang,
    reply,
    sse,
    status,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NO_WAIT = {"retry-after": "0"}
SEED_Q, SEED_A = "Seed question", "Seed answer."


# --- helpers ---------------------------------------------------------------------------------


def seed(shell, server) -> list[Any]:
    """One good turn in history; returns a deep copy of the turns to compare against."""
    server.enqueue(reply(SEED_A))
    result = shell.run(f"%%gmi\n{SEED_Q}")
    assert result.success, result.everything
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [(SEED_Q, SEED_A)]
    return copy.deepcopy(shell.conversation.turns)


def message_lines(result) -> list[str]:
    """The non-empty lines the user saw outside the reply display (the error report)."""
    text = ANSI.sub("", result.stdout + "\n" + result.stderr)
    return [line for line in text.splitlines() if line.strip()]


def assert_no_traceback(result) -> None:
    """No traceback wall anywhere the user looks (the HTML carries Pygments CSS, whose
    comments name a ``Generic.Traceback`` token, so only the text parts are searched)."""
    assert "most recent call last" not in result.everything
    assert "Traceback" not in result.stdout + result.stderr + result.plain


def assert_clear_error(result, class_name: str, *phrases: str) -> str:
    """One clear error: ``ClassName: sentence`` then ``Hint: ...``; no traceback wall."""
    assert not result.success
    assert result.error is not None and type(result.error).__name__ == class_name
    assert_no_traceback(result)
    lines = message_lines(result)
    assert 2 <= len(lines) <= 3, lines
    assert lines[0].startswith(f"{class_name}: "), lines
    assert len(lines[0]) > len(class_name) + 10, lines  # a sentence, not just a name
    assert sum(line.startswith("Hint: ") for line in lines) == 1, lines
    assert sum(class_name in line for line in lines) == 1, lines  # shown once
    text = "\n".join(lines)
    for phrase in phrases:
        assert phrase.lower() in text.lower(), (phrase, text)
    return text


def assert_usage_error(result, *phrases: str) -> str:
    assert not result.success
    assert_no_traceback(result)
    lines = message_lines(result)
    assert 1 <= len(lines) <= 2, lines
    assert lines[0].startswith("UsageError: "), lines
    text = "\n".join(lines)
    for phrase in phrases:
        assert phrase.lower() in text.lower(), (phrase, text)
    return text


def assert_history_unchanged(shell, before) -> None:
    after = shell.conversation.turns
    assert len(after) == len(before)
    assert after == before
    assert [(t.user, t.reply.text, t.interrupted) for t in after] == [
        (t.user, t.reply.text, t.interrupted) for t in before
    ]


def assert_next_cell_works(shell, server, before) -> None:
    """A good reply now succeeds, and its request carries only the old history."""
    server.enqueue(reply("Recovered fine."))
    started = time.monotonic()
    result = shell.run("%%gmi\nNext question")
    assert result.success, result.everything
    assert time.monotonic() - started < 2
    assert "Recovered fine." in result.last_html
    sent = server.last_request.json["messages"]
    expected = [m for t in before for m in (t.user, t.reply.text)] + ["Next question"]
    assert [m["content"] for m in sent if m["role"] != "system"] == expected
    assert len(shell.conversation.turns) == len(before) + 1
    assert shell.conversation.turns[-1].reply.text == "Recovered fine."


def run_failure(shell, server, *scripts: Any, cell: str = "%%gmi\nDoomed question"):
    """Seed, enqueue ``scripts``, run the failing cell.

    Returns (result, turns before, chat requests the failing cell made).
    """
    before = seed(shell, server)
    server.enqueue(*scripts)
    count = len(server.chat_requests)
    result = shell.run(cell)
    return result, before, len(server.chat_requests) - count


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- configuration ---------------------------------------------------------------------------

GMI_CLOUD = "https://api.gmi-serving.com/v1"  # never reached: the key check comes first


def test_missing_key(shell, server, monkeypatch):
    before = seed(shell, server)
    monkeypatch.delenv("GMI_API_KEY")
    monkeypatch.delenv("GMI_CLOUD_APIKEY", raising=False)
    monkeypatch.setenv("GMI_BASE_URL", GMI_CLOUD)  # a local server needs no key
    count = len(server.requests)
    result = shell.run("%%gmi\nDoomed question")
    monkeypatch.setenv("GMI_BASE_URL", server.base_url)
    text = assert_clear_error(result, "MissingKeyError", "GMI_API_KEY", "getpass")
    assert len(server.requests) == count  # nothing sent without a key
    # how to set it, without suggesting the key be typed into the notebook
    assert "export GMI_API_KEY" in text or "environment variable" in text
    assert not re.search(r"GMI_API_KEY'?\]?\s*=\s*['\"][^'\"]", text), text
    assert "%env GMI_API_KEY=" not in text
    assert "paste your key" not in text.lower()
    assert_history_unchanged(shell, before)
    monkeypatch.setenv("GMI_API_KEY", TEST_KEY)
    assert_next_cell_works(shell, server, before)


def test_missing_key_names_the_configured_variable(shell, server, monkeypatch):
    before = seed(shell, server)
    shell.config(api_key_env="MY_GMI_KEY")
    monkeypatch.delenv("GMI_API_KEY")
    monkeypatch.delenv("GMI_CLOUD_APIKEY", raising=False)
    monkeypatch.delenv("MY_GMI_KEY", raising=False)
    monkeypatch.setenv("GMI_BASE_URL", GMI_CLOUD)  # a local server needs no key
    count = len(server.requests)
    result = shell.run("%%gmi\nDoomed question")
    monkeypatch.setenv("GMI_BASE_URL", server.base_url)
    assert_clear_error(result, "MissingKeyError", "MY_GMI_KEY")
    assert len(server.requests) == count
    assert_history_unchanged(shell, before)
    monkeypatch.setenv("MY_GMI_KEY", TEST_KEY)
    assert_next_cell_works(shell, server, before)
    assert server.last_request.headers["authorization"] == f"Bearer {TEST_KEY}"


# --- HTTP status errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "body", "class_name", "phrases"),
    [
        (
            401,
            {"error": {"message": "Authentication Fails, invalid api key", "code": 401}},
            "AuthenticationError",
            ["401", "Authentication Fails", "GMI_API_KEY"],
        ),
        (
            402,
            {"error": {"message": "Insufficient Balance", "type": "billing"}},
            "PaymentRequiredError",
            ["402", "balance", "top up"],
        ),
        (
            403,
            {"error": {"message": "Model access forbidden for this key"}},
            "PermissionDeniedError",
            ["403", "forbidden", "not allowed"],
        ),
        (
            422,
            {"error": {"message": "Invalid Parameters: temperature must be <= 2"}},
            "BadRequestError",
            ["422", "temperature must be <= 2"],
        ),
    ],
    ids=["401", "402", "403", "422"],
)
def test_status_errors(shell, server, code, body, class_name, phrases):
    result, before, requests = run_failure(
        shell, server, status(code, body), reply("must not be used")
    )
    text = assert_clear_error(result, class_name, *phrases)
    assert "{" not in text.splitlines()[0]  # the message, not a JSON dump
    assert requests == 1  # 4xx are not retried
    assert_history_unchanged(shell, before)
    server.reset()
    assert_next_cell_works(shell, server, before)


def test_401_hint_does_not_suggest_pasting_the_key(shell, server):
    result, before, _ = run_failure(shell, server, status(401, {"error": {"message": "bad key"}}))
    text = assert_clear_error(result, "AuthenticationError", "GMI_API_KEY")
    assert not re.search(r"GMI_API_KEY'?\]?\s*=\s*['\"][^'\"]", text), text
    assert_history_unchanged(shell, before)


def test_unknown_model_plain_text_404(shell, server):
    result, before, requests = run_failure(
        shell,
        server,
        status(404, "No matching target server found for model foo/bar"),
        cell="%%gmi -m foo/bar\nDoomed question",
    )
    text = assert_clear_error(result, "ModelNotFoundError", "foo/bar", "%gmi models")
    first = text.splitlines()[0].lower()
    assert "unknown model" in first or "not serve" in first or "not found" in first
    assert server.last_request.json["model"] == "foo/bar"
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_gmi_nested_400_shows_the_inner_message(shell, server):
    body = (
        '{"error":{"message":"Backend request failed with status 400","type":"backend_error",'
        '"code":400,"details":"{\\"error\\":{\\"message\\":\\"The request is invalid: '
        'Invalid max_tokens value\\"}}"}}'
    )
    result, before, requests = run_failure(
        shell, server, status(400, body, content_type="application/json")
    )
    text = assert_clear_error(
        result, "BadRequestError", "The request is invalid: Invalid max_tokens value"
    )
    assert "Backend request failed" not in text
    assert "details" not in text and "\\" not in text
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_400_is_not_retried(shell, server):
    result, before, requests = run_failure(
        shell, server, status(400, {"error": {"message": "Invalid format"}}, headers=NO_WAIT)
    )
    assert_clear_error(result, "BadRequestError", "Invalid format")
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


@pytest.mark.parametrize("max_retries", [0, 1, 2])
def test_429_retried_then_failing(shell, server, max_retries):
    shell.config(max_retries=max_retries)
    limited = status(429, {"error": {"message": "Rate limit reached"}}, headers=NO_WAIT)
    result, before, requests = run_failure(shell, server, *[limited] * (1 + max_retries))
    assert_clear_error(result, "RateLimitError", "429", "Rate limit reached")
    assert requests == 1 + max_retries
    assert server.pending == 0
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_429_then_success(shell, server):
    before = seed(shell, server)
    server.enqueue(
        status(429, {"error": {"message": "Rate limit reached"}}, headers={"retry-after-ms": "0"}),
        reply("Worth the wait."),
    )
    count = len(server.chat_requests)
    result = shell.run("%%gmi\nPatient question")
    assert result.success, result.everything
    assert "Worth the wait." in result.last_html
    assert "RateLimitError" not in result.everything and "Hint:" not in result.everything
    assert len(server.chat_requests) - count == 2
    turns = shell.conversation.turns
    assert len(turns) == len(before) + 1
    assert (turns[-1].user, turns[-1].reply.text) == ("Patient question", "Worth the wait.")


@pytest.mark.parametrize("code", [500, 502, 503])
def test_server_errors_after_retries(shell, server, code):
    body = {"error": {"message": "Internal failure in upstream"}}
    result, before, requests = run_failure(
        shell, server, *[status(code, body, headers=NO_WAIT)] * 3
    )
    assert_clear_error(result, "ServerError", str(code), "after 2 retries")
    assert requests == 3
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_502_with_an_html_body_shows_no_html(shell, server):
    page = (
        "<html><head><title>502 Bad Gateway</title></head><body><center>"
        "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
    )
    failure = status(502, page, headers=NO_WAIT, content_type="text/html")
    result, before, requests = run_failure(shell, server, *[failure] * 3)
    text = assert_clear_error(result, "ServerError", "502")
    assert "<" not in text and "nginx" not in text
    assert "<html" not in result.everything and "<center>" not in result.everything
    assert requests == 3
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_x_should_retry_false_on_503(shell, server):
    result, before, requests = run_failure(
        shell, server, status(503, "Overloaded", headers={"x-should-retry": "false", **NO_WAIT})
    )
    assert_clear_error(result, "ServerError", "503")
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_no_stream_401(shell, server):
    result, before, requests = run_failure(
        shell,
        server,
        status(401, {"error": {"message": "Authentication Fails"}}),
        cell="%%gmi --no-stream\nDoomed question",
    )
    assert_clear_error(result, "AuthenticationError", "401", "Authentication Fails")
    assert server.last_request.json["stream"] is False
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


@pytest.mark.parametrize(
    "script",
    [
        status(401, {"error": {"message": f"Incorrect API key provided: {TEST_KEY}."}}),
        sse(chunk("Hi"), {"error": {"message": f"key {TEST_KEY} was revoked"}}, DONE),
    ],
    ids=["401-body", "stream-error-event"],
)
def test_a_key_echoed_by_the_server_is_not_shown(shell, server, script):
    # Shell.run itself fails the test if the key reaches any output
    result, before, _ = run_failure(shell, server, script)
    assert not result.success
    assert TEST_KEY not in str(result.error)
    assert TEST_KEY not in "".join(result.error._render_traceback_())
    assert_history_unchanged(shell, before)


def test_models_subcommand_401(shell, server):
    server.enqueue_models(status(401, {"error": {"message": "Authentication Fails"}}))
    result = shell.run("%gmi models")
    assert_clear_error(result, "AuthenticationError", "401", "Authentication Fails")
    assert server.last_request.path == "/v1/models"
    listed = shell.run("%gmi models")
    assert listed.success, listed.everything
    assert "deepseek-ai/DeepSeek-V3.2-Exp" in listed.stdout


def test_no_stream_reply_that_is_not_json(shell, server):
    page = "<html><body>Captive portal: please log in</body></html>"
    script = status(200, page, content_type="text/html")
    result, before, requests = run_failure(
        shell, server, script, cell="%%gmi --no-stream\nDoomed question"
    )
    text = assert_clear_error(result, "StreamError", "JSON")
    assert "<" not in text
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


# --- network ----------------------------------------------------------------------------------


def test_connection_refused(shell, server, monkeypatch):
    before = seed(shell, server)
    shell.config(max_retries=1)
    monkeypatch.setenv("GMI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    assert time.monotonic() - started < 5
    assert_clear_error(result, "APIConnectionError", "127.0.0.1", "base_url")
    assert_history_unchanged(shell, before)
    monkeypatch.setenv("GMI_BASE_URL", server.base_url)
    assert_next_cell_works(shell, server, before)


def test_deadline_with_keepalives_only(shell, server):
    before = seed(shell, server)
    shell.config(timeout=1.0)
    server.enqueue(hang(5))
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 3.0, elapsed
    assert_clear_error(result, "APITimeoutError", "timeout")
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_deadline_before_any_response(shell, server):
    before = seed(shell, server)
    shell.config(timeout=1.0)
    server.enqueue(delay(5))  # no status line for 5 s
    count = len(server.chat_requests)
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    assert 0.9 <= time.monotonic() - started <= 3.0
    assert_clear_error(result, "APITimeoutError", "timeout")
    assert len(server.chat_requests) - count == 1  # no retry past the deadline
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_silent_server_hits_the_deadline(shell, server):
    before = seed(shell, server)
    shell.config(timeout=1.0)
    server.enqueue(sse(chunk("Slow "), delay(4)))  # some text, then silence
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    assert 0.9 <= time.monotonic() - started <= 3.0
    assert_clear_error(result, "APITimeoutError")
    assert "Slow" in result.last_html  # the partial text stays visible
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


# --- broken streams -----------------------------------------------------------------------------


def test_disconnect_mid_stream(shell, server):
    result, before, requests = run_failure(
        shell, server, sse(chunk("The first half "), chunk("of an answer"), DISCONNECT)
    )
    assert_clear_error(result, "StreamError", "connection dropped")
    assert "The first half of an answer" in result.last_html
    assert "The first half of an answer" in result.outputs[-1]["text/plain"]
    assert requests == 1  # never retried once the stream started
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


@pytest.mark.parametrize(
    "event",
    [
        {"error": {"message": "overloaded", "type": "server_error", "code": 503}},
        {"object": "error", "message": "overloaded", "type": "ServiceUnavailable", "code": 503},
    ],
    ids=["nested", "flat"],
)
def test_error_event_mid_stream(shell, server, event):
    result, before, requests = run_failure(shell, server, sse(chunk("Some text "), event, DONE))
    assert_clear_error(result, "StreamError", "overloaded")
    assert "Some text" in result.last_html
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_malformed_json_chunk(shell, server):
    result, before, requests = run_failure(
        shell, server, sse(chunk("Fine so far"), "data: {not json\n\n", DONE)
    )
    assert_clear_error(result, "StreamError", "malformed")
    assert requests == 1
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_stream_ending_without_finish_reason_or_done(shell, server):
    result, before, _ = run_failure(shell, server, sse(chunk("Cut "), chunk("short")))
    assert_clear_error(result, "StreamError", "ended before")
    assert "Cut short" in result.last_html
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_stream_with_finish_reason_but_no_done_succeeds(shell, server):
    before = seed(shell, server)
    server.enqueue(sse(chunk("Complete "), chunk("answer"), chunk(finish_reason="stop")))
    result = shell.run("%%gmi\nQuestion")
    assert result.success, result.everything
    assert "Complete answer" in result.last_html
    assert "Error" not in result.stdout + result.stderr + result.plain
    assert len(shell.conversation.turns) == len(before) + 1
    assert shell.conversation.turns[-1].reply.text == "Complete answer"


# --- usage errors: nothing is sent ------------------------------------------------------------


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
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


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
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def test_200_kb_cell_is_sent(shell, server):
    big = "\n".join(f"line {i}: " + "x" * 90 for i in range(2_000))  # ~200 KB
    server.enqueue(reply("Read it all."))
    result = shell.run("%%gmi\n" + big)
    assert result.success, result.everything
    assert server.last_request.json["messages"][-1]["content"] == big
    assert len(server.last_request.body) > 200_000
    assert shell.conversation.turns[-1].user == big


# --- notes under a reply ------------------------------------------------------------------------


def test_length_finish_shows_a_max_tokens_note(shell, server):
    server.enqueue(reply("This reply was cut", finish_reason="length"))
    result = shell.run("%%gmi --max-tokens 5\nWrite an essay")
    assert result.success, result.everything
    assert server.last_request.json["max_tokens"] == 5
    final = result.outputs[-1]
    for shown in (final["text/html"], final["text/plain"]):
        assert "This reply was cut" in shown
        assert "max_tokens" in shown
        assert "--max-tokens" in shown


def test_length_finish_without_a_limit_still_explains(shell, server):
    server.enqueue(reply("Also cut", finish_reason="length"))
    result = shell.run("%%gmi\nWrite an essay")
    assert result.success
    assert "max_tokens" in result.last_html and "--max-tokens" in result.last_html


# --- a real interrupt ----------------------------------------------------------------------------


def _handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "process_request" in t.name}


def test_sigint_mid_stream_keeps_an_interrupted_turn(shell, server):
    before = seed(shell, server)
    pieces = [f"piece{i} " for i in range(20)]
    server.enqueue(reply(pieces, chunk_delay=0.1))
    existing = _handler_threads()
    main_id = threading.main_thread().ident
    assert main_id is not None
    timer = threading.Timer(0.35, lambda: signal.pthread_kill(main_id, signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        result = shell.run("%%gmi\nCount slowly")
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 1.5  # stopped, not streamed to the end
    assert_no_traceback(result)

    # the partial reply stays visible, marked as interrupted
    final = result.outputs[-1]
    assert "piece0" in final["text/html"] and "piece0" in final["text/plain"]
    assert "piece19" not in result.everything
    assert "interrupt" in final["text/plain"].lower()

    # the server saw the connection closed: its handler finishes long before the
    # 2 s the stream would take
    deadline = time.monotonic() + 1.0
    while _handler_threads() - existing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [t for t in _handler_threads() - existing if t.is_alive()]

    # the partial turn is in history, marked interrupted
    turns = shell.conversation.turns
    assert len(turns) == len(before) + 1
    assert turns[:-1] == before
    last = turns[-1]
    assert last.user == "Count slowly"
    assert last.reply.interrupted is True
    assert last.reply.text.startswith("piece0")
    assert "piece19" not in last.reply.text

    shown = shell.run("%gmi history")
    assert shown.success
    assert "interrupted" in shown.plain.lower()
    assert "piece0" in shown.plain

    undone = shell.run("%gmi undo")
    assert undone.success
    assert "Count slowly" in undone.stdout
    assert shell.conversation.turns == before

    assert_next_cell_works(shell, server, before)


def test_sigint_before_the_first_byte_leaves_history_alone(shell, server):
    """Nothing had arrived, so there is no partial reply to keep: history stays as it
    was (an empty interrupted turn would send ``{"role": "assistant", "content": ""}``
    with every later request)."""
    before = seed(shell, server)
    server.enqueue(sse(*hang(2).items, DONE))  # keep-alives only, no text for 2 s
    main_id = threading.main_thread().ident
    assert main_id is not None
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main_id, signal.SIGINT))
    timer.start()
    try:
        started = time.monotonic()
        result = shell.run("%%gmi\nNever answered")
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 1.5
    assert_no_traceback(result)
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)
