"""%%gmi through a real InteractiveShell and real HTTP to the stand-in server."""

from __future__ import annotations

import json
import re

import pytest
from conftest import TEST_KEY

from gmi_magics.magics import GMIMagics
from gmi_magics.testing import StandInServer, reply

DEFAULT_MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
FOOTER = re.compile(r"(\S+) · (\d+) in / (\d+) out tokens · \d+\.\d s")


def test_cell_streams_rendered_markdown_and_keeps_history(shell, server):
    server.enqueue(reply(["# Title\n\n", "| a | b |\n|---|---|\n| 1 | 2 |\n"]))
    first = shell.run("%%gmi\nExplain a p-value")
    assert first.success
    assert "<h1>Title</h1>" in first.last_html
    assert "<table>" in first.last_html
    assert "text/markdown" not in str(first.outputs)
    server.enqueue(reply("Second answer"))
    shell.run("%%gmi\nAnd a follow-up?")
    sent = server.last_request.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "Explain a p-value"
    assert sent[1]["content"].startswith("# Title")
    assert sent[2]["content"] == "And a follow-up?"


# -- the request on the wire --------------------------------------------------------


def test_default_request_shape(shell, server):
    server.enqueue(reply("ok"))
    result = shell.run("%%gmi\n  Hello there  \n")
    assert result.success, result.error
    request = server.last_request
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer " + TEST_KEY
    body = request.json
    assert body["model"] == DEFAULT_MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "Hello there"}]
    for absent in ("temperature", "max_tokens"):
        assert absent not in body


def test_history_on_turn_two_and_three_is_exact(shell, server):
    server.enqueue(reply("A1"), reply("A2 *md*"), reply("A3"))
    shell.run("%%gmi\nQ1")
    assert server.last_request.json["messages"] == [{"role": "user", "content": "Q1"}]
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2 *md*"},
        {"role": "user", "content": "Q3"},
    ]
    assert [t.user for t in shell.conversation.turns] == ["Q1", "Q2", "Q3"]


# -- cell options -------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-m", "--model"])
def test_model_option(shell, server, flag):
    server.enqueue(reply("ok"))
    assert shell.run(f"%%gmi {flag} Qwen/Qwen3-32B\nHi").success
    assert server.last_request.json["model"] == "Qwen/Qwen3-32B"
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nAgain")
    assert server.last_request.json["model"] == DEFAULT_MODEL, "-m is for one cell only"


@pytest.mark.parametrize(
    ("options", "expected"),
    [("-t 0", 0), ("--temperature 0.7", 0.7), ("-t 0.0", 0), ("-t 1.5", 1.5)],
)
def test_temperature_option_zero_is_sent(shell, server, options, expected):
    server.enqueue(reply("ok"))
    assert shell.run(f"%%gmi {options}\nHi").success
    body = server.last_request.json
    assert "temperature" in body
    assert body["temperature"] == expected


def test_max_tokens_option(shell, server):
    server.enqueue(reply("ok"))
    assert shell.run("%%gmi --max-tokens 64\nHi").success
    assert server.last_request.json["max_tokens"] == 64


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


def test_no_history_option(shell, server):
    server.enqueue(reply("A1"), reply("one-off"), reply("A2"))
    shell.run("%%gmi\nQ1")
    before = list(shell.conversation.turns)
    assert shell.run("%%gmi --no-history\nSide question").success
    assert server.last_request.json["messages"] == [{"role": "user", "content": "Side question"}]
    assert shell.conversation.turns == before
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]


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


def test_no_stream_option(shell, server):
    server.enqueue(reply("**Whole** reply", usage=USAGE))
    result = shell.run("%%gmi --no-stream\nHi")
    assert result.success, result.error
    body = server.last_request.json
    assert body["stream"] is False
    assert "stream_options" not in body
    assert "<strong>Whole</strong> reply" in result.last_html
    assert "12 in / 7 out tokens" in result.last_html
    assert shell.conversation.turns[-1].reply.text == "**Whole** reply"


@pytest.mark.parametrize("flag", ["-o", "--out"])
def test_out_option_stores_the_reply(shell, server, flag):
    server.enqueue(
        reply("The *answer*", reasoning="because", usage=USAGE, finish_reason="stop", model="m/x")
    )
    result = shell.run(f"%%gmi {flag} answer\nQ")
    assert result.success, result.error
    stored = shell.ns["answer"]
    assert stored.text == "The *answer*"
    assert stored.reasoning == "because"
    assert (stored.usage.prompt_tokens, stored.usage.completion_tokens) == (12, 7)
    assert stored.model == "m/x"
    assert stored.finish_reason == "stop"
    bundle, _ = shell.ip.display_formatter.format(stored)  # how the notebook shows it
    assert set(bundle) >= {"text/html", "text/plain"}
    assert "<em>answer</em>" in bundle["text/html"]
    assert "The *answer*" in bundle["text/plain"]


def test_out_option_in_line_mode(shell, server):
    server.enqueue(reply("4"))
    assert shell.run("%gmi -o r what is 2+2?").success
    assert shell.ns["r"].text == "4"
    assert server.last_request.json["messages"][-1]["content"] == "what is 2+2?"


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


def test_docstring_and_parser_help_list_every_option():
    doc = GMIMagics.gmi.__doc__
    for option in (
        *("-m", "--model", "-t", "--temperature", "--max-tokens", "-s", "--system"),
        *("--no-history", "--no-stream", "-o", "--out"),
        *("history", "reset", "undo", "models", "config", "last"),
    ):
        assert re.search(rf"(?<![\w-]){re.escape(option)}\b", doc), option


def test_pinfo_shows_the_options(shell):
    result = shell.run("%%gmi?")
    text = result.everything
    assert "--no-history" in text
    assert "--max-tokens" in text


# -- line mode ----------------------------------------------------------------------


def test_line_mode_joins_the_conversation(shell, server):
    server.enqueue(reply("A1"), reply("4"), reply("A3"))
    shell.run("%%gmi\nQ1")
    result = shell.run("%gmi what is 2+2?")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1] == {
        "role": "user",
        "content": "what is 2+2?",
    }
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "what is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "Q3"},
    ]


@pytest.mark.parametrize("question", ["what's up", "it's \"quoted\" isn't it?", "a 'single' quote"])
def test_line_mode_keeps_quotes_and_apostrophes(shell, server, question):
    server.enqueue(reply("ok"))
    result = shell.run(f"%gmi {question}")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1]["content"] == question


def test_line_mode_with_options(shell, server):
    server.enqueue(reply("ok"))
    result = shell.run("%gmi -m Qwen/Qwen3-32B -t 0 what is a monad")
    assert result.success, result.error
    body = server.last_request.json
    assert body["model"] == "Qwen/Qwen3-32B"
    assert body["temperature"] == 0
    assert body["messages"][-1]["content"] == "what is a monad"


def test_line_mode_with_options_and_an_apostrophe(shell, server):
    server.enqueue(reply("ok"))
    result = shell.run("%gmi -m Qwen/Qwen3-32B what's a monad?")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1]["content"] == "what's a monad?"


@pytest.mark.parametrize(
    ("word", "question"),
    [
        ("last", "last year's winner of the Tour de France?"),
        ("history", "history of the Roman empire in one paragraph"),
        ("models", "models of computation compared"),
    ],
)
def test_line_question_starting_with_a_subcommand_word_is_not_dropped(
    shell, server, word, question
):
    """`%gmi last year's winner?` must not silently run `%gmi last` and drop the rest."""
    server.enqueue(reply("A1"), reply("ok"))
    shell.run("%%gmi\nQ1")
    result = shell.run(f"%gmi {question}")
    asked = server.chat_requests[-1].json["messages"][-1]["content"]
    refused = not result.success and word in str(result.error)
    assert asked == question or refused, "the words after the subcommand were silently ignored"


# -- subcommands --------------------------------------------------------------------


def test_history_shows_sanitized_transcript(shell, server):
    server.enqueue(
        reply("First **bold** answer"),
        reply("<img src=x onerror=alert(1)> [x](javascript:alert(1)) <script>alert(2)</script>"),
    )
    assert shell.run("%%gmi -s Brief\nFirst question").success
    shell.run("%%gmi\nSecond <b onclick=alert(3)>question</b>")
    result = shell.run("%gmi history")
    assert result.success
    page = result.last_html
    assert "First question" in page
    assert "<strong>bold</strong>" in page
    assert "Second" in page and "question" in page
    assert page.index("First question") < page.index("Second")
    assert "Brief" in page
    lowered = page.lower()
    assert "<script" not in lowered.replace("<style>", "")
    assert "onerror" not in lowered or "&lt;img" in lowered
    assert not re.search(r"<[^>]*\son\w+\s*=", page)
    assert 'href="javascript' not in lowered
    plain = result.outputs[-1]["text/plain"]
    assert "First question" in plain


def test_history_when_empty(shell, server):
    result = shell.run("%gmi history")
    assert result.success
    assert "empty" in result.last_html
    assert server.chat_requests == []


def test_reset(shell, server):
    server.enqueue(reply("A1"), reply("A2"), reply("fresh"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    result = shell.run("%gmi reset")
    assert "2 turns removed" in result.stdout
    assert shell.conversation.turns == []
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [{"role": "user", "content": "Q3"}]
    assert "(1 turn removed)" in shell.run("%gmi reset").stdout
    assert "(0 turns removed)" in shell.run("%gmi reset").stdout


def test_undo(shell, server):
    server.enqueue(reply("A1"), reply("A2"), reply("A3"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    result = shell.run("%gmi undo")
    assert "Q2" in result.stdout
    assert [t.user for t in shell.conversation.turns] == ["Q1"]
    shell.run("%%gmi\nQ3")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q3"},
    ]


def test_undo_on_empty(shell, server):
    result = shell.run("%gmi undo")
    assert result.success
    assert "Nothing to undo" in result.stdout
    assert shell.conversation.turns == []


def test_models_lists_and_marks_default(shell, server):
    server.models = ["b/two", DEFAULT_MODEL, "a/one"]
    result = shell.run("%gmi models")
    assert result.success, result.error
    assert server.last_request.method == "GET"
    assert server.last_request.path == "/v1/models"
    lines = result.stdout.splitlines()
    assert "3 models" in lines[0]
    assert f"* {DEFAULT_MODEL}" in lines
    assert "  a/one" in lines and "  b/two" in lines
    assert "!" not in result.stdout


def test_models_warns_about_unknown_default(shell, server, monkeypatch):
    monkeypatch.setenv("GMI_MODEL", "nobody/serves-this")
    result = shell.run("%gmi models")
    assert result.success, result.error
    assert "*" not in result.stdout.split(":", 1)[1].replace("(* = current default)", "")
    warning = [line for line in result.stdout.splitlines() if "nobody/serves-this" in line]
    assert warning and warning[0].startswith("!")
    assert "not served" in warning[0]


def _config_rows(shell) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in shell.run("%gmi config").stdout.splitlines():
        match = re.match(r"(\w[\w ]*?)\s{2,}(.*)\s{2}\((.*)\)$", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_config_shows_effective_settings_and_masks_the_key(shell, server):
    result = shell.run("%gmi config")
    assert result.success
    assert TEST_KEY not in result.everything
    rows = _config_rows(shell)
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


# -- configuration ------------------------------------------------------------------


def test_model_precedence_cell_over_config_over_env_over_default(shell, server, monkeypatch):
    server.models = [DEFAULT_MODEL, "env/model", "config/model", "cell/model"]
    shell.run("%%gmi\nQ")
    assert server.last_request.json["model"] == DEFAULT_MODEL
    assert _config_rows(shell)["model"] == (repr(DEFAULT_MODEL), "default")

    monkeypatch.setenv("GMI_MODEL", "env/model")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["model"] == "env/model"
    assert _config_rows(shell)["model"] == ("'env/model'", "env")

    shell.ip.run_line_magic("config", "GMIMagics.model = 'config/model'")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["model"] == "config/model"
    assert _config_rows(shell)["model"] == ("'config/model'", "config")

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
        assert _config_rows(shell)["base_url"] == (repr(other.base_url), "env")

        shell.ip.run_line_magic("config", f"GMIMagics.base_url = {third.base_url!r}")
        assert shell.run("%%gmi\nQ").success
        assert len(third.chat_requests) == 1
        assert len(other.chat_requests) == 1
        assert _config_rows(shell)["base_url"] == (repr(third.base_url), "config")


def test_config_temperature_and_cell_override(shell, server):
    server.enqueue(reply("a"), reply("b"))
    shell.ip.run_line_magic("config", "GMIMagics.temperature = 0.2")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["temperature"] == 0.2
    shell.run("%%gmi -t 0\nQ")
    assert server.last_request.json["temperature"] == 0
    assert _config_rows(shell)["temperature"] == ("0.2", "config")


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


def test_config_system_prompt(shell, server):
    server.enqueue(reply("a"))
    shell.ip.run_line_magic("config", "GMIMagics.system_prompt = 'You are terse.'")
    shell.run("%%gmi\nQ")
    assert server.last_request.json["messages"][0] == {
        "role": "system",
        "content": "You are terse.",
    }


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
    assert _config_rows(shell)["api key"] == ("<hidden, 26 chars>", "env $MY_GMI_KEY")


# -- what the user sees under a reply -----------------------------------------------


def test_usage_footer_in_html_and_plain(shell, server):
    server.enqueue(reply("Answer", usage=USAGE))
    result = shell.run("%%gmi\nQ")
    html_footer = re.search(r'<div class="gmi-footer">([^<]*)</div>', result.last_html)
    assert html_footer, result.last_html
    assert FOOTER.fullmatch(html_footer.group(1)).groups() == (DEFAULT_MODEL, "12", "7")
    plain = result.outputs[-1]["text/plain"]
    assert plain.startswith("Answer")
    assert FOOTER.search(plain).groups() == (DEFAULT_MODEL, "12", "7")


def test_footer_shows_the_served_model(shell, server):
    server.enqueue(reply("Answer", usage=USAGE, model="served/variant"))
    result = shell.run("%%gmi\nQ")
    assert "served/variant · 12 in / 7 out tokens" in result.last_html


def test_finish_reason_length_note(shell, server):
    server.enqueue(reply("Cut sho", finish_reason="length"))
    result = shell.run("%%gmi --max-tokens 5\nWrite an essay")
    assert result.success, result.error
    note = re.search(r'<div class="gmi-note">([^<]*)</div>', result.last_html)
    assert note, result.last_html
    assert "max_tokens=5" in note.group(1)
    assert "--max-tokens" in note.group(1)
    assert "max_tokens=5" in result.outputs[-1]["text/plain"]
    assert shell.conversation.turns[-1].reply.finish_reason == "length"


def test_normal_reply_has_no_note(shell, server):
    server.enqueue(reply("Fine"))
    result = shell.run("%%gmi\nQ")
    assert "gmi-note" not in result.last_html.split("</style>", 1)[1]


# -- re-running a cell --------------------------------------------------------------


def test_rerun_with_same_cell_id_replaces_the_turn(shell, server):
    server.enqueue(reply("First try"), reply("Second try"))
    assert shell.run("%%gmi\nQ", cell_id="abc").success
    assert shell.run("%%gmi\nQ", cell_id="abc").success
    assert [r.json["messages"] for r in server.chat_requests] == [
        [{"role": "user", "content": "Q"}],
        [{"role": "user", "content": "Q"}],
    ]
    turns = shell.conversation.turns
    assert len(turns) == 1
    assert turns[0].reply.text == "Second try"


def test_rerun_replaces_in_place_between_other_cells(shell, server):
    server.enqueue(reply("A"), reply("B"), reply("A2"), reply("C"))
    shell.run("%%gmi\nQa", cell_id="a")
    shell.run("%%gmi\nQb", cell_id="b")
    shell.run("%%gmi\nQa edited", cell_id="a")
    assert "Qa" not in [m["content"] for m in server.last_request.json["messages"]]
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [
        ("Qa edited", "A2"),
        ("Qb", "B"),
    ]
    shell.run("%%gmi\nQc", cell_id="c")
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Qa edited"},
        {"role": "assistant", "content": "A2"},
        {"role": "user", "content": "Qb"},
        {"role": "assistant", "content": "B"},
        {"role": "user", "content": "Qc"},
    ]


def test_rerun_without_cell_id_appends(shell, server):
    server.enqueue(reply("First"), reply("Second"))
    shell.run("%%gmi\nQ", cell_id="abc")
    shell.run("%%gmi\nQ")
    shell_turns = shell.conversation.turns
    assert [t.reply.text for t in shell_turns] == ["First", "Second"]
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "First"},
        {"role": "user", "content": "Q"},
    ]


def test_two_questions_in_one_cell_are_both_kept(shell, server):
    """One cell, two %gmi lines: the second is a new turn, not a re-run of the first."""
    server.enqueue(reply("A1"), reply("A2"))
    result = shell.run("%gmi first question\n%gmi second question", cell_id="multi")
    assert result.success, result.error
    assert server.last_request.json["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "second question"},
    ]
    assert [t.user for t in shell.conversation.turns] == ["first question", "second question"]
