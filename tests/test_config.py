"""Configuration: model/base_url precedence, traits, ``%gmi config`` and ``%gmi last``."""

from __future__ import annotations

import json

from conftest import TEST_KEY
from helpers import DEFAULT_MODEL, assert_one_clear_line, config_rows

from gmi_magics.testing import StandInServer, reply


def test_config_shows_effective_settings_and_masks_the_key(shell, server):
    result = shell.run("%gmi config")
    assert result.success
    assert TEST_KEY not in result.everything
    rows = config_rows(shell)
    assert rows["model"] == (repr(DEFAULT_MODEL), "default")
    assert rows["base_url"] == (repr(server.base_url), "env")
    assert rows["api key"] == (f"<hidden, {len(TEST_KEY)} chars>", "env $GMI_API_KEY")
    assert rows["stream"] == ("True", "default")


def test_last_shows_endpoint_params_messages_and_masked_auth(shell, server):
    assert "No request" in shell.run("%gmi last").stdout
    server.enqueue(reply("A1"), reply("A2"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi -t 0 --max-tokens 9 -m Qwen/Qwen3-32B\nQ2")
    result = shell.run("%gmi last")
    assert TEST_KEY not in result.everything
    shown = json.loads(result.stdout)
    assert shown["endpoint"] == f"{server.base_url}/chat/completions"
    assert shown["model"] == "Qwen/Qwen3-32B"
    assert shown["params"] == {"temperature": 0, "max_tokens": 9}
    assert shown["stream"] is True
    assert shown["messages"] == server.last_request.json["messages"]
    assert shown["headers"] == {"Authorization": f"Bearer <hidden, {len(TEST_KEY)} chars>"}


def test_model_precedence_cell_over_config_over_env_over_default(shell, server, monkeypatch):
    server.models = [DEFAULT_MODEL, "env/model", "config/model", "cell/model"]
    shell.run("%%gmi\nQ")
    assert server.last_request.json["model"] == DEFAULT_MODEL
    assert config_rows(shell)["model"] == (repr(DEFAULT_MODEL), "default")

    monkeypatch.setenv("GMI_MODEL", "env/model")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["model"] == "env/model"
    assert config_rows(shell)["model"] == ("'env/model'", "env")

    shell.ip.run_line_magic("config", "GMIMagics.model = 'config/model'")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["model"] == "config/model"
    assert config_rows(shell)["model"] == ("'config/model'", "config")

    shell.run("%%gmi -m cell/model\nQ")
    assert server.last_request.json["model"] == "cell/model"
    assert [r.json["model"] for r in server.chat_requests] == [
        DEFAULT_MODEL,
        "env/model",
        "config/model",
        "cell/model",
    ]


def test_base_url_env_and_config(shell, server, monkeypatch):
    with StandInServer() as other, StandInServer() as third:
        monkeypatch.setenv("GMI_BASE_URL", other.base_url)
        assert shell.run("%%gmi\nQ").success
        assert len(other.chat_requests) == 1
        assert server.chat_requests == []
        assert config_rows(shell)["base_url"] == (repr(other.base_url), "env")

        shell.ip.run_line_magic("config", f"GMIMagics.base_url = {third.base_url!r}")
        assert shell.run("%%gmi\nQ").success
        assert len(third.chat_requests) == 1
        assert len(other.chat_requests) == 1
        assert config_rows(shell)["base_url"] == (repr(third.base_url), "config")


def test_config_temperature_and_cell_override(shell, server):
    server.enqueue(reply("a"), reply("b"))
    shell.ip.run_line_magic("config", "GMIMagics.temperature = 0.2")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["temperature"] == 0.2
    shell.run("%%gmi -t 0\nQ")
    assert server.last_request.json["temperature"] == 0
    assert config_rows(shell)["temperature"] == ("0.2", "config")


def test_config_max_tokens_is_sent(shell, server):
    server.enqueue(reply("a"))
    shell.ip.run_line_magic("config", "GMIMagics.max_tokens = 33")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["max_tokens"] == 33


def test_config_stream_false(shell, server):
    server.enqueue(reply("Not *streamed*"))
    shell.ip.run_line_magic("config", "GMIMagics.stream = False")
    result = shell.run("%%gmi\nQ")
    assert result.success, result.error
    assert server.last_request.json["stream"] is False
    assert "<em>streamed</em>" in result.last_html


def test_invalid_base_url_is_a_configuration_error(shell, server):
    shell.config(base_url="http://[::1/v1")
    assert_one_clear_line(shell.run("%%gmi\nHi"), "ConfigurationError")
    shell.config(base_url="")
    server.enqueue(reply("fine"))
    assert shell.run("%%gmi\nHi").success
