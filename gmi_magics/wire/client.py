"""``GMIClient``: one keep-alive ``httpx.Client`` speaking OpenAI-style chat completions."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from .._version import __version__
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    GMIError,
    MissingKeyError,
    StreamError,
    status_error,
)
from ..jsonsafe import JSONLimitError, loads_bounded
from ..settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CACHE_DIR,
    DEFAULT_KEY_ENV,
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    find_api_key,
    mask_key,
)
from ..types import Delta, Message
from .cache import CacheMode, ReplayTransport
from .deltas import parse_chunk
from .limits import WIRE_FACTOR, ReplyMeter, read_capped, too_large
from .retries import parse_retry_after, retry_after_too_long, retry_delay, should_retry
from .sse import EventTooLarge, SSEDecoder

T = TypeVar("T")
MAX_ERROR_BODY = 64 * 1024


class GMIClient:
    """Chat-completions client: retries before the first byte, deadlines, SSE streaming."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        key_env: str = DEFAULT_KEY_ENV,
        cache: CacheMode = "off",
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._api_key = api_key if api_key is not None else find_api_key(key_env)
        self.key_env = key_env
        self.base_url = checked_base_url(base_url or os.environ.get("GMI_BASE_URL") or "")
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.max_reply_bytes = max_reply_bytes  # text + reasoning + tool arguments; bodies
        if cache != "off":
            limit = max_reply_bytes * WIRE_FACTOR  # recordings read back are bounded too
            network = transport or httpx.HTTPTransport()
            transport = ReplayTransport(cache_dir, cache, network, max_bytes=limit)
        self._http = httpx.Client(
            transport=transport,
            headers={"User-Agent": f"gmi_magics/{__version__}"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"GMIClient(base_url={self.base_url!r}, api_key={mask_key(self._api_key)!r})"

    @property
    def masked_key(self) -> str:
        return mask_key(self._api_key)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GMIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public calls ---------------------------------------------------------

    def stream_chat(
        self, messages: Sequence[Message], *, model: str, **params: Any
    ) -> Iterator[Delta]:
        """POST a streaming chat request; yield deltas as they arrive."""
        deadline = time.monotonic() + self.timeout
        body = chat_body(messages, model=model, stream=True, **params)
        response = self._send("POST", "/chat/completions", body, deadline=deadline, model=model)
        return self._iter_deltas(response, deadline)

    def chat(self, messages: Sequence[Message], *, model: str, **params: Any) -> Delta:
        """POST a non-streaming chat request; the whole reply as one delta."""
        deadline = time.monotonic() + self.timeout
        body = chat_body(messages, model=model, stream=False, **params)
        response = self._send("POST", "/chat/completions", body, deadline=deadline, model=model)
        return next(self._guarded(self._whole_reply(response, deadline), response))

    def list_models(self) -> list[str]:
        """Model ids the endpoint serves (``GET {base_url}/models``)."""
        deadline = time.monotonic() + min(self.timeout, 60.0)
        response = self._send("GET", "/models", None, deadline=deadline)
        data = next(self._guarded(self._whole_body(response, deadline), response))
        items = data.get("data", []) if isinstance(data, dict) else []
        return sorted(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)

    # -- sending with retries -------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        deadline: float,
        model: str = "",
    ) -> httpx.Response:
        retries = 0
        while True:
            outcome, headers = self._attempt(method, path, body, deadline, model, retries)
            if isinstance(outcome, httpx.Response):
                return outcome
            error = outcome
            if not self._may_retry(error, headers, retries):
                if retry_after_too_long(headers):
                    error.hint = f"The server asks to wait {parse_retry_after(headers):.0f} s."
                raise error.redact(self._api_key)
            delay = retry_delay(retries, headers)
            if time.monotonic() + delay >= deadline:
                raise error.redact(self._api_key)
            time.sleep(delay)
            retries += 1

    def _attempt(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        deadline: float,
        model: str,
        retries: int,
    ) -> tuple[httpx.Response | GMIError, Mapping[str, str]]:
        request = self._http.build_request(
            method,
            self.base_url + path,
            json=body,
            headers=self._auth_headers(),
            timeout=self._timeout(deadline),
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException:
            return APITimeoutError(f"No answer from {self._host()} in time."), {}
        except httpx.TransportError as exc:
            return APIConnectionError(f"Could not reach {self._host()}: {_reason(exc)}."), {}
        if response.status_code < 400:
            return response, response.headers
        text = _read_error_body(response, deadline)
        return status_error(response.status_code, text, model=model, retries=retries), (
            response.headers
        )

    def _may_retry(self, error: GMIError, headers: Mapping[str, str], retries: int) -> bool:
        if retries >= self.max_retries:
            return False
        if isinstance(error, APIStatusError):
            return should_retry(error.status_code, headers) and not retry_after_too_long(headers)
        return isinstance(error, APIConnectionError)

    def _auth_headers(self) -> dict[str, str]:
        if not self._api_key:
            name = self.key_env
            raise MissingKeyError(
                f"No API key: set the {name} environment variable.",
                hint=(
                    f"Set it before starting Jupyter (export {name}=...), or in a cell "
                    "without pasting it: import os, getpass; "
                    f"os.environ['{name}'] = getpass.getpass()"
                ),
            )
        return {"Authorization": f"Bearer {self._api_key}"}

    def _timeout(self, deadline: float) -> httpx.Timeout:
        remaining = max(deadline - time.monotonic(), 0.001)
        read = min(self.read_timeout, remaining)
        return httpx.Timeout(read, connect=min(self.connect_timeout, remaining))

    def _host(self) -> str:
        return httpx.URL(self.base_url).host or self.base_url

    # -- reading --------------------------------------------------------------

    def _iter_deltas(self, response: httpx.Response, deadline: float) -> Iterator[Delta]:
        if "json" in response.headers.get("content-type", ""):
            return self._guarded(self._whole_reply(response, deadline), response)
        return self._guarded(self._decode_stream(response, deadline), response)

    def _guarded(self, items: Iterator[T], response: httpx.Response) -> Iterator[T]:
        """Map transport failures to one clear error; always close the response.

        The error is raised outside the ``except`` block, so it carries no
        ``__context__`` (httpx's request, with the Authorization header).
        """
        error: GMIError | None = None
        try:
            yield from items
        except httpx.TimeoutException:
            error = APITimeoutError(f"{self._host()} stopped sending mid-reply.")
        except httpx.TransportError as exc:
            error = StreamError(f"The connection dropped mid-reply ({_reason(exc)}).")
        except EventTooLarge:  # from a transport that decodes events (the cache's scrubber)
            error = too_large(self.max_reply_bytes, what="One event of the reply stream")
        except GMIError as exc:
            error = exc.redact(self._api_key)
        finally:
            response.close()
        if error is not None:
            raise error

    def _whole_reply(self, response: httpx.Response, deadline: float) -> Iterator[Delta]:
        for body in self._whole_body(response, deadline):
            yield parse_chunk(body)

    def _whole_body(self, response: httpx.Response, deadline: float) -> Iterator[Any]:
        yield self._read_json(response, deadline)

    def _decode_stream(self, response: httpx.Response, deadline: float) -> Iterator[Delta]:
        decoder = SSEDecoder(max_size=self.max_reply_bytes)
        meter = ReplyMeter(self.max_reply_bytes)
        finished = received = False
        for raw in response.iter_bytes():  # decoded (decompressed) bytes
            if time.monotonic() > deadline:
                raise APITimeoutError(
                    f"No complete reply within {self.timeout:g} s (the deadline)."
                )
            meter.add_wire(len(raw))
            for event in _events(decoder, raw):
                if event.data.startswith("[DONE]"):
                    if not received:
                        raise StreamError("The server ended the reply without sending anything.")
                    return
                received = True
                delta = parse_chunk(_loads_chunk(event.data))
                meter.add_delta(delta)
                finished = finished or delta.finish_reason is not None
                yield delta
        if not finished:
            raise StreamError("The reply stream ended before the reply was complete.")

    def _read_json(self, response: httpx.Response, deadline: float) -> Any:
        try:
            body = read_capped(
                response.iter_bytes(),  # decoded: a gzip bomb is stopped at the cap
                limit=self.max_reply_bytes,
                deadline=deadline,
                timeout=self.timeout,
            )
        finally:
            response.close()
        reason = ""
        try:
            return loads_bounded(body)
        except JSONLimitError as error:
            reason = f" ({error})"
        except ValueError:
            pass  # raised below, so the error holds no context with the raw reply
        raise StreamError(f"The server sent a reply that is not valid JSON{reason}.")


def checked_base_url(value: str) -> str:
    """A usable http(s) base URL (trailing slash removed), or a ConfigurationError."""
    text = (value or DEFAULT_BASE_URL).strip().rstrip("/")
    try:
        url: httpx.URL | None = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"The base URL {text!r} is not a valid http(s) URL.",
            hint="Fix GMIMagics.base_url or $GMI_BASE_URL, e.g. https://api.gmi-serving.com/v1",
        )
    return text


def chat_body(
    messages: Sequence[Message], *, model: str, stream: bool, **params: Any
) -> dict[str, Any]:
    """The JSON body of a chat request; ``None`` params are left out, 0 is kept."""
    body: dict[str, Any] = {
        "model": model,
        "messages": list(messages),
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    body.update({k: v for k, v in params.items() if v is not None})
    return body


def _events(decoder: SSEDecoder, raw: bytes) -> list[Any]:
    try:
        return decoder.feed(raw)
    except EventTooLarge as error:
        too_big = error.max_size
    raise too_large(too_big, what="One event of the reply stream")


def _loads_chunk(data: str) -> Any:
    try:
        return loads_bounded(data)
    except ValueError:
        preview = data[:60] + ("…" if len(data) > 60 else "")
        raise StreamError(f"The reply stream carried malformed data: {preview!r}") from None


def _read_error_body(response: httpx.Response, deadline: float) -> str:
    """At most ``MAX_ERROR_BODY`` decoded bytes, read before ``deadline``; "" if none."""
    raw = bytearray()
    try:
        for chunk in response.iter_bytes():  # decoded: a gzip bomb stops at the cap
            raw += chunk[: MAX_ERROR_BODY - len(raw)]
            if len(raw) >= MAX_ERROR_BODY or time.monotonic() > deadline:
                break  # the status is the error; a trickled or huge body is clipped
    except httpx.HTTPError:
        pass
    finally:
        response.close()
    return raw.decode("utf-8", errors="replace")


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
