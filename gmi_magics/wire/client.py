"""``GMIClient``: one keep-alive ``httpx.Client`` speaking OpenAI-style chat completions."""

from __future__ import annotations

import os
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
    GMIError,
    StreamError,
    status_error,
)
from ..settings import (
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
from .bad_responses import not_an_api_reply, read_error_body, transport_reason
from .cache import CacheMode, ReplayTransport
from .deltas import parse_chunk
from .endpoint import chat_body, checked_base_url, missing_key_error
from .hooks import response_hook
from .limits import WIRE_FACTOR, too_large
from .redaction import (
    DeltaScrubber,
    ScrubbingTransport,
    install_log_filter,
    remove_log_secret,
)
from .response_body import read_json, read_stream
from .retries import describe_wait, retry_after_too_long, retry_delay, should_retry
from .sse import EventTooLarge

__all__ = ["GMIClient"]

T = TypeVar("T")


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
        self._host_name: str | None = None
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
        on_response = response_hook(after_response)
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
            reason = transport_reason(exc)
            return APIConnectionError(f"Could not reach {self._host()}: {reason}."), {}
        if response.status_code < 400:
            unexpected = not_an_api_reply(response, self._host())
            return unexpected or response, response.headers
        text = read_error_body(response, deadline)
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
            raise missing_key_error(self.key_env)

    def _timeout(self, deadline: float) -> httpx.Timeout:
        remaining = max(deadline - time.monotonic(), 0.001)
        read = min(self.read_timeout, remaining)
        return httpx.Timeout(read, connect=min(self.connect_timeout, remaining))

    def _host(self) -> str:
        if self._host_name is None:  # parsed once: a successful reply asks for it too
            self._host_name = httpx.URL(self.base_url).host or self.base_url
        return self._host_name

    # -- reading --------------------------------------------------------------

    def _iter_deltas(self, response: httpx.Response, deadline: float) -> Iterator[Delta]:
        if "json" in response.headers.get("content-type", ""):
            return self._guarded(self._whole_reply(response, deadline), response)
        stream = read_stream(
            response,
            deadline=deadline,
            timeout=self.timeout,
            max_bytes=self.max_reply_bytes,
            secret=self._api_key,
        )
        return self._guarded(stream, response)

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
            error = StreamError(f"The connection dropped mid-reply ({transport_reason(exc)}).")
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
            yield DeltaScrubber(self._api_key).scrub(parse_chunk(body), final=True)

    def _whole_body(self, response: httpx.Response, deadline: float) -> Iterator[Any]:
        yield read_json(
            response, deadline=deadline, timeout=self.timeout, max_bytes=self.max_reply_bytes
        )
