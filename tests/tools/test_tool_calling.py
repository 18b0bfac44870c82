"""Tool calling end to end: ``%%gmi --tools``, the tool loop on the wire, what the user sees.

Every test talks real HTTP to the stand-in server and asserts the exact ``messages`` and
``tools`` it received, and what the cell showed.
"""

from __future__ import annotations

import builtins
import json
import re
import signal
import threading
from typing import Any

import pytest
from IPython.core.error import StdinNotImplementedError, UsageError

import gmi_magics
from gmi_magics import Conversation, GMIClient
from gmi_magics.testing import chunk, reply, sse, status
from gmi_magics.tools.registry import Tool

QUESTION = "How's the weather in Qingdao today?"
CALL_ID = "call_4Xzl9Qc2"
ARGS = '{"city": "Qingdao"}'
RESULT = {"city": "Qingdao", "temp": 21, "unit": "C"}
ANSWER = "It is **21 °C** in Qingdao today."

WEATHER_SOURCE = '''
from typing import Literal

calls = []

def query_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Get the weather for a city.

    Args:
        city: The city name, e.g. Beijing.
        unit: Temperature unit.
    """
    calls.append((city, unit))
    return {"city": city, "temp": 21, "unit": unit}
'''

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city name, e.g. Beijing."},
        "unit": {
            "type": "string",
            "enum": ["C", "F"],
            "description": "Temperature unit.",
            "default": "C",
        },
    },
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER_SCHEMA = {
    "type": "function",
    "function": {
        "name": "query_weather",
        "description": "Get the weather for a city.",
        "parameters": WEATHER_PARAMETERS,
    },
}
TOOL_BLOCK = re.compile(r'<details class="gmi-tool( gmi-tool-error)?"><summary>(.*?)</summary>')
SECONDS = r"\d+\.\d\d s"
OTHER_TAG = re.compile(r"<(?!/?(div|style|details|summary|pre|span|p|blockquote|strong)\b)")


# -- helpers ------------------------------------------------------------------------


def call_deltas(
    call_id: str = CALL_ID,
    name: str = "query_weather",
    arguments: str = ARGS,
    *,
    index: int = 0,
    pieces: int = 3,
    continuation: str = "absent",
) -> list[dict[str, Any]]:
    """One tool call as streamed: id/name on the first delta, arguments in ``pieces``.

    ``continuation`` says what later deltas carry for id/name: nothing (OpenAI),
    explicit nulls or empty strings (vLLM/SGLang/DeepSeek engines), or the same
    values repeated.
    """
    size = max(1, -(-len(arguments) // pieces))
    parts = [arguments[i : i + size] for i in range(0, len(arguments), size)]
    first = {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    later: list[dict[str, Any]] = []
    for part in parts:
        if continuation == "absent":
            later.append({"index": index, "function": {"arguments": part}})
        elif continuation == "null":
            later.append(
                {
                    "index": index,
                    "id": None,
                    "type": None,
                    "function": {"name": None, "arguments": part},
                }
            )
        elif continuation == "empty":
            later.append({"index": index, "id": "", "function": {"name": "", "arguments": part}})
        else:  # "repeated"
            later.append(
                {
                    "index": index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": part},
                }
            )
    return [first, *later]


def tool_reply(*deltas: dict[str, Any], text: str = "", reasoning: str = "") -> Any:
    return reply(text, reasoning=reasoning, tool_calls=list(deltas), finish_reason="tool_calls")


def assistant_call(
    call_id: str = CALL_ID,
    arguments: str = ARGS,
    name: str = "query_weather",
) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_message(content: str, call_id: str = CALL_ID) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def weather_json(city: str = "Qingdao", unit: str = "C") -> str:
    return json.dumps({"city": city, "temp": 21, "unit": unit})


def messages(server: Any, index: int) -> list[dict[str, Any]]:
    return server.chat_requests[index].json["messages"]


def tool_blocks(html: str) -> list[tuple[bool, str]]:
    """(is_error, summary) of each tool block in one output's HTML."""
    return [(bool(error), summary) for error, summary in TOOL_BLOCK.findall(html)]


@pytest.fixture
def shell(shell):
    """conftest's shell, its user namespace restored afterwards.

    The shell is shared by the whole suite, and every ``@tool`` function in its
    namespace is offered to the model in every cell: nothing may leak either way.
    """
    saved = dict(shell.ns)
    for name, value in saved.items():
        if isinstance(getattr(value, "__gmi_tool__", None), Tool):
            del shell.ns[name]
    yield shell
    shell.ns.clear()
    shell.ns.update(saved)


@pytest.fixture
def weather(shell):
    """The model card's ``query_weather`` defined in the shell (records its calls)."""
    assert shell.run(WEATHER_SOURCE).success
    return shell.ns["calls"]


def ask_weather(shell, options: str = "--tools query_weather", question: str = QUESTION):
    result = shell.run(f"%%gmi {options}\n{question}")
    assert result.success, result.error
    return result


# -- the model card example, on the wire --------------------------------------------


def test_model_card_example_round_trip(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    result = ask_weather(shell)

    assert len(server.chat_requests) == 2
    first, second = (r.json for r in server.chat_requests)
    assert first["tools"] == [WEATHER_SCHEMA]
    assert first["messages"] == [{"role": "user", "content": QUESTION}]
    assert second["tools"] == [WEATHER_SCHEMA]
    assert second["messages"] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [assistant_call()]},
        tool_message(json.dumps(RESULT)),
    ]
    assert json.loads(second["messages"][-1]["content"]) == RESULT
    assert weather == [("Qingdao", "C")]

    html = result.last_html
    assert "<strong>21 °C</strong>" in html
    assert len(tool_blocks(html)) == 1
    assert ANSWER in result.outputs[-1]["text/plain"]

    turn = shell.conversation.turns[-1]
    assert turn.user == QUESTION
    assert turn.reply.text == ANSWER
    assert turn.extra == second["messages"][1:]


def test_next_turn_repeats_the_tool_messages_in_order(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER), reply("Tomorrow: rain."))
    ask_weather(shell)
    ask_weather(shell, question="And tomorrow?")
    assert len(server.chat_requests) == 3
    assert messages(server, 2) == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [assistant_call()]},
        tool_message(json.dumps(RESULT)),
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert [t.user for t in shell.conversation.turns] == [QUESTION, "And tomorrow?"]
    assert shell.conversation.turns[1].extra == []


def test_text_before_the_call_is_the_assistant_content(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas(), text="Let me check."), reply(ANSWER))
    ask_weather(shell)
    assert messages(server, 1)[1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [assistant_call()],
    }


def test_stand_in_default_reply_calls_the_tool_then_quotes_it(shell, server, weather):
    result = ask_weather(shell)  # nothing enqueued: the canned replies
    assert len(server.chat_requests) == 2
    sent = messages(server, 1)
    assert sent[1]["tool_calls"][0]["function"] == {"name": "query_weather", "arguments": ARGS}
    assert sent[2] == tool_message(json.dumps(RESULT), sent[1]["tool_calls"][0]["id"])
    assert "the tool returned" in result.last_html
    assert "Qingdao" in shell.conversation.turns[-1].reply.text


def test_verbatim_openai_shaped_stream(shell, server, weather):
    """The shape of the openai-python capture: role and content:null on the first chunk."""
    first = chunk(tool_calls=call_deltas(pieces=1)[:1])
    first["choices"][0]["delta"].update(role="assistant", content=None, refusal=None)
    server.enqueue(
        sse(
            first,
            chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"'}}]),
            chunk(tool_calls=[{"index": 0, "function": {"arguments": 'city": "Qing'}}]),
            chunk(tool_calls=[{"index": 0, "function": {"arguments": 'dao"}'}}]),
            chunk(finish_reason="tool_calls"),
            chunk(usage={"prompt_tokens": 44, "completion_tokens": 16}, empty_choices=True),
            "data: [DONE]\n\n",
        ),
        reply(ANSWER),
    )
    ask_weather(shell)
    assert messages(server, 1)[1:] == [
        {"role": "assistant", "content": None, "tool_calls": [assistant_call()]},
        tool_message(json.dumps(RESULT)),
    ]


# -- how the call arrives -----------------------------------------------------------


@pytest.mark.parametrize("order", ["a0 b0 b1 a1 a2 b2", "b0 a0 a1 b1 b2 a2"])
def test_parallel_calls_interleaved_run_in_index_order(shell, server, weather, order):
    a = call_deltas("call_a", arguments='{"city": "Qingdao"}', index=0, pieces=2)
    b = call_deltas("call_b", arguments='{"city": "Paris", "unit": "F"}', index=1, pieces=2)
    parts = {"a": a, "b": b}
    interleaved = [parts[word[0]][int(word[1])] for word in order.split()]
    server.enqueue(tool_reply(*interleaved), reply("Both done."))
    result = ask_weather(shell)

    assert weather == [("Qingdao", "C"), ("Paris", "F")]
    assert messages(server, 1)[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                assistant_call("call_a", '{"city": "Qingdao"}'),
                assistant_call("call_b", '{"city": "Paris", "unit": "F"}'),
            ],
        },
        tool_message(weather_json("Qingdao"), "call_a"),
        tool_message(weather_json("Paris", "F"), "call_b"),
    ]
    summaries = [summary for _, summary in tool_blocks(result.last_html)]
    assert len(summaries) == 2
    assert "Qingdao" in summaries[0] and "Paris" in summaries[1]


def test_parallel_calls_in_one_delta_list(shell, server, weather):
    """Both calls' fragments inside one chunk's ``tool_calls`` list."""
    a = call_deltas("call_a", arguments='{"city": "Qingdao"}', pieces=1)
    b = call_deltas("call_b", arguments='{"city": "Oslo"}', index=1, pieces=1)
    server.enqueue(
        sse(
            chunk(tool_calls=[a[0], b[0]]),
            chunk(tool_calls=[a[1], b[1]]),
            chunk(finish_reason="tool_calls"),
            "data: [DONE]\n\n",
        ),
        reply("ok"),
    )
    ask_weather(shell)
    assert weather == [("Qingdao", "C"), ("Oslo", "C")]
    sent = messages(server, 1)
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_a", "call_b"]
    assert [m.get("tool_call_id") for m in sent[2:]] == ["call_a", "call_b"]


def test_whole_arguments_in_one_delta(shell, server, weather):
    whole = {
        "index": 0,
        "id": CALL_ID,
        "type": "function",
        "function": {"name": "query_weather", "arguments": '{"city": "Qingdao", "unit": "F"}'},
    }
    server.enqueue(tool_reply(whole), reply(ANSWER))
    ask_weather(shell)
    assert weather == [("Qingdao", "F")]
    assert messages(server, 1)[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [assistant_call(arguments='{"city": "Qingdao", "unit": "F"}')],
        },
        tool_message(weather_json("Qingdao", "F")),
    ]


@pytest.mark.parametrize("continuation", ["absent", "null", "empty", "repeated"])
def test_continuation_deltas_never_overwrite_id_or_name(shell, server, weather, continuation):
    deltas = call_deltas(pieces=5, continuation=continuation)
    server.enqueue(tool_reply(*deltas), reply(ANSWER))
    ask_weather(shell)
    assert weather == [("Qingdao", "C")]
    assert messages(server, 1)[1:] == [
        {"role": "assistant", "content": None, "tool_calls": [assistant_call()]},
        tool_message(json.dumps(RESULT)),
    ]


def test_no_stream_tool_call(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    result = ask_weather(shell, "--no-stream --tools query_weather")
    assert [r.json["stream"] for r in server.chat_requests] == [False, False]
    assert messages(server, 1)[1:] == [
        {"role": "assistant", "content": None, "tool_calls": [assistant_call()]},
        tool_message(json.dumps(RESULT)),
    ]
    assert "<strong>21 °C</strong>" in result.last_html


# -- failures go back to the model ---------------------------------------------------


def _error_round_trip(shell, server, deltas, answer="Sorry about that."):
    server.enqueue(tool_reply(*deltas), reply(answer))
    result = ask_weather(shell)
    assert len(server.chat_requests) == 2
    sent = messages(server, 1)
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    name = deltas[0]["function"]["name"]
    assert sent[1]["tool_calls"] == [assistant_call(arguments=arguments, name=name)]
    content = sent[2]["content"]
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == CALL_ID
    assert content.startswith("Error: "), content
    assert answer in result.last_html
    assert shell.conversation.turns[-1].extra == sent[1:]
    return content, result


def test_bad_json_arguments_are_an_error_result(shell, server, weather):
    content, result = _error_round_trip(shell, server, call_deltas(arguments='{"city": "Qing'))
    assert "not valid JSON" in content
    assert weather == []
    blocks = tool_blocks(result.last_html)
    assert len(blocks) == 1 and blocks[0][0], blocks
    assert "not valid JSON" in blocks[0][1]


def test_arguments_outside_the_schema_are_an_error_result(shell, server, weather):
    arguments = '{"city": "Qingdao", "unit": "K"}'
    content, result = _error_round_trip(shell, server, call_deltas(arguments=arguments))
    assert content.startswith("Error: invalid arguments")
    assert "unit" in content and ("'K'" in content or '"K"' in content), content
    assert weather == []
    assert tool_blocks(result.last_html)[0][0]


def test_missing_required_argument_is_an_error_result(shell, server, weather):
    content, _ = _error_round_trip(shell, server, call_deltas(arguments='{"unit": "C"}'))
    assert "city" in content
    assert weather == []


def test_unknown_tool_names_the_available_ones(shell, server, weather):
    deltas = call_deltas(name="get_stock_price", arguments='{"ticker": "GMI"}')
    content, result = _error_round_trip(shell, server, deltas)
    assert content == "Error: unknown tool 'get_stock_price'. Available tools: query_weather"
    assert weather == []
    assert "get_stock_price" in tool_blocks(result.last_html)[0][1]


def test_a_raising_tool_is_an_error_result_and_the_cell_completes(shell, server):
    assert shell.run(
        "def query_weather(city: str) -> dict:\n    raise ValueError(f'no station in {city}')\n"
    ).success
    content, result = _error_round_trip(shell, server, call_deltas())
    assert content == "Error: ValueError: no station in Qingdao"
    assert "Traceback" not in result.stdout + result.stderr
    is_error, summary = tool_blocks(result.last_html)[0]
    assert is_error and "ValueError: no station in Qingdao" in summary
    assert shell.conversation.turns[-1].reply.text == "Sorry about that."


def test_round_limit_stops_with_a_visible_note(shell, server, weather):
    shell.config(max_tool_rounds=2)
    server.enqueue(
        *(tool_reply(*call_deltas(f"call_{n}")) for n in range(3)),
        reply("never requested"),
    )
    result = ask_weather(shell)

    assert len(server.chat_requests) == 3
    assert len(weather) == 2
    assert messages(server, 2)[1:] == [
        {"role": "assistant", "content": None, "tool_calls": [assistant_call("call_0")]},
        tool_message(json.dumps(RESULT), "call_0"),
        {"role": "assistant", "content": None, "tool_calls": [assistant_call("call_1")]},
        tool_message(json.dumps(RESULT), "call_1"),
    ]
    note = "Stopped after 2 tool rounds"
    assert note in result.last_html
    assert note in result.outputs[-1]["text/plain"]
    assert len(tool_blocks(result.last_html)) == 2
    assert shell.conversation.turns[-1].extra == messages(server, 2)[1:]


def test_round_limit_note_in_terminal_mode(shell, server, weather):
    shell.config(max_tool_rounds=1, display="text")
    server.enqueue(*(tool_reply(*call_deltas(f"call_{n}")) for n in range(2)))
    result = ask_weather(shell)
    assert len(server.chat_requests) == 2
    assert "Stopped after 1 tool rounds" in result.stdout


def test_reasoning_of_a_tool_calling_turn_goes_back_but_not_the_final_one(shell, server, weather):
    server.enqueue(
        tool_reply(*call_deltas(), reasoning="I need the weather tool."),
        reply(ANSWER, reasoning="The tool said 21."),
        reply("Bye."),
    )
    ask_weather(shell)
    assert messages(server, 1)[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [assistant_call()],
        "reasoning_content": "I need the weather tool.",
    }
    ask_weather(shell, question="Thanks!")
    later = messages(server, 2)
    assert later[1]["reasoning_content"] == "I need the weather tool."
    assert later[3] == {"role": "assistant", "content": ANSWER}
    assert "The tool said 21." not in json.dumps(server.chat_requests[2].json)


# -- what the user sees --------------------------------------------------------------


def test_call_block_is_collapsed_with_name_arguments_result_and_time(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    html = ask_weather(shell).last_html
    block = re.search(
        r'<details class="gmi-tool"( open)?><summary>(.*?)</summary>(.*?)</details>', html, re.S
    )
    assert block is not None, html
    opened, summary, body = block.groups()
    assert opened is None  # collapsed
    assert re.fullmatch(
        rf"🔧 query_weather\({re.escape('{&quot;city&quot;: &quot;Qingdao&quot;}')}\) · {SECONDS}",
        summary,
    ), summary
    assert body == "<pre>" + json.dumps(RESULT).replace('"', "&quot;") + "</pre>"
    assert html.index('<details class="gmi-tool"') < html.index("21 °C")  # call above answer


def test_call_block_appears_while_the_answer_streams(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(["It is ", "21 °C."]))
    result = ask_weather(shell)
    live = [
        o["text/html"]
        for o in result.outputs[:-1]
        if '<details class="gmi-tool"' in o.get("text/html", "")
    ]
    assert live, "no output showed the call before the answer finished"
    assert "21 °C" not in live[0]


def test_tool_output_and_model_supplied_names_are_escaped(shell, server):
    assert shell.run(
        "def page(city: str) -> str:\n"
        "    return '<script>alert(1)</script><img src=x onerror=alert(2)>'\n"
    ).success
    evil_args = '{"city": "</pre><script>alert(3)</script>"}'
    server.enqueue(
        tool_reply(
            *call_deltas("call_1", "page", evil_args),
            *call_deltas("call_2", "<img src=x onerror=alert(4)>", "{}", index=1),
        ),
        reply("done"),
    )
    result = ask_weather(shell, "--tools page")
    for html in (o.get("text/html", "") for o in result.outputs):
        assert OTHER_TAG.search(html) is None, html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.last_html
    sent = messages(server, 1)
    assert sent[2]["content"] == "<script>alert(1)</script><img src=x onerror=alert(2)>"
    assert sent[3]["content"].startswith("Error: unknown tool '<img src=x onerror=alert(4)>'")


def test_terminal_mode_prints_a_tool_line(shell, server, weather):
    shell.config(display="text")
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    result = ask_weather(shell)
    assert result.outputs == []
    line = f"[tool] query_weather({ARGS}) -> {json.dumps(RESULT)} "
    assert re.search(re.escape(line) + rf"\({SECONDS}\)\n", result.stdout), result.stdout
    assert result.stdout.index("[tool]") < result.stdout.index(ANSWER)


def test_terminal_mode_prints_the_error(shell, server, weather):
    shell.config(display="text")
    arguments = '{"city": "Qingdao", "unit": "K"}'
    server.enqueue(tool_reply(*call_deltas(arguments=arguments)), reply("Sorry."))
    result = ask_weather(shell)
    assert re.search(r"\[tool\] query_weather\(.*\) -> error: invalid arguments", result.stdout)


def test_history_transcript_mentions_the_call(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    ask_weather(shell)
    result = shell.run("%gmi history")
    assert f"*called `query_weather({ARGS})`*" in result.outputs[-1]["text/plain"]


# -- history and failures around the loop ---------------------------------------------


def assert_calls_answered(sent: list[dict[str, Any]]) -> None:
    """Every assistant ``tool_calls`` message is followed by one tool message per call."""
    for i, message in enumerate(sent):
        ids = [c["id"] for c in message.get("tool_calls") or []]
        answered = [m.get("tool_call_id") for m in sent[i + 1 : i + 1 + len(ids)]]
        assert answered == ids, sent


def test_error_on_the_second_request_keeps_history_and_shows_the_call(shell, server, weather):
    shell.config(max_retries=0)
    server.enqueue(tool_reply(*call_deltas()), status(500, "upstream exploded"))
    result = shell.run(f"%%gmi --tools query_weather\n{QUESTION}")
    assert not result.success
    assert "500" in str(result.error)
    assert len(server.chat_requests) == 2
    assert shell.conversation.turns == []
    assert len(tool_blocks(result.last_html)) == 1
    assert 'class="gmi-cursor"' not in result.last_html


def test_interrupt_while_a_tool_runs_finishes_the_display(shell, server):
    """The interrupt button pressed during a slow tool (or at the --confirm prompt)."""
    assert shell.run("def query_weather(city: str):\n    raise KeyboardInterrupt\n").success
    server.enqueue(tool_reply(*call_deltas()), reply("never requested"))
    result = shell.run(f"%%gmi --tools query_weather\n{QUESTION}")
    assert len(server.chat_requests) == 1
    assert result.outputs, "nothing was shown"
    assert 'class="gmi-cursor"' not in result.last_html, "the live reply is left streaming"
    assert "Interrupted" in result.last_html
    server.enqueue(reply("fine"))
    ask_weather(shell, "", question="Still there?")
    sent = messages(server, 1)
    assert sent[-1] == {"role": "user", "content": "Still there?"}
    assert_calls_answered(sent)


def test_stream_error_after_the_tool_ran_keeps_history_as_it_was(shell, server, weather):
    shell.config(max_retries=0)
    server.enqueue(tool_reply(*call_deltas()), sse(chunk("It is 21"), "data: {not json\n\n"))
    result = shell.run(f"%%gmi --tools query_weather\n{QUESTION}")
    assert not result.success
    assert weather == [("Qingdao", "C")]
    assert shell.conversation.turns == []


def test_sigint_during_the_answer_keeps_the_tool_messages(shell, server, weather):
    server.enqueue(
        tool_reply(*call_deltas()),
        reply([f"piece{i} " for i in range(20)], chunk_delay=0.1),
        reply("next"),
    )
    main_id = threading.main_thread().ident
    assert main_id is not None
    timer = threading.Timer(0.35, lambda: signal.pthread_kill(main_id, signal.SIGINT))
    timer.start()
    try:
        result = shell.run(f"%%gmi --tools query_weather\n{QUESTION}")
    finally:
        timer.cancel()
        timer.join()
    assert "piece19" not in result.everything
    turn = shell.conversation.turns[-1]
    assert turn.reply.interrupted and turn.reply.text.startswith("piece0")
    assert turn.extra == messages(server, 1)[1:]
    ask_weather(shell, "", question="Go on")
    sent = messages(server, 2)
    assert sent[:3] == messages(server, 1)
    assert sent[3] == {"role": "assistant", "content": turn.reply.text}
    assert_calls_answered(sent)


def test_no_history_with_tools_leaves_the_conversation_alone(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER), reply("next"))
    ask_weather(shell, "--no-history --tools query_weather")
    assert len(server.chat_requests) == 2
    assert shell.conversation.turns == []
    ask_weather(shell, "", question="Next")
    assert messages(server, 2) == [{"role": "user", "content": "Next"}]


def test_save_and_load_keep_the_tool_messages(shell, server, weather, tmp_path):
    server.enqueue(tool_reply(*call_deltas(), reasoning="Use the tool."), reply(ANSWER))
    ask_weather(shell)
    extra = shell.conversation.turns[-1].extra
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save {path}").success
    assert shell.run("%gmi reset").success
    assert shell.run(f"%gmi load {path}").success
    server.enqueue(reply("again"))
    ask_weather(shell, "", question="And now?")
    assert messages(server, 2) == [
        {"role": "user", "content": QUESTION},
        *extra,
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "And now?"},
    ]
    assert messages(server, 2)[1]["reasoning_content"] == "Use the tool."


def test_retry_offers_the_configured_tools_again(shell, server, weather):
    shell.config(tools=["query_weather"])
    server.enqueue(reply("I cannot know."), tool_reply(*call_deltas()), reply(ANSWER))
    ask_weather(shell, "")
    result = shell.run("%gmi retry")
    assert result.success, result.error
    assert [r.json.get("tools") for r in server.chat_requests] == [[WEATHER_SCHEMA]] * 3
    assert weather == [("Qingdao", "C")]
    assert shell.conversation.turns[-1].reply.text == ANSWER


def test_an_object_with_a_raising_getattr_does_not_break_cells(shell, server):
    """E.g. flask's ``request`` proxy outside a request: ``getattr`` raises RuntimeError."""
    assert shell.run(
        "class Proxy:\n"
        "    def __getattr__(self, name):\n"
        "        raise RuntimeError('Working outside of request context.')\n"
        "request = Proxy()\n"
    ).success
    server.enqueue(reply("hello"))
    result = shell.run("%%gmi\nHi")
    assert result.success, result.error
    assert "tools" not in server.chat_requests[0].json
    assert shell.run("%gmi tools").stdout.startswith("No tools")


# -- --confirm ----------------------------------------------------------------------


@pytest.fixture
def answers(monkeypatch):
    """Monkeypatch ``builtins.input``: pop scripted answers and record the prompts."""
    prompts: list[str] = []
    queue: list[Any] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(builtins, "input", fake_input)
    return queue, prompts


@pytest.mark.parametrize("how", ["option", "config"])
@pytest.mark.parametrize("answer", ["y", "yes", " Y "])
def test_confirm_yes_runs_the_call(shell, server, weather, answers, how, answer):
    queue, prompts = answers
    queue.append(answer)
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    if how == "config":
        shell.config(confirm_tools=True)
        ask_weather(shell)
    else:
        ask_weather(shell, "--confirm --tools query_weather")
    assert weather == [("Qingdao", "C")]
    assert len(prompts) == 1
    assert "query_weather" in prompts[0] and ARGS in prompts[0]
    assert messages(server, 1)[2] == tool_message(json.dumps(RESULT))


@pytest.mark.parametrize("how", ["option", "config"])
@pytest.mark.parametrize("answer", ["n", "", "no way", StdinNotImplementedError("no stdin")])
def test_confirm_no_declines_the_call(shell, server, weather, answers, how, answer):
    queue, prompts = answers
    queue.append(answer)
    server.enqueue(tool_reply(*call_deltas()), reply("OK, I won't."))
    if how == "config":
        shell.config(confirm_tools=True)
        result = ask_weather(shell)
    else:
        result = ask_weather(shell, "--confirm --tools query_weather")
    assert weather == []
    assert len(prompts) == 1
    assert messages(server, 1)[2] == tool_message("Error: the user declined this call.")
    assert "declined" in tool_blocks(result.last_html)[0][1]


def test_confirm_asks_once_per_parallel_call(shell, server, weather, answers):
    queue, prompts = answers
    queue.extend(["y", "n"])
    a = call_deltas("call_a", arguments='{"city": "Qingdao"}')
    b = call_deltas("call_b", arguments='{"city": "Paris"}', index=1)
    server.enqueue(tool_reply(*a, *b), reply("ok"))
    ask_weather(shell, "--confirm --tools query_weather")
    assert weather == [("Qingdao", "C")]
    assert ["Qingdao" in p for p in prompts] == [True, False]
    assert messages(server, 1)[2:] == [
        tool_message(weather_json("Qingdao"), "call_a"),
        tool_message("Error: the user declined this call.", "call_b"),
    ]


def test_without_confirm_input_is_never_called(shell, server, weather, answers):
    _, prompts = answers
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    ask_weather(shell)
    assert prompts == [] and weather == [("Qingdao", "C")]


def test_invalid_calls_are_not_confirmed(shell, server, weather, answers):
    """A call that cannot run is refused before the user is bothered."""
    _, prompts = answers
    server.enqueue(tool_reply(*call_deltas(arguments="{not json")), reply("ok"))
    ask_weather(shell, "--confirm --tools query_weather")
    assert prompts == []
    assert messages(server, 1)[2]["content"].startswith("Error: arguments are not valid JSON")


# -- which tools a cell offers --------------------------------------------------------


DECORATED_SOURCE = '''
from typing import Literal
from gmi_magics.tools.registry import tool

@tool{args}
def query_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Get the weather for a city.

    Args:
        city: The city name, e.g. Beijing.
        unit: Temperature unit.
    """
    return {{"city": city, "temp": 21, "unit": unit}}
'''


def test_gmi_magics_tool_is_the_public_decorator(shell, server):
    """``%gmi tools`` and the issue tell users to write ``@gmi_magics.tool``."""
    assert "tool" in gmi_magics.__all__
    result = shell.run(
        "import gmi_magics\n"
        "@gmi_magics.tool\n"
        "def query_weather(city: str) -> dict:\n"
        "    '''Get the weather for a city.'''\n"
        "    return {'city': city, 'temp': 21}\n"
    )
    assert result.success, result.error
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    ask_weather(shell, "")
    assert server.chat_requests[0].json["tools"][0]["function"]["name"] == "query_weather"


def test_decorated_function_is_offered_without_tools_option(shell, server):
    assert shell.run(DECORATED_SOURCE.format(args="")).success
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    ask_weather(shell, "")
    assert server.chat_requests[0].json["tools"] == [WEATHER_SCHEMA]
    assert messages(server, 1)[2] == tool_message(json.dumps(RESULT))


def test_decorated_function_with_name_and_description_overrides(shell, server):
    source = DECORATED_SOURCE.format(args='(name="weather_now", description="Current weather.")')
    assert shell.run(source).success
    server.enqueue(
        tool_reply(*call_deltas(name="weather_now")),
        reply(ANSWER),
    )
    ask_weather(shell, "")
    schema = {
        "type": "function",
        "function": {
            "name": "weather_now",
            "description": "Current weather.",
            "parameters": WEATHER_PARAMETERS,
        },
    }
    assert server.chat_requests[0].json["tools"] == [schema]
    assert messages(server, 1)[2] == tool_message(json.dumps(RESULT))


def test_decorated_function_also_named_in_tools_is_offered_once(shell, server):
    assert shell.run(DECORATED_SOURCE.format(args='(name="weather_now")')).success
    server.enqueue(reply("no call"))
    ask_weather(shell, "--tools query_weather")
    names = [t["function"]["name"] for t in server.chat_requests[0].json["tools"]]
    assert names == ["weather_now"]


def test_no_tools_means_no_tools_key(shell, server, weather):
    server.enqueue(reply("plain"))
    ask_weather(shell, "")
    assert "tools" not in server.chat_requests[0].json


def test_tools_option_with_two_names(shell, server, weather):
    assert shell.run("def local_time(city: str) -> str:\n    return '09:00'\n").success
    server.enqueue(reply("plain"))
    ask_weather(shell, "--tools query_weather,local_time")
    names = [t["function"]["name"] for t in server.chat_requests[0].json["tools"]]
    assert names == ["query_weather", "local_time"]


def test_tools_trait_offers_the_tool_in_every_cell(shell, server, weather):
    shell.config(tools=["query_weather"])
    server.enqueue(reply("one"), reply("two"))
    ask_weather(shell, "")
    ask_weather(shell, "", question="Again?")
    assert [r.json.get("tools") for r in server.chat_requests] == [[WEATHER_SCHEMA]] * 2


def test_tools_subcommand_prints_schemas(shell, server, weather):
    assert shell.run(DECORATED_SOURCE.format(args='(name="weather_now")')).success
    shell.config(tools=["query_weather"])
    shell.ns["query_weather_plain"] = shell.ns["query_weather"]
    result = shell.run("%gmi tools")
    assert result.success, result.error
    decoder = json.JSONDecoder()
    printed, text = [], result.stdout.strip()
    while text:
        value, end = decoder.raw_decode(text)
        printed.append(value)
        text = text[end:].strip()
    assert [s["function"]["name"] for s in printed] == ["weather_now"]
    assert printed[0]["function"]["parameters"] == WEATHER_PARAMETERS
    assert server.chat_requests == []


def test_tools_subcommand_prints_configured_tools(shell, server, weather):
    shell.config(tools=["query_weather"])
    result = shell.run("%gmi tools")
    assert result.stdout.strip() == json.dumps(WEATHER_SCHEMA, indent=2, ensure_ascii=False)


def test_tools_subcommand_when_there_are_none(shell, server):
    result = shell.run("%gmi tools")
    assert result.success
    assert result.stdout.startswith("No tools")
    assert "@gmi_magics.tool" in result.stdout


@pytest.mark.parametrize(
    ("setup", "options", "expected"),
    [
        ("", "--tools nosuch", "'nosuch'"),
        ("", "--tools query_weather,nosuch", "'nosuch'"),
        ("x = 42", "--tools x", "'x' is a int, not a function"),
        ("text = 'query_weather'", "--tools text", "'text' is a str, not a function"),
    ],
)
def test_bad_tools_option_is_a_usage_error_and_sends_nothing(
    shell, server, weather, setup, options, expected
):
    assert shell.run(setup).success
    result = shell.run(f"%%gmi {options}\n{QUESTION}")
    assert not result.success
    assert isinstance(result.error, UsageError)
    assert expected in str(result.error)
    assert server.chat_requests == []
    assert shell.conversation.turns == []


def test_bad_tools_trait_is_a_usage_error(shell, server):
    shell.config(tools=["nosuch"])
    result = shell.run(f"%%gmi\n{QUESTION}")
    assert isinstance(result.error, UsageError)
    assert "'nosuch'" in str(result.error)
    assert server.chat_requests == []


@pytest.mark.parametrize(
    ("signature", "shown"),
    [("*args", "*args"), ("city: str, **options", "**options"), ("city, /", "positional-only")],
)
def test_unexpressible_signature_is_a_usage_error_at_registration(shell, server, signature, shown):
    assert shell.run(f"def odd({signature}):\n    return 1\n").success
    result = shell.run(f"%%gmi --tools odd\n{QUESTION}")
    assert isinstance(result.error, UsageError)
    message = str(result.error)
    assert "odd" in message and shown in message and "JSON schema" in message
    assert server.chat_requests == []


def test_unexpressible_signature_fails_at_decoration(shell, server):
    result = shell.run(
        "from gmi_magics.tools.registry import tool\n@tool\ndef odd(*args):\n    return 1\n"
    )
    assert not result.success
    assert "*args" in str(result.error)
    assert "odd" not in shell.ns


# -- results the model reads ----------------------------------------------------------


def test_dataframe_result_is_serialised_compactly(shell, server):
    pd = pytest.importorskip("pandas")
    assert shell.run(
        "import pandas as pd\n"
        "def readings(city: str):\n"
        "    '''Hourly readings.'''\n"
        "    temps = [20.5 + h % 7 for h in range(500)]\n"
        "    return pd.DataFrame({'hour': range(500), 'temp': temps})\n"
    ).success
    server.enqueue(tool_reply(*call_deltas(name="readings")), reply("ok"))
    ask_weather(shell, "--tools readings")
    content = messages(server, 1)[2]["content"]
    lines = content.splitlines()
    assert lines[:2] == ["DataFrame: 500 rows × 2 columns", "columns: hour (int64), temp (float64)"]
    assert "| 0 | 0 | 20.5 |" in lines and "| 9 | 9 | 22.5 |" in lines
    assert "| 10 | 10 |" not in content  # only the head
    assert lines[-1] == "… 490 more rows"
    frame = shell.ns["readings"]("x")
    assert isinstance(frame, pd.DataFrame)
    assert len(content) < 1000 < len(frame.to_json())


# -- the same loop from plain Python ---------------------------------------------------


def query_weather(city: str, unit: Any = "C") -> dict[str, Any]:
    """Get the weather for a city."""
    return {"city": city, "temp": 21, "unit": unit}


def test_python_api_runs_the_same_loop(server):
    seen = []
    with GMIClient() as client:
        chat = Conversation(client, tools=[query_weather])
        answer = chat.send("weather in Qingdao?", on_tool=seen.append)
    assert len(server.chat_requests) == 2
    first, second = (r.json for r in server.chat_requests)
    assert [t["function"]["name"] for t in first["tools"]] == ["query_weather"]
    assert first["messages"] == [{"role": "user", "content": "weather in Qingdao?"}]
    call_id = second["messages"][1]["tool_calls"][0]["id"]
    assert second["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": [assistant_call(call_id)]},
        tool_message(json.dumps(RESULT), call_id),
    ]
    assert [r.output for r in seen] == [json.dumps(RESULT)]
    assert "Qingdao" in answer.text
    assert chat.turns[-1].extra == second["messages"][1:]


def test_python_api_tools_per_send(server):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    with GMIClient() as client:
        chat = Conversation(client)
        answer = chat.send(QUESTION, tools=[query_weather])
        assert answer.text == ANSWER
        chat.send("plain")
    assert "tools" in server.chat_requests[0].json
    assert "tools" not in server.chat_requests[2].json
    assert messages(server, 2)[1:3] == [
        {"role": "assistant", "content": None, "tool_calls": [assistant_call()]},
        tool_message(json.dumps(RESULT)),
    ]


def test_a_thread_can_have_default_tools(shell, server):
    shell.run(WEATHER_SOURCE)
    result = shell.run("%gmi tools --chat weather query_weather")
    assert result.success and "query_weather" in result.stdout
    server.enqueue(reply("no tools needed"), reply("plain"))
    shell.run("%%gmi --chat weather\nAnything")
    assert [t["function"]["name"] for t in server.last_request.json["tools"]] == ["query_weather"]
    shell.run("%%gmi\nIn the default thread")
    assert "tools" not in server.last_request.json
    shell.run("%gmi tools --chat weather none")
    assert shell.magics.session.thread_tools["weather"] == []


def test_setting_unknown_default_tools_is_refused(shell, server):
    result = shell.run("%gmi tools --chat x nosuch")
    assert not result.success and "nosuch" in result.everything
    assert "x" not in shell.magics.session.thread_tools


# -- hardening: caps, prompts, retry --------------------------------------------------


def test_at_most_16_tool_calls_run_in_one_round(shell, server, weather):
    many = [d for i in range(40) for d in call_deltas(f"call_{i}", index=i, pieces=1)]
    server.enqueue(tool_reply(*many), reply("done"))
    ask_weather(shell)
    assert len(weather) == 16
    sent = messages(server, 1)
    not_run = [m for m in sent if m["role"] == "tool" and "not run" in m["content"]]
    assert len(not_run) == 24, "every call still gets an answer, in order"


@pytest.mark.parametrize("arguments", ['{"city": "Qing\\rdao"}', '{"city": "\\u001b[2J"}'])
def test_confirm_prompt_is_one_printable_line(shell, server, weather, answers, arguments):
    queue, prompts = answers
    queue.append("n")
    server.enqueue(tool_reply(*call_deltas(arguments=arguments)), reply("ok"))
    ask_weather(shell, "--confirm --tools query_weather")
    [prompt] = prompts
    assert prompt.startswith("Run query_weather(")
    assert all(c.isprintable() for c in prompt), repr(prompt)


def test_retry_asks_again_before_running_a_confirmed_tool(shell, server, weather, answers):
    queue, prompts = answers
    queue.extend(["n", "n"])
    server.enqueue(tool_reply(*call_deltas()), reply("declined"))
    ask_weather(shell, "--confirm --tools query_weather")
    server.enqueue(tool_reply(*call_deltas()), reply("declined again"))
    result = shell.run("%gmi retry")
    assert result.success, result.error
    assert weather == [], "a declined call must not run on retry without asking"
    assert len(prompts) == 2


def test_retry_that_fails_before_sending_keeps_the_turn(shell, server, weather):
    server.enqueue(tool_reply(*call_deltas()), reply(ANSWER))
    ask_weather(shell)
    shell.run("query_weather = 42")  # the tool's name reused for data
    before = [(t.user, t.reply.text) for t in shell.conversation.turns]
    result = shell.run("%gmi retry")
    assert not result.success
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == before
