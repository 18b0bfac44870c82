"""HTTP status errors through the real shell: one clear message, retries as documented,
history untouched, the next cell works."""

from __future__ import annotations

import pytest
from helpers import (
    NO_WAIT,
    assert_clear_error,
    assert_history_unchanged,
    assert_next_cell_works,
    assert_recovers,
    run_failure,
    seed,
)

from gmi_magics.testing import reply, status


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
    assert_recovers(shell, server, before)


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
    assert_recovers(shell, server, before)


def test_400_is_not_retried(shell, server):
    result, before, requests = run_failure(
        shell, server, status(400, {"error": {"message": "Invalid format"}}, headers=NO_WAIT)
    )
    assert_clear_error(result, "BadRequestError", "Invalid format")
    assert requests == 1
    assert_recovers(shell, server, before)


@pytest.mark.parametrize("max_retries", [0, 1, 2])
def test_429_retried_then_failing(shell, server, max_retries):
    shell.config(max_retries=max_retries)
    limited = status(429, {"error": {"message": "Rate limit reached"}}, headers=NO_WAIT)
    result, before, requests = run_failure(shell, server, *[limited] * (1 + max_retries))
    assert_clear_error(result, "RateLimitError", "429", "Rate limit reached")
    assert requests == 1 + max_retries
    assert server.pending == 0
    assert_recovers(shell, server, before)


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
    assert_recovers(shell, server, before)


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
    assert_recovers(shell, server, before)


def test_x_should_retry_false_on_503(shell, server):
    result, before, requests = run_failure(
        shell, server, status(503, "Overloaded", headers={"x-should-retry": "false", **NO_WAIT})
    )
    assert_clear_error(result, "ServerError", "503")
    assert requests == 1
    assert_recovers(shell, server, before)


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
    assert_recovers(shell, server, before)


def test_no_stream_reply_that_is_not_json(shell, server):
    page = "<html><body>Captive portal: please log in</body></html>"
    script = status(200, page, content_type="text/html")
    result, before, requests = run_failure(
        shell, server, script, cell="%%gmi --no-stream\nDoomed question"
    )
    text = assert_clear_error(result, "StreamError", "JSON")
    assert "<" not in text
    assert requests == 1
    assert_recovers(shell, server, before)
