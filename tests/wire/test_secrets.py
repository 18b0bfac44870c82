"""The API key never shows: not whole, not as a fragment, not in logs, recordings or chains.

Everything goes through real HTTP to the stand-in server (or a raw socket server here
when the stand-in cannot send it).  ``key_run`` measures the longest piece of the key
in a text; a clipped echo may keep at most 3 characters at the cut.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TEST_KEY
from helpers import DEFAULT_MODEL, HELLO, NO_WAIT_MS

from gmi_magics import GMIClient
from gmi_magics.errors import APIStatusError, ConfigurationError, GMIError, StreamError
from gmi_magics.settings import mask_key
from gmi_magics.testing import DISCONNECT, DONE, StandInServer, chunk, reply, sse, status
from gmi_magics.text import MAX_BODY_CHARS, clip, printable, redact


def key_run(text: str, key: str = TEST_KEY) -> int:
    """Length of the longest piece of ``key`` that appears in ``text``."""
    best = 0
    for start in range(len(key)):
        size = best + 1
        while start + size <= len(key) and key[start : start + size] in text:
            best, size = size, size + 1
    return best


def shown(error: BaseException) -> str:
    """Every text of an error a user or a log could see."""
    parts = [str(error), repr(error), "".join(getattr(error, "_render_traceback_", list)())]
    parts += [getattr(error, name, "") or "" for name in ("message", "hint", "body")]
    return "\n".join(str(part) for part in parts)


def assert_clean(error: BaseException) -> None:
    assert isinstance(error, GMIError), error
    assert key_run(shown(error)) < 4, shown(error)
    assert error.__context__ is None and error.__cause__ is None, error.__context__


@pytest.fixture
def client(server: StandInServer) -> Iterator[GMIClient]:
    with GMIClient(base_url=server.base_url, max_retries=0) as gmi:
        yield gmi


def failure(client: GMIClient, server: StandInServer, script: Any) -> GMIError:
    server.enqueue(script)
    with pytest.raises(GMIError) as caught:
        list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    return caught.value


# --- 1. fragments at the clip ------------------------------------------------------------

PADS = sorted({*range(200, 330, 3), *range(MAX_BODY_CHARS - 50, MAX_BODY_CHARS + 2)})


def _echo(pad: int) -> str:
    return "x" * pad + f" Authorization: Bearer {TEST_KEY} and more text after it"


@pytest.mark.parametrize("pad", PADS)
def test_a_key_cut_by_the_clip_leaves_no_fragment_json(client, server, pad):
    assert_clean(failure(client, server, status(401, {"error": {"message": _echo(pad)}})))


@pytest.mark.parametrize("pad", range(220, 310, 2))
def test_a_key_cut_by_the_clip_leaves_no_fragment_text_body(client, server, pad):
    assert_clean(failure(client, server, status(403, _echo(pad))))


@pytest.mark.parametrize("pad", range(230, 300, 4))
def test_a_key_in_nested_error_details_is_redacted(client, server, pad):
    details = json.dumps({"error": {"message": _echo(pad)}})
    body = {"error": {"message": "outer", "details": details}}
    error = failure(client, server, status(400, body))
    assert_clean(error)
    assert "xxx" in error.message  # the inner message was used


def test_a_unicode_escaped_key_is_redacted_too(client, server):
    escaped = "".join(f"\\u{ord(c):04x}" for c in TEST_KEY)
    body = '{"error": {"message": "bad key ' + escaped + '"}}'
    error = failure(client, server, status(401, body, content_type="application/json"))
    assert key_run(error.message) < 4 and "[redacted]" in error.message


@pytest.mark.parametrize("pad", [*range(0, 80, 7), *range(540, 620, 3)])
def test_a_key_in_an_in_stream_error_event_is_redacted(client, server, pad):
    event = {"error": {"message": "y" * pad + f" key {TEST_KEY} was revoked"}}
    assert_clean(failure(client, server, sse(chunk("Hi"), event, DONE)))


@pytest.mark.parametrize("pad", range(0, 66, 3))
def test_a_key_in_a_malformed_chunk_preview_is_redacted(client, server, pad):
    error = failure(client, server, sse(chunk("Hi"), f"data: {'{' * pad}{TEST_KEY}}}\n\n", DONE))
    assert isinstance(error, StreamError) and "malformed" in error.message
    assert_clean(error)


@pytest.mark.parametrize(
    "piece",
    [TEST_KEY[:30], TEST_KEY[5:40], TEST_KEY[-20:], TEST_KEY[:12], f"{TEST_KEY[:20]}…"],
    ids=["head30", "middle", "tail20", "head12", "head20-ellipsis"],
)
def test_a_partial_key_echoed_by_the_server_is_redacted(client, server, piece):
    error = failure(client, server, status(401, {"error": {"message": f"Bad key {piece}!"}}))
    assert key_run(shown(error)) < 12
    assert "[redacted]" in error.message


def test_clip_redacts_first_and_trims_a_key_start_at_the_cut():
    for cut in range(1, len(TEST_KEY) + 5):
        text = "a" * 50 + TEST_KEY
        for limit in range(50, 50 + cut):
            assert key_run(clip(text, limit, TEST_KEY)) < 4, (limit, clip(text, limit, TEST_KEY))
    assert clip("short", 10, TEST_KEY) == "short"
    assert redact(f"a{TEST_KEY}b{TEST_KEY}", TEST_KEY) == "a[redacted]b[redacted]"


def test_mask_shows_no_key_character():
    assert mask_key(TEST_KEY) == f"<hidden, {len(TEST_KEY)} chars>"
    assert mask_key("") == mask_key(None) == "not set"
    assert key_run(mask_key(TEST_KEY)) < 2


def test_config_and_last_show_no_key_character(shell, server):
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nQ")
    for line in ("%gmi config", "%gmi last"):
        result = shell.run(line)
        assert result.success, result.error
        assert key_run(result.everything) < 4, result.everything
        assert "hidden" in result.stdout


# --- 2. the key repeated by the model ---------------------------------------------------


def _text(deltas: list[Any]) -> tuple[str, str]:
    return "".join(d.content for d in deltas), "".join(d.reasoning for d in deltas)


@pytest.mark.parametrize("cut", range(1, len(TEST_KEY)))
def test_a_key_split_across_two_chunks_is_redacted(client, server, cut):
    server.enqueue(reply(["Your key is ", TEST_KEY[:cut], TEST_KEY[cut:] + " done"]))
    content, _ = _text(list(client.stream_chat(HELLO, model=DEFAULT_MODEL)))
    assert content == "Your key is [redacted] done"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_a_key_streamed_token_by_token_is_redacted(client, server, size):
    text = f"Reasoning says {TEST_KEY}."
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    server.enqueue(reply(["ok"], reasoning=pieces))
    content, reasoning = _text(list(client.stream_chat(HELLO, model=DEFAULT_MODEL)))
    assert reasoning == "Reasoning says [redacted]." and content == "ok"


@pytest.mark.parametrize(
    "ending", [TEST_KEY, TEST_KEY[:-1], TEST_KEY[:30], TEST_KEY[:6]], ids=["whole", "-1", "30", "6"]
)
def test_a_key_cut_at_the_end_of_the_reply_is_redacted(client, server, ending):
    server.enqueue(reply(["The key: ", ending[:5], ending[5:]]))
    content, _ = _text(list(client.stream_chat(HELLO, model=DEFAULT_MODEL)))
    assert content == "The key: [redacted]"


def test_ordinary_text_is_unchanged_and_barely_held(client, server):
    pieces = ["Hel", "lo", " there, g", "mi is a word", " done"]
    server.enqueue(reply(pieces))
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert "".join(d.content for d in deltas) == "".join(pieces)


def test_a_key_in_the_model_field_and_tool_arguments_is_redacted(client, server):
    calls = [
        {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"k": "' + TEST_KEY[:9]}},
        {"index": 0, "function": {"arguments": TEST_KEY[9:] + '"}'}},
    ]
    server.enqueue(reply("hi", model=f"model-{TEST_KEY}", tool_calls=calls))
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    everything = repr(deltas)
    assert key_run(everything) < 4, everything
    arguments = "".join(p.arguments for d in deltas for p in d.tool_calls)
    assert json.loads(arguments) == {"k": "[redacted]"}


def test_a_key_in_a_tool_calls_name_and_id_is_redacted(client, server):
    calls = [{"index": 0, "id": f"id-{TEST_KEY}", "function": {"name": f"f_{TEST_KEY}"}}]
    server.enqueue(reply("", tool_calls=calls))
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    everything = repr(deltas)
    assert key_run(everything) < 4, everything


def test_a_non_streamed_reply_is_redacted(client, server):
    server.enqueue(reply(f"key {TEST_KEY} and {TEST_KEY[:20]}", reasoning=TEST_KEY))
    delta = client.chat(HELLO, model=DEFAULT_MODEL)
    assert delta.content == "key [redacted] and [redacted]"
    assert delta.reasoning == "[redacted]"


def test_a_repeated_key_is_never_shown_stored_or_kept(shell, server):
    pieces = ["Sure: ", *[TEST_KEY[i : i + 3] for i in range(0, len(TEST_KEY), 3)], " ok"]
    server.enqueue(reply(pieces, reasoning=["think ", TEST_KEY[:9], TEST_KEY[9:]]))
    result = shell.run("%%gmi -o answer\nRepeat my key")
    assert result.success, result.error
    stored = [str(shell.ns["answer"]), repr(shell.conversation.turns), result.everything]
    # the HTML uses "gmi-" CSS classes: measure the rest of the key
    assert all(key_run(text, TEST_KEY[4:]) < 4 for text in stored), stored
    assert "Sure: [redacted] ok" in str(shell.ns["answer"])


@pytest.mark.parametrize("stream", [True, False])
def test_the_cache_file_never_holds_a_repeated_key(server, tmp_path, stream):
    pieces = ["Key: ", *[TEST_KEY[i : i + 2] for i in range(0, len(TEST_KEY), 2)], " end"]
    server.enqueue(reply(pieces, model=f"m-{TEST_KEY}"))
    with GMIClient(base_url=server.base_url, cache="record", cache_dir=tmp_path) as gmi:
        if stream:
            content, _ = _text(list(gmi.stream_chat(HELLO, model=DEFAULT_MODEL)))
        else:
            content = gmi.chat(HELLO, model=DEFAULT_MODEL).content
    assert content == "Key: [redacted] end"
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    saved = files[0].read_text(encoding="utf-8")
    pieces_saved = [
        part for line in json.loads(saved)["body"].splitlines() for part in _strings(line)
    ]
    assert key_run(saved) < 4 and all(key_run(p) < 4 for p in pieces_saved)
    assert key_run("".join(pieces_saved)) < 4, pieces_saved
    with GMIClient(base_url=server.base_url, cache="replay", cache_dir=tmp_path) as gmi:
        if stream:
            replayed, _ = _text(list(gmi.stream_chat(HELLO, model=DEFAULT_MODEL)))
        else:
            replayed = gmi.chat(HELLO, model=DEFAULT_MODEL).content
    assert replayed == "Key: [redacted] end"


def _strings(line: str) -> list[str]:
    """The text fields of one recorded SSE line (or a whole JSON body)."""
    data = line.removeprefix("data: ")
    try:
        obj = json.loads(data)
    except ValueError:
        return []
    out: list[str] = []
    for choice in obj.get("choices", []) if isinstance(obj, dict) else []:
        part = choice.get("delta") or choice.get("message") or {}
        out += [part.get(n) or "" for n in ("content", "reasoning_content", "reasoning")]
    return out


# --- 3. chains, key_env, logs ----------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        sse(chunk("Hi"), f"data: {{not json {TEST_KEY}\n\n", DONE),
        sse(chunk("Hi"), {"error": {"message": f"revoked {TEST_KEY}"}}, DONE),
        sse(chunk("Hi"), DISCONNECT),
        status(401, {"error": {"message": f"bad {TEST_KEY}"}}),
        status(500, f"oops {TEST_KEY}", headers=NO_WAIT_MS),
        sse(chunk("Hi")),
    ],
    ids=["malformed", "error-event", "dropped", "401", "500", "no-finish"],
)
def test_every_raised_error_carries_no_chained_exception(client, server, script):
    assert_clean(failure(client, server, script))


def test_a_reply_that_is_not_json_carries_no_chained_exception(client, server):
    server.enqueue(status(200, f"{{ {TEST_KEY}", content_type="application/json"))
    with pytest.raises(StreamError) as caught:
        client.chat(HELLO, model=DEFAULT_MODEL)
    assert_clean(caught.value)


@pytest.mark.parametrize("value", [TEST_KEY, "my key", "GMI-API-KEY", "", "1ABC", "x" * 80])
def test_a_key_pasted_as_api_key_env_is_rejected_without_echo(server, value):
    with pytest.raises(ConfigurationError) as caught:
        GMIClient(base_url=server.base_url, key_env=value)
    assert key_run(shown(caught.value)) < 4
    assert "api_key_env" in caught.value.message and "\n" not in caught.value.message


def test_a_key_pasted_as_api_key_env_in_the_shell(shell, server):
    shell.ip.run_line_magic("config", f"GMIMagics.api_key_env = '{TEST_KEY}'")
    for cell in ("%%gmi\nQ", "%gmi config"):
        result = shell.run(cell)
        assert not result.success and isinstance(result.error, ConfigurationError)
        assert key_run(result.everything + shown(result.error)) < 4
    assert server.chat_requests == []


def test_httpcore_debug_log_never_records_an_echoed_key(client, server, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"error": {"message": "no"}}
    server.enqueue(status(401, body, headers={"X-Echo": f"Bearer {TEST_KEY}"}))
    with pytest.raises(APIStatusError):
        list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert "x-echo" in caplog.text.lower()  # the header was logged ...
    assert key_run(caplog.text) < 4  # ... without the key


# --- 5. messages: punctuation, control characters, escapes ---------------------------------


@pytest.mark.parametrize(
    "reason", ["Internal error.", "Boom!", "Why?", "Bad (really)", "plain", "", "end…", "x."]
)
@pytest.mark.parametrize("code", [500, 503, 429])
def test_status_messages_end_with_one_punctuation_mark(server, reason, code):
    server.enqueue(*[status(code, {"error": {"message": reason}}, headers=NO_WAIT_MS)] * 3)
    with GMIClient(base_url=server.base_url, max_retries=2) as gmi, pytest.raises(GMIError) as c:
        list(gmi.stream_chat(HELLO, model=DEFAULT_MODEL))
    message = c.value.message
    assert "(after 2 retries)" in message
    assert not any(p in message for p in (". (", "! (", "? (", "..", "!.", "?.", "….")), message
    assert message[-1] in ".!?)…", message


@pytest.mark.parametrize(
    "nasty",
    [
        "\x1b[31mred\x1b[0m",
        "a\x00b\x07c",
        "line1\nline2\r\n",
        "\u202eevil",
        "\x9b31m",
        "\x1b]0;t\x07",
    ],
)
def test_control_characters_from_the_server_are_stripped(client, server, nasty):
    error = failure(client, server, status(400, {"error": {"message": f"bad {nasty} end"}}))
    for text in (error.message, str(error), error.hint):
        assert text == printable(text) and "\x1b" not in text and "\n" not in text
    assert "bad" in error.message and "end" in error.message


def test_printable_removes_escapes_and_controls():
    assert printable("\x1b[31mred\x1b[0m and\tmore\n") == "red and more"
    assert printable("a\u202eb\u2066c\x7fd") == "a b c d"


def test_a_nocolor_shell_shows_no_escape_codes(shell, server):
    server.enqueue(status(400, {"error": {"message": "bad \x1b[31m input"}}))
    colors = shell.ip.colors
    shell.ip.colors = "nocolor"
    try:
        result = shell.run("%%gmi\nQ")
        lines = result.error._render_traceback_()  # type: ignore[union-attr]
    finally:
        shell.ip.colors = colors
    assert not result.success
    assert "\x1b" not in result.everything and "[31m" not in result.everything
    assert "\x1b" not in "".join(lines) and lines[0].startswith("BadRequestError: ")


def test_plain_text_of_an_error_has_no_escape_codes(client, server):
    error = failure(client, server, status(500, "down", headers=NO_WAIT_MS))
    assert "\x1b" not in str(error) and "\x1b" not in error.message


@pytest.mark.parametrize(
    ("code", "location", "where"),
    [
        (302, "https://login.example.net/portal?next=x", "login.example.net/portal"),
        (301, "/v2/chat/completions", "/v2/chat/completions"),
        (307, "", "nowhere"),
    ],
)
def test_a_redirect_says_what_was_received(client, server, code, location, where):
    headers = {"Location": location} if location else {}
    error = failure(client, server, status(code, "", headers=headers))
    assert f"{code} redirect" in error.message and where in error.message
    assert "next=x" not in error.message and "base URL" in error.hint
    assert "stream ended" not in error.message


@pytest.mark.parametrize("call", ["stream", "chat", "models"])
def test_an_html_page_is_not_taken_for_a_reply(client, server, call):
    page = status(200, "<html><body>Please log in</body></html>", content_type="text/html")
    if call == "models":
        server.enqueue_models(page)
    else:
        server.enqueue(page)
    with pytest.raises(StreamError) as caught:
        if call == "stream":
            list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
        elif call == "chat":
            client.chat(HELLO, model=DEFAULT_MODEL)
        else:
            client.list_models()
    assert "HTML page" in caught.value.message and "base URL" in caught.value.hint
    assert_clean(caught.value)


@pytest.mark.parametrize("value", ["1e308", "9" * 400, "1e20", "86400000", "inf", "nan", "-5"])
def test_a_huge_retry_after_prints_no_huge_number(client, server, value):
    error = failure(client, server, status(429, "slow down", headers={"retry-after": value}))
    text = shown(error)
    assert len(text) < 1000 and "0000000" not in text and "e+" not in text, text
    if value in ("1e308", "1e20"):
        assert "more than" in error.hint, error.hint
