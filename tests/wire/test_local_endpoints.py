"""Local OpenAI-compatible servers and replays need no key; GMI Cloud without one is one line.

The stand-in server on 127.0.0.1 plays a local vLLM / llama.cpp / Ollama server here.
"""

from __future__ import annotations

import pytest
from conftest import TEST_KEY

from gmi_magics import GMIClient
from gmi_magics.errors import AuthenticationError, MissingKeyError, PaymentRequiredError
from gmi_magics.settings import is_gmi_cloud
from gmi_magics.testing import StandInServer, reply, status

MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
HELLO = [{"role": "user", "content": "Hello"}]
GMI_CLOUD = "https://api.gmi-serving.com/v1"  # never reached in these tests


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GMI_API_KEY", raising=False)
    monkeypatch.delenv("GMI_CLOUD_APIKEY", raising=False)


def _text(gmi: GMIClient) -> str:
    return "".join(d.content for d in gmi.stream_chat(HELLO, model=MODEL))


@pytest.mark.parametrize(
    ("url", "gmi"),
    [
        ("https://api.gmi-serving.com/v1", True),
        ("https://API.GMI-SERVING.COM:443/v1", True),
        ("https://eu.api.gmi-serving.com/v1", True),
        ("https://x.gmicloud.ai/v1", True),
        ("http://localhost:8000/v1", False),
        ("http://127.0.0.1:11434/v1", False),
        ("http://192.168.1.20:8080/v1", False),
        ("https://api.gmi-serving.com.evil.example/v1", False),
        ("https://notgmi-serving.com/v1", False),
    ],
)
def test_is_gmi_cloud(url, gmi):
    assert is_gmi_cloud(url) is gmi


def test_a_local_server_needs_no_key(server, no_key):
    server.enqueue(reply("local hello"), reply("again"))
    with GMIClient(base_url=server.base_url) as gmi:
        assert _text(gmi) == "local hello"
        assert gmi.chat(HELLO, model=MODEL).content == "again"
    assert all("authorization" not in r.headers for r in server.requests)


def test_a_local_server_gets_the_key_when_one_is_set(server):
    server.enqueue(reply("ok"))
    with GMIClient(base_url=server.base_url) as gmi:
        _text(gmi)
    assert server.last_request.headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize("cache", ["off", "record"])
def test_gmi_cloud_without_a_key_is_one_clear_line(server, no_key, tmp_path, cache):
    with (
        GMIClient(base_url=GMI_CLOUD, cache=cache, cache_dir=tmp_path) as gmi,
        pytest.raises(MissingKeyError) as caught,
    ):
        gmi.stream_chat(HELLO, model=MODEL)
    assert "GMI_API_KEY" in caught.value.message and "\n" not in caught.value.message


def _record(server: StandInServer, tmp_path, text: str = "recorded") -> None:
    server.enqueue(reply(text))
    with GMIClient(base_url=server.base_url, cache="record", cache_dir=tmp_path) as gmi:
        assert _text(gmi) == text


@pytest.mark.parametrize("mode", ["replay", "auto"])
@pytest.mark.parametrize("url", ["gmi", "local"])
def test_a_replay_needs_no_key(server, tmp_path, monkeypatch, mode, url):
    _record(server, tmp_path)
    monkeypatch.delenv("GMI_API_KEY")
    count = len(server.requests)
    base = GMI_CLOUD if url == "gmi" else server.base_url
    with GMIClient(base_url=base, cache=mode, cache_dir=tmp_path) as gmi:
        assert _text(gmi) == "recorded"
    assert len(server.requests) == count  # nothing went to the network


def test_auto_without_a_key_on_a_miss_is_the_missing_key_line(tmp_path, no_key):
    with (
        GMIClient(base_url=GMI_CLOUD, cache="auto", cache_dir=tmp_path) as gmi,
        pytest.raises(MissingKeyError) as caught,
    ):
        _text(gmi)
    assert "GMI_API_KEY" in caught.value.message
    assert caught.value.__context__ is None


def test_a_replay_in_a_shell_without_a_key(shell, server, tmp_path, monkeypatch):
    shell.config(cache="record", cache_dir=str(tmp_path))
    server.enqueue(reply("from the recording"))
    assert shell.run("%%gmi\nQ").success
    monkeypatch.delenv("GMI_API_KEY")
    monkeypatch.setenv("GMI_BASE_URL", GMI_CLOUD)
    shell.config(cache="replay")
    shell.magics.session.threads.clear()
    result = shell.run("%%gmi\nQ")
    assert result.success, result.error
    assert "from the recording" in result.everything


def test_a_401_from_a_local_server_names_it_not_gmi(server):
    server.enqueue(status(401, {"error": {"message": "Invalid token"}}))
    with GMIClient(base_url=server.base_url) as gmi, pytest.raises(AuthenticationError) as caught:
        _text(gmi)
    text = caught.value.message + " " + caught.value.hint
    assert "127.0.0.1" in text
    assert "gmicloud" not in text.lower() and "GMI Cloud" not in text


def test_a_401_when_no_key_was_sent_asks_for_one(server, no_key):
    server.enqueue(status(401, {"error": {"message": "Missing bearer token"}}))
    with GMIClient(base_url=server.base_url) as gmi, pytest.raises(AuthenticationError) as caught:
        _text(gmi)
    assert "wants an API key" in caught.value.hint and "$GMI_API_KEY" in caught.value.hint


def test_a_402_from_another_endpoint_does_not_send_people_to_gmi(server):
    server.enqueue(status(402, {"error": {"message": "Quota exceeded"}}))
    with GMIClient(base_url=server.base_url) as gmi, pytest.raises(PaymentRequiredError) as c:
        _text(gmi)
    assert "127.0.0.1" in c.value.hint and "gmicloud" not in c.value.hint.lower()


def test_the_shell_talks_to_a_local_server_without_a_key(shell, server, no_key):
    server.enqueue(reply("no key needed"))
    result = shell.run("%%gmi\nQ")
    assert result.success, result.error
    assert "authorization" not in server.last_request.headers
    config = shell.run("%gmi config")
    assert "not set" in config.stdout
