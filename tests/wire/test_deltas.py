"""Wire chunks → Delta → Reply (gmi_magics.wire.deltas): pure, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from gmi_magics.errors import StreamError
from gmi_magics.testing import chunk
from gmi_magics.types import Delta, ToolCall, ToolCallDelta, Usage
from gmi_magics.wire.deltas import ReplyBuilder, ThinkSplitter, parse_chunk

USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}


def _delta(**fields: Any) -> dict[str, Any]:
    """A chunk whose single choice carries exactly ``fields`` in its delta."""
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": fields, "finish_reason": None}],
    }


# -- parse_chunk ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(chunk("Hel"), Delta(content="Hel", model="stand-in"), id="content"),
        pytest.param(
            chunk(reasoning="hmm"),
            Delta(reasoning="hmm", model="stand-in"),
            id="reasoning_content",
        ),
        pytest.param(_delta(reasoning="hmm"), Delta(reasoning="hmm"), id="reasoning"),
        pytest.param(
            _delta(reasoning_content="a", reasoning="b"),
            Delta(reasoning="a"),
            id="reasoning_content-wins-over-reasoning",
        ),
        pytest.param(_delta(role="assistant", content=None), Delta(), id="role-only-null-content"),
        pytest.param(
            chunk(finish_reason="stop"),
            Delta(finish_reason="stop", model="stand-in"),
            id="finish_reason",
        ),
        pytest.param(
            chunk(finish_reason="length"),
            Delta(finish_reason="length", model="stand-in"),
            id="finish_reason-length",
        ),
        pytest.param(
            chunk(usage=USAGE, empty_choices=True),
            Delta(usage=Usage(11, 5, 16), model="stand-in"),
            id="usage-separate-empty-choices",
        ),
        pytest.param(
            chunk("!", finish_reason="stop", usage=USAGE),
            Delta(content="!", finish_reason="stop", usage=Usage(11, 5, 16), model="stand-in"),
            id="usage-on-last-chunk",
        ),
        pytest.param(
            {**_delta(content="x", brand_new_field=1), "system_fingerprint": "fp", "extra": {}},
            Delta(content="x"),
            id="unknown-keys-ignored",
        ),
        pytest.param(
            {
                "object": "chat.completion",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "whole"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": USAGE,
            },
            Delta(content="whole", finish_reason="stop", usage=Usage(11, 5, 16), model="m"),
            id="non-streamed-message",
        ),
        pytest.param({"choices": []}, Delta(), id="empty-choices-no-usage"),
    ],
)
def test_parse_chunk_table(obj: dict[str, Any], expected: Delta) -> None:
    assert parse_chunk(obj) == expected


def test_parse_chunk_usage_details() -> None:
    usage = {
        **USAGE,
        "completion_tokens_details": {"reasoning_tokens": 3},
        "prompt_tokens_details": {"cached_tokens": 8},
    }
    delta = parse_chunk(chunk(usage=usage, empty_choices=True))
    assert delta.usage == Usage(11, 5, 16, reasoning_tokens=3, cached_tokens=8)
    assert (delta.content, delta.reasoning, delta.finish_reason) == ("", "", None)


def test_parse_chunk_tool_call_start_and_continuation() -> None:
    start = parse_chunk(
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        )
    )
    assert start.tool_calls == (ToolCallDelta(index=0, id="call_1", name="get_weather"),)
    more = parse_chunk(
        chunk(tool_calls=[{"index": 0, "id": None, "function": {"arguments": '{"ci'}}])
    )
    assert more.tool_calls == (ToolCallDelta(index=0, id=None, name=None, arguments='{"ci'),)


def test_parse_chunk_tool_calls_keep_their_index() -> None:
    delta = parse_chunk(
        chunk(
            tool_calls=[
                {"index": 1, "function": {"arguments": "{}"}},
                {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}},
            ]
        )
    )
    assert [call.index for call in delta.tool_calls] == [1, 0]
    assert delta.tool_calls[1].id == "a"


@pytest.mark.parametrize(
    ("obj", "words"),
    [
        pytest.param(
            {"error": {"message": "Upstream overloaded", "code": 503}},
            "Upstream overloaded",
            id="error-object",
        ),
        pytest.param({"error": "quota gone"}, "quota gone", id="error-string"),
        pytest.param(
            {"object": "error", "message": "context too long", "code": 400},
            "context too long",
            id="object-error",
        ),
        pytest.param({"object": "error"}, "mid-reply", id="object-error-no-message"),
    ],
)
def test_parse_chunk_error_events_raise(obj: dict[str, Any], words: str) -> None:
    with pytest.raises(StreamError, match=words):
        parse_chunk(obj)


@pytest.mark.parametrize("obj", [None, [], ["x"], "data", 3, 2.5, True])
def test_parse_chunk_non_object_raises(obj: Any) -> None:
    with pytest.raises(StreamError, match="not a JSON object"):
        parse_chunk(obj)


# -- ThinkSplitter -------------------------------------------------------------------

THINK_CASES = [
    ("<think>plan it</think>The answer.", "The answer.", "plan it"),
    ("\n<think>\nstep 1\nstep 2\n</think>\n\nDone", "\n\n\nDone", "\nstep 1\nstep 2\n"),
    # only a leading span is reasoning: a reply that mentions the tag keeps it
    ("Before <think>x</think> after", "Before <think>x</think> after", ""),
    ("<think>r</think>Use <think> tags", "Use <think> tags", "r"),
    ("a < b and c <th d", "a < b and c <th d", ""),
    ("<<think>r</think>>", "<<think>r</think>>", ""),
    ("<think>unclosed reasoning", "", "unclosed reasoning"),
    ("no tags at all", "no tags at all", ""),
]


def _split_all(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    content, reasoning = [], []
    for piece in pieces:
        c, r = splitter.split(piece)
        content.append(c)
        reasoning.append(r)
    c, r = splitter.flush()
    return "".join([*content, c]), "".join([*reasoning, r])


@pytest.mark.parametrize(("text", "content", "reasoning"), THINK_CASES)
def test_think_splitter_whole(text: str, content: str, reasoning: str) -> None:
    assert _split_all([text]) == (content, reasoning)


@pytest.mark.parametrize(("text", "content", "reasoning"), THINK_CASES)
def test_think_splitter_every_split_point(text: str, content: str, reasoning: str) -> None:
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            pieces = [text[:i], text[i:j], text[j:]]
            assert _split_all(pieces) == (content, reasoning), pieces


@pytest.mark.parametrize(("text", "content", "reasoning"), THINK_CASES)
def test_think_splitter_one_character_at_a_time(text: str, content: str, reasoning: str) -> None:
    assert _split_all(list(text)) == (content, reasoning)


def test_think_splitter_holds_back_a_partial_tag_only() -> None:
    splitter = ThinkSplitter()
    assert splitter.split("\n<thi") == ("\n", "")
    assert splitter.split("nk>r") == ("", "r")
    assert splitter.split("ea</th") == ("", "ea")
    assert splitter.split("ink>ok") == ("ok", "")
    assert splitter.flush() == ("", "")


# -- ReplyBuilder --------------------------------------------------------------------


def _build(*deltas: Delta, model: str = "m", **kwargs: Any) -> Any:
    builder = ReplyBuilder(model)
    for delta in deltas:
        builder.add(delta)
    return builder.build(**kwargs)


def test_builder_joins_and_strips_text_and_reasoning() -> None:
    reply = _build(
        Delta(reasoning="  think "),
        Delta(reasoning="more\n"),
        Delta(content="\n\n Hello"),
        Delta(content=", world \n"),
        Delta(finish_reason="stop"),
    )
    assert reply.text == "Hello, world"
    assert reply.reasoning == "think more"
    assert reply.finish_reason == "stop"
    assert reply.model == "m"
    assert not reply.interrupted


def test_builder_keeps_usage_and_model_from_later_chunks() -> None:
    usage = Usage(3, 4, 7)
    reply = _build(
        Delta(content="x", model="served/model"),
        Delta(finish_reason="stop"),
        Delta(usage=usage),
        Delta(content=""),
        latency=1.5,
    )
    assert reply.usage == usage
    assert reply.model == "served/model"
    assert reply.latency == 1.5
    assert reply.finish_reason == "stop"


def test_builder_moves_inline_think_to_reasoning_and_returns_normalised_deltas() -> None:
    builder = ReplyBuilder("m")
    seen = [builder.add(Delta(content=p)) for p in ["<thi", "nk>plan</thi", "nk>Answer"]]
    assert "".join(d.content for d in seen) == "Answer"
    assert "".join(d.reasoning for d in seen) == "plan"
    reply = builder.build()
    assert (reply.text, reply.reasoning) == ("Answer", "plan")


def test_builder_merges_tool_call_fragments_by_index() -> None:
    reply = _build(
        Delta(tool_calls=(ToolCallDelta(0, id="call_a", name="get_weather"),)),
        Delta(tool_calls=(ToolCallDelta(0, arguments='{"city"'),)),
        Delta(tool_calls=(ToolCallDelta(0, arguments=': "Qingdao"}'),)),
        Delta(finish_reason="tool_calls"),
    )
    assert reply.tool_calls == (ToolCall("call_a", "get_weather", '{"city": "Qingdao"}'),)
    assert reply.finish_reason == "tool_calls"


def test_builder_null_id_and_name_on_continuation_never_overwrite() -> None:
    start = parse_chunk(chunk(tool_calls=[{"index": 0, "id": "call_x", "function": {"name": "f"}}]))
    cont = parse_chunk(
        chunk(tool_calls=[{"index": 0, "id": None, "function": {"name": None, "arguments": "{}"}}])
    )
    empty = parse_chunk(
        chunk(tool_calls=[{"index": 0, "id": "", "function": {"name": "", "arguments": ""}}])
    )
    assert _build(start, cont, empty).tool_calls == (ToolCall("call_x", "f", "{}"),)


def test_builder_whole_call_in_one_delta() -> None:
    delta = parse_chunk(
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
            finish_reason="tool_calls",
        )
    )
    assert _build(delta).tool_calls == (ToolCall("call_1", "add", '{"a": 1, "b": 2}'),)


def test_builder_parallel_calls_interleaved() -> None:
    reply = _build(
        Delta(tool_calls=(ToolCallDelta(0, id="a", name="weather"),)),
        Delta(tool_calls=(ToolCallDelta(1, id="b", name="time"),)),
        Delta(tool_calls=(ToolCallDelta(1, arguments='{"tz":'),)),
        Delta(tool_calls=(ToolCallDelta(0, arguments='{"city":'),)),
        Delta(
            tool_calls=(ToolCallDelta(0, arguments='"Oslo"}'), ToolCallDelta(1, arguments='"UTC"}'))
        ),
    )
    assert reply.tool_calls == (
        ToolCall("a", "weather", '{"city":"Oslo"}'),
        ToolCall("b", "time", '{"tz":"UTC"}'),
    )


def test_builder_calls_sorted_by_index_and_missing_id_gets_one() -> None:
    reply = _build(
        Delta(tool_calls=(ToolCallDelta(1, name="second", arguments="{}"),)),
        Delta(tool_calls=(ToolCallDelta(0, id="first_id", name="first", arguments="{}"),)),
    )
    assert [c.name for c in reply.tool_calls] == ["first", "second"]
    assert reply.tool_calls[0].id == "first_id"
    assert reply.tool_calls[1].id  # a stable placeholder id, never empty


def test_builder_partial_build_when_interrupted() -> None:
    builder = ReplyBuilder("m")
    builder.add(Delta(reasoning="half a thought"))
    builder.add(Delta(content="Partial ans"))
    builder.add(Delta(content="wer <th"))  # a partial tag held back mid-stream
    reply = builder.build(latency=0.25, interrupted=True)
    assert reply.interrupted
    assert reply.text == "Partial answer <th"
    assert reply.reasoning == "half a thought"
    assert reply.finish_reason is None
    assert reply.usage is None
    assert reply.latency == 0.25


def test_builder_partial_inside_think() -> None:
    builder = ReplyBuilder("m")
    builder.add(Delta(content="<think>still thinking </"))
    reply = builder.build(interrupted=True)
    assert (reply.text, reply.reasoning) == ("", "still thinking </")


def test_builder_text_property_tracks_content_so_far() -> None:
    builder = ReplyBuilder()
    builder.add(Delta(content="<think>r</think>ab"))
    builder.add(Delta(content="c"))
    assert builder.text == "abc"
