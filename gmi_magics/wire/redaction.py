"""Keeping the API key out of replies, recordings and logs.

A model may repeat the key (in content, reasoning, tool arguments or the ``model``
field), split across chunks anywhere.  ``ChunkScrubber`` redacts it from wire chunks
as they arrive, holding back a tail that could be the start of the key until the
next chunk rules it out.  ``ScrubbingTransport`` does the same to the bytes the
record/replay cache saves, and ``install_log_filter`` to httpcore's DEBUG log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from ..jsonsafe import loads_bounded
from ..settings import DEFAULT_MAX_REPLY_BYTES
from ..text import MIN_EDGE_FRAGMENT, MIN_FRAGMENT, REDACTED, redact
from ..types import Delta, ToolCallDelta
from .limits import WIRE_FACTOR
from .sse import SSEDecoder

TEXT_FIELDS = ("content", "reasoning_content", "reasoning")
LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


class TextScrubber:
    """Redacts the key from text arriving in pieces (one feed per streamed token)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.held = ""
        self._most = len(secret) - 1  # longest tail ever held
        self._fragment = min(MIN_FRAGMENT, self._most)  # shortest text ``redact`` may change
        self._starts: dict[str, list[int]] = {}  # last char -> key-start lengths ending in it
        for size in range(min(MIN_EDGE_FRAGMENT - 1, self._most), 0, -1):
            self._starts.setdefault(secret[size - 1], []).append(size)

    def feed(self, text: str) -> str:
        """The part of ``held + text`` that is safe to show now."""
        pending = self.held + text if self.held else text
        if self.secret in pending:
            pending = pending.replace(self.secret, REDACTED)
        keep = self._tail(pending)
        if keep:
            self.held, pending = pending[-keep:], pending[:-keep]
        else:
            self.held = ""
        return redact(pending, self.secret) if len(pending) >= self._fragment else pending

    def flush(self) -> str:
        """The held tail at the end: redacted when it may be the cut-off key."""
        held, self.held = self.held, ""
        return REDACTED if len(held) >= MIN_EDGE_FRAGMENT else held

    def _tail(self, text: str) -> int:
        """How much of the end of ``text`` to hold back: a possible start of the key.

        That is the longest end that is any part of the key of ``MIN_EDGE_FRAGMENT``
        or more characters, else the longest end that begins the key; ordinary text
        is rarely held.
        """
        secret, edge = self.secret, MIN_EDGE_FRAGMENT
        if self._most >= edge and len(text) >= edge and text[-edge:] in secret:
            size = edge
            while size < min(self._most, len(text)) and text[-size - 1 :] in secret:
                size += 1
            return size
        for size in self._starts.get(text[-1:], ()):
            if text.endswith(secret[:size]):
                return size
        return 0


class DeltaScrubber:
    """Redacts the key from a stream's deltas (what ``parse_chunk`` read of choice 0).

    The hot path of every streamed reply: three text streams (content, reasoning,
    each tool call's arguments) are held back as ``TextScrubber`` does; the model id
    is redacted once; a delta with a finish reason releases everything held.
    """

    def __init__(self, secret: str | None) -> None:
        self.secret = secret if secret and len(secret) >= MIN_EDGE_FRAGMENT else None
        self._content = TextScrubber(self.secret or "")
        self._reasoning = TextScrubber(self.secret or "")
        self._arguments: dict[int, TextScrubber] = {}
        self._model = ("", "")

    def scrub(self, delta: Delta, *, final: bool = False) -> Delta:
        """``delta`` with the key redacted; held text is released at its finish
        reason, or with ``final`` (a whole, non-streamed reply)."""
        if self.secret is None:
            return delta
        content, reasoning, calls, finish, usage, model = delta
        safe_content = self._content.feed(content) if content else content
        safe_reasoning = self._reasoning.feed(reasoning) if reasoning else reasoning
        safe_calls = self._calls(calls) if calls else calls
        safe_model = self._safe_model(model) if model is not None else None
        if (safe_content, safe_reasoning, safe_calls, safe_model) != (
            content,
            reasoning,
            calls,
            model,
        ):
            delta = Delta(safe_content, safe_reasoning, safe_calls, finish, usage, safe_model)
        return delta if finish is None and not final else self._released(delta)

    def _safe_model(self, model: str) -> str:
        """The model id redacted (the same id comes in every chunk: redacted once)."""
        if model != self._model[0]:
            self._model = (model, redact(model, self.secret))
        return self._model[1]

    def tail(self) -> Delta | None:
        """A delta carrying whatever is still held (the stream ended without a finish)."""
        if not (self._content.held or self._reasoning.held) and not any(
            s.held for s in self._arguments.values()
        ):
            return None
        return self._released(Delta())

    def _calls(self, calls: tuple[ToolCallDelta, ...]) -> tuple[ToolCallDelta, ...]:
        secret = self.secret or ""
        out = []
        for call in calls:
            scrubber = self._arguments.get(call.index)
            if scrubber is None:
                scrubber = self._arguments[call.index] = TextScrubber(secret)
            out.append(
                ToolCallDelta(
                    index=call.index,
                    id=redact(call.id, secret) if call.id else call.id,
                    name=redact(call.name, secret) if call.name else call.name,
                    arguments=scrubber.feed(call.arguments) if call.arguments else "",
                )
            )
        return tuple(out)

    def _released(self, delta: Delta) -> Delta:
        """``delta`` plus every held tail (redacted when it may be a cut-off key)."""
        calls = list(delta.tool_calls)
        for index, scrubber in self._arguments.items():
            if scrubber.held:  # after this delta's own part of the call: merged in order
                calls.append(ToolCallDelta(index=index, arguments=scrubber.flush()))
        return delta._replace(
            content=delta.content + self._content.flush(),
            reasoning=delta.reasoning + self._reasoning.flush(),
            tool_calls=tuple(calls),
        )


class ChunkScrubber:
    """Redacts the key from ``chat.completion(.chunk)`` dicts, in place."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret if secret and len(secret) >= MIN_EDGE_FRAGMENT else None
        self._text: dict[tuple[Any, ...], TextScrubber] = {}
        self._model = ("", "")

    def scrub(self, obj: Any, *, final: bool = False) -> Any:
        """``obj`` with the key redacted; ``final`` releases everything held."""
        if self.secret is None or not isinstance(obj, dict):
            return obj
        model = obj.get("model")
        if isinstance(model, str):  # the same id in every chunk: redacted once
            if model != self._model[0]:
                self._model = (model, redact(model, self.secret))
            obj["model"] = self._model[1]
        choices = obj.get("choices")
        for position, choice in enumerate(choices if isinstance(choices, list) else ()):
            if isinstance(choice, dict):
                index = choice.get("index")
                last = final or bool(choice.get("finish_reason"))
                self._choice(index if isinstance(index, int) else position, choice, last)
        return obj

    def tail(self) -> dict[str, Any] | None:
        """A chunk carrying whatever is still held (the stream ended without a finish)."""
        if self.secret is None or not any(s.held for s in self._text.values()):
            return None
        indexes = sorted({key[0] for key, s in self._text.items() if s.held})
        chunk: dict[str, Any] = {"choices": [{"index": i, "delta": {}} for i in indexes]}
        self.scrub(chunk, final=True)
        return chunk

    def _choice(self, index: int, choice: dict[str, Any], final: bool) -> None:
        for name in ("delta", "message"):
            if isinstance(choice.get(name), dict):
                self._part(index, choice[name], final)
                return
        if final and any(key[0] == index and s.held for key, s in self._text.items()):
            choice["delta"] = {}
            self._part(index, choice["delta"], final)

    def _part(self, index: int, part: dict[str, Any], final: bool) -> None:
        for name in TEXT_FIELDS:
            value = part.get(name)
            if value or final:  # the hot path: most chunks carry one field
                self._field(part, name, (index, name), value, final)
        calls = part.get("tool_calls")
        if not calls and not final:
            return
        calls = calls if isinstance(calls, list) else []
        seen = set()
        for position, call in enumerate(calls):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                call["id"] = redact(call["id"], self.secret)
            if isinstance(function, dict):
                if isinstance(function.get("name"), str):
                    function["name"] = redact(function["name"], self.secret)
                number = call.get("index", position)
                seen.add(number)
                key = (index, "tool", number)
                self._field(function, "arguments", key, function.get("arguments"), final)
        if final:
            self._flush_tools(index, part, calls, seen)

    def _field(
        self, where: dict[str, Any], name: str, key: tuple[Any, ...], value: Any, final: bool
    ) -> None:
        scrubber = self._text.get(key)
        if isinstance(value, str) and value:
            scrubber = self._text.setdefault(key, TextScrubber(self.secret or ""))
            value = scrubber.feed(value)
        if final and scrubber is not None and scrubber.held:
            value = (value if isinstance(value, str) else "") + scrubber.flush()
        if isinstance(value, str):
            where[name] = value

    def _flush_tools(
        self, index: int, part: dict[str, Any], calls: list[Any], seen: set[Any]
    ) -> None:
        for key, scrubber in self._text.items():
            if key[0] == index and key[1] == "tool" and key[2] not in seen and scrubber.held:
                held = scrubber.flush()
                calls.append({"index": key[2], "function": {"arguments": held}})
                part["tool_calls"] = calls


class ScrubbingTransport(httpx.BaseTransport):
    """Redacts the key from successful response bodies (below the record/replay cache)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        secret: str | None,
        before_sending: Callable[[], None] | None = None,
    ) -> None:
        self.inner = inner
        self.secret = secret
        self.before_sending = before_sending  # e.g. fail early when a key is needed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.before_sending is not None:
            self.before_sending()
        response = self.inner.handle_request(request)
        encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
        if not self.secret or response.status_code != 200 or encoded:
            return response
        if "text/event-stream" in response.headers.get("content-type", ""):
            stream: httpx.SyncByteStream = _ScrubbedEvents(response.stream, self.secret)
        else:
            stream = _ScrubbedBody(response.stream, self.secret)
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-length"]
        return httpx.Response(response.status_code, headers=headers, stream=stream)

    def close(self) -> None:
        self.inner.close()


class _Passing(httpx.SyncByteStream):
    def __init__(self, stream: Any, secret: str) -> None:
        self._stream = stream
        self.secret = secret

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _ScrubbedBody(_Passing):
    """A whole body, redacted once complete (JSON replies are small)."""

    def __iter__(self) -> Iterator[bytes]:
        body = b"".join(self._stream).decode("utf-8", "replace")
        yield redact(body, self.secret).encode("utf-8")


class _ScrubbedEvents(_Passing):
    """An SSE stream re-encoded event by event with the key redacted."""

    def __iter__(self) -> Iterator[bytes]:
        decoder = SSEDecoder(max_size=DEFAULT_MAX_REPLY_BYTES * WIRE_FACTOR)  # never unbounded
        chunks = ChunkScrubber(self.secret)
        for raw in self._stream:
            out = [self._event(event.data, chunks) for event in decoder.feed(raw)]
            if out:
                yield b"".join(out)
        tail = chunks.tail()
        if tail is not None:
            yield _encode(tail)

    @staticmethod
    def _event(data: str, chunks: ChunkScrubber) -> bytes:
        if data.startswith("[DONE]"):
            tail = chunks.tail()
            return (_encode(tail) if tail else b"") + b"data: [DONE]\n\n"
        try:
            obj = loads_bounded(data)  # deeply nested data must not raise RecursionError
        except ValueError:
            return b"data: " + redact(data, chunks.secret).encode("utf-8") + b"\n\n"
        return _encode(chunks.scrub(obj))


def _encode(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n\n"


class KeyLogFilter(logging.Filter):
    """Redacts the keys of open clients from log records (httpcore logs raw headers)."""

    def __init__(self) -> None:
        super().__init__("gmi_magics")
        self.secrets: dict[int, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in set(self.secrets.values()):
                message = redact(message, secret)
            record.msg, record.args = message, ()
        return True


_FILTER = KeyLogFilter()


def install_log_filter(owner: object, secret: str | None) -> None:
    """Register ``secret`` (for ``owner``'s lifetime) and attach the filter once."""
    if not secret:
        return
    _FILTER.secrets[id(owner)] = secret
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def remove_log_secret(owner: object) -> None:
    """Forget ``owner``'s key (the client was closed)."""
    _FILTER.secrets.pop(id(owner), None)
