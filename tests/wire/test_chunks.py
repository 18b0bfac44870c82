"""Event data → deltas (gmi_magics.wire.chunks): the learned envelope reads a chunk
exactly as the whole way does, and text read together is joined."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from helpers import DEFAULT_MODEL, HELLO

from gmi_magics.errors import StreamError
from gmi_magics.testing import StandInServer, reply
from gmi_magics.wire.chunks import ChunkReader
from gmi_magics.wire.client import GMIClient

KEY = "chunks-test-secret-0123456789"
TEXTS = [
    "tok ", "a", "", 'say "hi"', "back\\slash", "new\nline", "tab\t", "é中😀", "\u2028",
    "\x7f", "gmi-probe", "{", "}", ":", '","', "chatcmpl-1", "m", "null", " ", "\u00a0",
    f"part of {KEY}",
]  # fmt: skip


def _chunk(rng: random.Random, stable: bool) -> str:
    """One chunk's JSON; ``stable``: mostly the same envelope around plain text."""
    kind = 0.1 if stable and rng.random() < 0.8 else rng.random()
    delta: dict[str, Any] = {}
    if kind < 0.6:
        delta["content"] = rng.choice(TEXTS)
    elif kind < 0.75:
        delta["reasoning_content"] = rng.choice(TEXTS)
    elif kind < 0.8:
        delta["tool_calls"] = [{"index": 0, "function": {"arguments": rng.choice(TEXTS)}}]
    elif kind < 0.85:
        delta.update(content=rng.choice(TEXTS), reasoning_content=rng.choice(TEXTS))
    finish = "stop" if rng.random() < 0.03 else None
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    varied = not stable or rng.random() < 0.05
    chunk: dict[str, Any] = {
        "id": rng.choice(["chatcmpl-1", "tok ", "a"]) if varied else "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": rng.randint(0, 3) if varied else 1,
        "model": rng.choice(["m", "other", "tok "]) if varied else "m",
        "choices": [choice],
    }
    if rng.random() < 0.03:
        chunk["usage"] = {"prompt_tokens": 1, "completion_tokens": 2}
    separators = (", ", ": ") if varied and rng.random() < 0.5 else (",", ":")
    text = json.dumps(chunk, separators=separators, ensure_ascii=varied and rng.random() < 0.5)
    twist = rng.random()
    if twist < 0.01:
        return text[:-3]  # malformed
    if twist < 0.02:
        return text.replace('"content"', '"content":"dup","content"', 1)
    return text


def _read(reader: ChunkReader, groups: list[list[str]]) -> list[Any]:
    out: list[Any] = []
    for group in groups:
        try:
            out.extend(reader.deltas(group))
        except StreamError as error:
            return [*out, ("error", error.message)]
    return out


@pytest.mark.parametrize("stable", [True, False], ids=["one-envelope", "varied"])
def test_the_learned_envelope_reads_every_chunk_as_the_whole_way_does(stable: bool) -> None:
    learned = 0
    for seed in range(400):
        rng = random.Random(seed)
        chunks = [_chunk(rng, stable) for _ in range(rng.randint(1, 40))]
        groups, at = [], 0
        while at < len(chunks):
            size = rng.randint(1, 8)
            groups.append(chunks[at : at + size])
            at += size
        fast, whole = ChunkReader(KEY), ChunkReader(KEY, learn=False)  # whole: every chunk
        assert _read(fast, groups) == _read(whole, groups), seed
        learned += fast.learned
    assert learned > 100  # the fast path was taken, not just the whole way


ENVELOPE = (
    '{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}'
)


@pytest.mark.parametrize(
    "inside",
    [
        'a"},"finish_reason":"stop","x":{"content":"b',  # a quote: fields smuggled in
        "a\\u0022b",  # an escape
        "line\\nbreak",
        "tab\there",  # a raw control character: not JSON
    ],
)
def test_a_chunk_that_only_looks_like_the_envelope_goes_the_whole_way(inside: str) -> None:
    fast = ChunkReader(KEY)
    list(fast.deltas([ENVELOPE % "tok"]))
    assert fast.learned
    whole = ChunkReader(KEY, learn=False)
    assert _read(fast, [[ENVELOPE % inside]]) == _read(whole, [[ENVELOPE % inside]])


def test_text_with_quotes_escapes_and_tags_streams_intact(server: StandInServer) -> None:
    pieces = ["<think>", "plan", "</think>", 'He said "hi"', "\\", "\n", "é中😀", " done"]
    server.enqueue(reply(pieces))
    with GMIClient(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert "".join(d.content for d in deltas) == "".join(pieces)
