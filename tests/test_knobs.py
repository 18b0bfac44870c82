"""Parameters, --think, aliases, personas and cost per cell (real shell, real HTTP)."""

from __future__ import annotations

import json

import pytest

from gmi_magics.chat.personas import BUILT_IN_PERSONAS
from gmi_magics.testing import reply

# -- -p KEY=VALUE -------------------------------------------------------------------


def test_params_keep_their_json_types_and_nest_dotted_keys(shell, server):
    server.enqueue(reply("ok"))
    cell = (
        '%%gmi -p top_p=0.9 -p seed=7 -p logprobs=true -p stop=\'["END", "##"]\' '
        "-p user=ada -p chat_template_kwargs='{\"thinking\": true}' -p thinking.type=enabled "
        '-p thinking.budget=1024 -p presence_penalty=-0.5 -p tag="two words"\nQ'
    )
    result = shell.run(cell)
    assert result.success, result.error
    body = server.last_request.json
    assert body["top_p"] == 0.9 and isinstance(body["top_p"], float)
    assert body["seed"] == 7 and isinstance(body["seed"], int)
    assert body["logprobs"] is True
    assert body["stop"] == ["END", "##"]
    assert body["user"] == "ada"
    assert body["chat_template_kwargs"] == {"thinking": True}
    assert body["thinking"] == {"type": "enabled", "budget": 1024}
    assert body["presence_penalty"] == -0.5
    assert body["tag"] == "two words"


def test_params_in_line_mode_and_shown_by_last(shell, server):
    server.enqueue(reply("ok"))
    assert shell.run("%gmi -p seed=3 -p top_p=0.5 what now").success
    assert server.last_request.json["seed"] == 3
    shown = json.loads(shell.run("%gmi last").stdout)
    assert shown["params"]["seed"] == 3 and shown["params"]["top_p"] == 0.5


@pytest.mark.parametrize("bad", ["top_p", "=3", "a..b=1", "1x=2", "a b=1"])
def test_bad_key_value_is_one_usage_error(shell, server, bad):
    result = shell.run(f"%%gmi -p '{bad}'\nQ")
    assert not result.success
    assert type(result.error).__name__ == "UsageError"
    assert "KEY=VALUE" in str(result.error)
    assert not server.chat_requests


def test_precedence_cell_over_model_over_all(shell, server):
    model = "Qwen/Qwen3-32B"
    shell.config(params={"*": {"top_p": 0.1, "seed": 1, "x": {"a": 1, "b": 1}}, model: {"seed": 2}})
    server.enqueue(reply("1"), reply("2"), reply("3"))
    shell.run("%%gmi\nQ")
    assert server.last_request.json["seed"] == 1 and server.last_request.json["top_p"] == 0.1
    shell.run(f"%%gmi -m {model}\nQ")
    assert server.last_request.json["seed"] == 2 and server.last_request.json["top_p"] == 0.1
    shell.run(f"%%gmi -m {model} -p seed=3 -p x.b=2\nQ")
    body = server.last_request.json
    assert body["seed"] == 3 and body["x"] == {"a": 1, "b": 2}


def test_flat_params_config_is_explained(shell, server):
    shell.config(params={"top_p": 0.9})
    result = shell.run("%%gmi\nQ")
    assert not result.success and "GMIMagics.params maps a model id" in str(result.error)


def test_server_rejecting_a_parameter_is_one_line(shell, server):
    from gmi_magics.testing import status

    details = json.dumps({"message": "Unsupported parameter: 'logit_bias'"})
    server.enqueue(status(400, {"error": {"message": "bad", "details": details}}))
    result = shell.run("%%gmi -p logit_bias='{\"1\": 2}'\nQ")
    assert not result.success
    assert "Unsupported parameter: 'logit_bias'" in result.stderr + str(result.error)
    assert shell.conversation.turns == []


# -- --think / --no-think -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "flag", "expected"),
    [
        ("deepseek-ai/DeepSeek-V3.2-Exp", "--think", {"chat_template_kwargs": {"thinking": True}}),
        ("deepseek-ai/DeepSeek-V3.1", "--no-think", {"chat_template_kwargs": {"thinking": False}}),
        ("Qwen/Qwen3-32B", "--no-think", {"chat_template_kwargs": {"enable_thinking": False}}),
        ("zai-org/GLM-4.6", "--think", {"chat_template_kwargs": {"enable_thinking": True}}),
        ("MiniMaxAI/MiniMax-M2", "--think", {"thinking": {"type": "enabled"}}),
    ],
)
def test_think_sends_the_switch_of_the_family(shell, server, model, flag, expected):
    server.enqueue(reply("ok"))
    assert shell.run(f"%%gmi -m {model} {flag}\nQ").success
    body = server.last_request.json
    for key, value in expected.items():
        assert body[key] == value


def test_think_on_an_unknown_family_says_so(shell, server):
    result = shell.run("%%gmi -m acme/mystery-7b --think\nQ")
    assert not result.success
    assert "no known thinking switch" in str(result.error) and "-p" in str(result.error)
    assert not server.chat_requests


# -- aliases ------------------------------------------------------------------------------


def test_alias_works_everywhere_a_model_is_named(shell, server, tmp_path):
    result = shell.run("%gmi alias fast Qwen/Qwen3-32B")
    assert result.success, result.error
    assert "fast" in result.stdout
    server.enqueue(reply("1"), reply("2"), reply("3"))
    shell.run("%%gmi -m fast\nQ1")
    assert server.last_request.json["model"] == "Qwen/Qwen3-32B"
    shell.run("%gmi retry")
    assert server.last_request.json["model"] == "Qwen/Qwen3-32B"
    shell.config(model="fast")  # %config GMIMagics.model may name an alias too
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["model"] == "Qwen/Qwen3-32B"
    path = tmp_path / "chat.json"
    shell.run(f"%gmi save {path}")
    assert '"fast"' not in path.read_text()
    models = shell.run("%gmi models").stdout
    assert "(alias: fast)" in models
    assert "aliases" in shell.run("%gmi config").stdout


def test_alias_from_config_and_shadowing_refused(shell, server):
    shell.config(aliases={"big": "deepseek-ai/DeepSeek-V3.2"})
    server.enqueue(reply("ok"))
    shell.run("%%gmi -m big\nQ")
    assert server.last_request.json["model"] == "deepseek-ai/DeepSeek-V3.2"
    requests = len(server.chat_requests)
    result = shell.run("%gmi alias Qwen/Qwen3-32B deepseek-ai/DeepSeek-V3.2")
    assert not result.success and "Alias names" in str(result.error)
    assert "Qwen/Qwen3-32B" not in shell.magics.aliases
    assert len(server.chat_requests) == requests
    server.models = [*server.models, "fast"]
    result = shell.run("%gmi alias fast Qwen/Qwen3-32B")
    assert not result.success and "serves" in str(result.error)


# -- personas -----------------------------------------------------------------------------


def test_persona_sets_the_threads_system_prompt_like_s(shell, server):
    server.enqueue(reply("1"), reply("2"))
    shell.run("%%gmi --persona tutor\nQ1")
    assert server.last_request.json["messages"][0] == {
        "role": "system",
        "content": BUILT_IN_PERSONAS["tutor"],
    }
    shell.run("%%gmi\nQ2")  # kept for the thread
    assert server.last_request.json["messages"][0]["content"] == BUILT_IN_PERSONAS["tutor"]


def test_persona_with_no_history_is_for_one_request(shell, server):
    server.enqueue(reply("1"), reply("2"))
    shell.run("%%gmi --persona reviewer --no-history\nQ1")
    assert server.last_request.json["messages"][0]["content"] == BUILT_IN_PERSONAS["reviewer"]
    shell.run("%%gmi\nQ2")
    assert server.last_request.json["messages"][0]["role"] == "user"


def test_persona_per_thread_and_custom(shell, server):
    assert shell.run('%gmi persona stats "You are a statistics tutor."').success
    server.enqueue(reply("1"), reply("2"))
    shell.run("%%gmi --chat a --persona stats\nQ")
    shell.run("%%gmi --chat b\nQ")
    assert server.last_request.json["messages"][0]["role"] == "user"
    assert "stats: You are a statistics tutor." in shell.run("%gmi personas").stdout


def test_persona_and_s_together_or_unknown_is_one_line(shell, server):
    both = shell.run("%%gmi --persona tutor -s 'x'\nQ")
    assert not both.success and "not both" in str(both.error)
    unknown = shell.run("%%gmi --persona tutr\nQ")
    assert not unknown.success and "tutor" in str(unknown.error)
    assert not server.chat_requests


# -- cost per cell ---------------------------------------------------------------------------


def test_cost_in_the_footer_when_priced_summed_over_tool_rounds(shell, server):
    shell.config(prices={"deepseek-ai/DeepSeek-V3.2-Exp": (1.0, 2.0)})
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    server.enqueue(reply("hi", usage=usage))
    result = shell.run("%%gmi\nQ")
    assert "$0.0020" in result.html and "$0.0020" in result.plain


def test_no_cost_without_prices(shell, server):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    server.enqueue(reply("hi", usage=usage))
    result = shell.run("%%gmi\nQ")
    assert "1000 in" in result.html
    assert "$" not in result.html.split("gmi-footer")[-1]


def test_max_reply_bytes_trait_reaches_the_client(shell, server):
    shell.config(max_reply_bytes=2_000)
    server.enqueue(reply("x" * 5_000))
    result = shell.run("%%gmi\nLong")
    assert not result.success
    assert "limit" in str(result.error) and "max_reply_bytes" in str(result.error)
    assert shell.conversation.turns == []
