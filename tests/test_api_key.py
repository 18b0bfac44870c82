"""The API key: missing, named by ``api_key_env``, never a trait, never shown when echoed."""

from __future__ import annotations

import re
import traceback

import pytest
from conftest import TEST_KEY
from helpers import (
    assert_clear_error,
    assert_history_unchanged,
    assert_next_cell_works,
    config_rows,
    run_failure,
    seed,
)

from gmi_magics.testing import DISCONNECT, DONE, chunk, reply, sse, status

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


def test_the_key_is_never_a_trait(shell, server):
    magics = shell.magics
    for name in magics.trait_names():
        assert TEST_KEY not in repr(getattr(magics, name)), name
    assert "api_key" not in magics.trait_names(config=True)
    assert magics.api_key_env == "GMI_API_KEY"
    result = shell.run("%config GMIMagics")
    assert result.success
    assert "GMIMagics.model" in result.stdout
    assert TEST_KEY not in result.everything
    assert "b1a0" not in result.everything


def test_api_key_env_names_another_variable(shell, server, monkeypatch):
    monkeypatch.setenv("MY_GMI_KEY", "gmi-other-key-000011112222")
    shell.ip.run_line_magic("config", "GMIMagics.api_key_env = 'MY_GMI_KEY'")
    server.enqueue(reply("ok"))
    assert shell.run("%%gmi\nQ").success
    assert server.last_request.headers["authorization"] == "Bearer gmi-other-key-000011112222"
    assert config_rows(shell)["api key"] == ("<hidden, 26 chars>", "env $MY_GMI_KEY")


def test_401_hint_does_not_suggest_pasting_the_key(shell, server):
    result, before, _ = run_failure(shell, server, status(401, {"error": {"message": "bad key"}}))
    text = assert_clear_error(result, "AuthenticationError", "GMI_API_KEY")
    assert not re.search(r"GMI_API_KEY'?\]?\s*=\s*['\"][^'\"]", text), text
    assert_history_unchanged(shell, before)


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


def test_a_broken_stream_error_does_not_carry_the_key_in_its_context(shell, server):
    shell.config(max_retries=0)
    server.enqueue(sse(chunk("partial"), DISCONNECT))
    result = shell.run("%%gmi\nQ")
    error = result.error
    chain = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert error.__context__ is None and error.__cause__ is None
    assert TEST_KEY not in chain
