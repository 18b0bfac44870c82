"""``GMIClient``: one keep-alive ``httpx.Client`` speaking OpenAI-style chat completions."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    clip,
    printable,
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
    check_key_env,
    find_api_key,
    is_gmi_cloud,
    mask_key,
)
from ..types import Delta, Message, ResponseInfo
from .cache import CacheMode, ReplayTransport
from .deltas import parse_chunk
from .limits import WIRE_FACTOR, ReplyMeter, read_capped, too_large
from .redaction import (
    ChunkScrubber,
    ScrubbingTransport,
    install_log_filter,
    remove_log_secret,
)
from .retries import describe_wait, retry_after_too_long, retry_delay, should_retry
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
        self.key_env = check_key_env(key_env)
        self._api_key = api_key if api_key is not None else find_api_key(key_env)
        self.cache = cache
        self.base_url = checked_base_url(base_url or os.environ.get("GMI_BASE_URL") or "")
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.max_reply_bytes = max_reply_bytes  # text + reasoning + tool arguments; bodies
        if cache != "off":  # recordings never hold the key; a replay needs none
            network = ScrubbingTransport(
                transport or httpx.HTTPTransport(), self._api_key, self._check_key
            )
            limit = max_reply_bytes * WIRE_FACTOR  # recordings read back are bounded too
            transport = ReplayTransport(cache_dir, cache, network, max_bytes=limit)
        install_log_filter(self, self._api_key)
        self._in_flight = 0  # requests whose response is still open
        self._in_flight_lock = threading.Lock()
        self._closing = False
        self._hooked: set[Callable[[], None]] = set()
        self._http = httpx.Client(
            transport=transport,
            headers={"User-Agent": f"gmi_magics/{__version__}"},
            follow_redirects=False,
        )

    def add_hooks(
        self,
        before_send: Callable[[], None],
        after_response: Callable[[ResponseInfo], None],
    ) -> None:
        """Call ``before_send`` before every request attempt (retries included) and
        ``after_response`` with each response's status, headers and a ``close``
        (from any thread).  Added once per pair; they run on the sending thread."""
        hooks = self._http.event_hooks
        on_response = _response_hook(after_response)
        if before_send not in self._hooked:
            self._hooked.add(before_send)
            hooks["request"].append(lambda _request: before_send())
            hooks["response"].append(on_response)

    def __repr__(self) -> str:
        return f"GMIClient(base_url={self.base_url!r}, api_key={mask_key(self._api_key)!r})"

    @property
    def masked_key(self) -> str:
        return mask_key(self._api_key)

    def close(self) -> None:
        """Close the connection pool; with a reply in flight, once the last one ends."""
        with self._in_flight_lock:
            self._closing = True
            if self._in_flight:
                return  # e.g. settings changed while the chat panel streams
        remove_log_secret(self)
        self._http.close()

    def _begin(self) -> None:
        with self._in_flight_lock:
            self._in_flight += 1

    def _end(self) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1
            last = self._closing and not self._in_flight
        if last:
            self.close()

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
        response = self._open("POST", "/chat/completions", body, deadline=deadline, model=model)
        return self._iter_deltas(response, deadline)

    def chat(self, messages: Sequence[Message], *, model: str, **params: Any) -> Delta:
        """POST a non-streaming chat request; the whole reply as one delta."""
        deadline = time.monotonic() + self.timeout
        body = chat_body(messages, model=model, stream=False, **params)
        response = self._open("POST", "/chat/completions", body, deadline=deadline, model=model)
        return next(self._guarded(self._whole_reply(response, deadline), response))

    def list_models(self) -> list[str]:
        """Model ids the endpoint serves (``GET {base_url}/models``)."""
        return sorted(str(item["id"]) for item in self.model_entries())

    def model_entries(self) -> list[dict[str, Any]]:
        """The ``/models`` entries that have an ``id``, as the server sent them (untrusted)."""
        deadline = time.monotonic() + min(self.timeout, 60.0)
        response = self._open("GET", "/models", None, deadline=deadline)
        data = next(self._guarded(self._whole_body(response, deadline), response))
        items = data.get("data", []) if isinstance(data, dict) else []
        return [item for item in items if isinstance(item, dict) and "id" in item]

    # -- sending with retries -------------------------------------------------

    def _open(self, *args: Any, **kwargs: Any) -> httpx.Response:
        """``_send``, counted as in flight until ``_guarded`` closes the response."""
        self._begin()
        try:
            return self._send(*args, **kwargs)
        except BaseException:
            self._end()
            raise

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
                    error.hint = f"The server asks to wait {describe_wait(headers)}."
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
            unexpected = self._not_an_api_reply(response)
            return unexpected or response, response.headers
        text = _read_error_body(response, deadline)
        error = status_error(
            response.status_code,
            text,
            model=model,
            retries=retries,
            secret=self._api_key,
            endpoint="" if is_gmi_cloud(self.base_url) else self._host(),
            key_env=self.key_env,
        )
        return error, response.headers

    def _not_an_api_reply(self, response: httpx.Response) -> GMIError | None:
        """A redirect or an HTML page (a login or captive portal) said as such, or ``None``."""
        code = response.status_code
        html = "text/html" in response.headers.get("content-type", "").lower()
        if code < 300 and not html:
            return None
        response.close()
        hint = "Is the base URL right? Check GMIMagics.base_url / $GMI_BASE_URL (it ends in /v1)."
        if code >= 300:
            where = _redirect_target(response)
            message = f"The server answered {code} redirect to {where}, not an API reply."
            return APIStatusError(message, status_code=code, hint=hint)
        message = f"Got an HTML page from {self._host()}, not an API reply (JSON)."
        return StreamError(message, hint=hint + " A proxy or network login page may be in the way.")

    def _may_retry(self, error: GMIError, headers: Mapping[str, str], retries: int) -> bool:
        if retries >= self.max_retries:
            return False
        if isinstance(error, APIStatusError):
            return should_retry(error.status_code, headers) and not retry_after_too_long(headers)
        return isinstance(error, APIConnectionError)

    def _auth_headers(self) -> dict[str, str]:
        if self._api_key:
            return {"Authorization": f"Bearer {self._api_key}"}
        if self.cache in ("off", "record"):  # replay and auto check on a cache miss
            self._check_key()
        return {}  # a local server, or a replay: no key needed

    def _check_key(self) -> None:
        """Fail before sending when a request would reach GMI Cloud without a key."""
        if not self._api_key and is_gmi_cloud(self.base_url):
            name = self.key_env
            raise MissingKeyError(
                f"No API key: set the {name} environment variable.",
                hint=(
                    f"Set it before starting Jupyter (export {name}=...), or in a cell "
                    "without pasting it: import os, getpass; "
                    f"os.environ['{name}'] = getpass.getpass()"
                ),
            )

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
            error = exc
        finally:
            response.close()
            self._end()
        if error is not None:
            raise error.redact(self._api_key)

    def _whole_reply(self, response: httpx.Response, deadline: float) -> Iterator[Delta]:
        for body in self._whole_body(response, deadline):
            yield parse_chunk(ChunkScrubber(self._api_key).scrub(body, final=True))

    def _whole_body(self, response: httpx.Response, deadline: float) -> Iterator[Any]:
        yield self._read_json(response, deadline)

    def _decode_stream(self, response: httpx.Response, deadline: float) -> Iterator[Delta]:
        decoder = SSEDecoder(max_size=self.max_reply_bytes)
        meter = ReplyMeter(self.max_reply_bytes)
        finished = received = False
        scrubber = ChunkScrubber(self._api_key)
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
                    yield from _tail(scrubber)
                    return
                received = True
                delta = parse_chunk(scrubber.scrub(_loads_chunk(event.data, self._api_key)))
                meter.add_delta(delta)
                finished = finished or delta.finish_reason is not None
                yield delta
        if not finished:
            raise StreamError("The reply stream ended before the reply was complete.")
        yield from _tail(scrubber)

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


def _tail(scrubber: ChunkScrubber) -> Iterator[Delta]:
    """The text held back at the end of a stream (a possible partial key), as a delta."""
    tail = scrubber.tail()
    if tail is not None:
        yield parse_chunk(tail)


def _loads_chunk(data: str, secret: str | None) -> Any:
    try:
        return loads_bounded(data)
    except ValueError:
        pass  # raised below, so the error holds no context (whose ``doc`` is the data)
    preview = clip(printable(data), 60, secret)
    raise StreamError(f"The reply stream carried malformed data: {preview!r}")


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


def _redirect_target(response: httpx.Response) -> str:
    """Where a redirect points: its host (and path, shortened), never a query string."""
    location = response.headers.get("location", "")
    try:
        url = response.url.join(location)
    except (httpx.InvalidURL, ValueError, TypeError):
        return "an unusable address"
    return clip(printable(f"{url.host}{url.path}"), 80) if location else "nowhere"


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _response_hook(
    after_response: Callable[[ResponseInfo], None],
) -> Callable[[httpx.Response], None]:
    def hook(response: httpx.Response) -> None:
        after_response(
            ResponseInfo(response.status_code, response.headers, lambda: _abort(response))
        )

    return hook


def _abort(response: httpx.Response) -> None:
    """Shut the response's socket, so a read blocked in another thread ends now."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
