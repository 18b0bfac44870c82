"""Encoding a stand-in ``Reply`` for the wire: the whole completion, or its stream of
chunks (usage included as the script asks)."""

from __future__ import annotations

import json
import time
from typing import Any

from .chat.content import image_tokens, part_url, url_image_size
from .standin_canned import message_text
from .standin_scripts import DONE, KEEPALIVE, SSE, Delay, Reply, SSEItem

__all__ = ["completion", "merge_tool_calls", "reply_stream"]


def merge_tool_calls(fragments: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Merge streamed tool-call fragments by ``index`` into full calls."""
    calls: dict[int, dict[str, Any]] = {}
    for fragment in fragments:
        _merge_into(calls.setdefault(int(fragment.get("index", 0)), {}), fragment)
    return [{k: v for k, v in calls[i].items() if k != "index"} for i in sorted(calls)]


def _merge_into(target: dict[str, Any], fragment: dict[str, Any]) -> None:
    for key, value in fragment.items():
        old = target.get(key)
        if value is None:
            continue
        if isinstance(value, dict):
            _merge_into(target.setdefault(key, {}), value)
        elif isinstance(value, str) and isinstance(old, str) and key not in ("id", "type"):
            target[key] = old + value
        else:
            target[key] = value


def _prompt_words(body: dict[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # parts: words of the text, images by their size
            total += len(message_text(content).split())
            total += sum(image_tokens(url_image_size(part_url(p) or "")) for p in content)
        elif content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            total += len(text.split())
    return total


def _usage_for(script: Reply, body: dict[str, Any]) -> dict[str, Any] | None:
    if script.usage_mode == "none" or script.usage is None:
        return None
    if script.usage != "auto":
        return script.usage
    prompt = _prompt_words(body)
    completion = len(script.text) + len(script.reasoning)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion(script: Reply, body: dict[str, Any], model: str) -> dict[str, Any]:
    text, reasoning = "".join(script.text), "".join(script.reasoning)
    calls = merge_tool_calls(script.tool_calls)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or (None if calls else ""),
    }
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": script.finish_reason}
    out: dict[str, Any]
    out = {**_envelope("chat.completion", model), "choices": [choice]}
    usage = _usage_for(script, body)
    if usage is not None:
        out["usage"] = usage
    return out


def _envelope(kind: str, model: str) -> dict[str, Any]:
    created = int(time.time())
    return {
        "id": "chatcmpl-standin",
        "object": kind,
        "created": created,
        "model": model,
    }


def _stream_chunks(script: Reply, body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """Every chunk of a streamed reply, in order."""
    steps: list[tuple[dict[str, Any], str | None]] = [({"role": "assistant"}, None)]
    steps += [({"reasoning_content": piece}, None) for piece in script.reasoning]
    steps += [({"content": piece}, None) for piece in script.text]
    steps += [({"tool_calls": [call]}, None) for call in script.tool_calls]
    if script.finish_reason is not None:
        steps.append(({}, script.finish_reason))
    choices = [
        [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]
        for delta, reason in steps
    ]
    base = _envelope("chat.completion.chunk", model)
    out = [{**base, "choices": c} for c in choices]
    usage = _usage_for(script, body)
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    if usage is not None and script.usage_mode == "last" and script.finish_reason is not None:
        out[-1]["usage"] = usage
    elif usage is not None and script.usage_mode == "separate" and include:
        out.append({**base, "choices": [], "usage": usage})
    return out


def reply_stream(script: Reply, body: dict[str, Any], model: str) -> SSE:
    """A streamed reply as the raw stream that is written for it."""
    items: list[SSEItem] = [KEEPALIVE] * script.keepalives
    for index, data in enumerate(_stream_chunks(script, body, model)):
        if index and script.chunk_delay:
            items.append(Delay(script.chunk_delay))
        items.append(data)
    return SSE(tuple(items) + ((DONE,) if script.done else ()))
