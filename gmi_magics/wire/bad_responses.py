"""Responses that are not a chat reply: a redirect or an HTML page (a login or captive
portal), an error status's body, and a transport failure said in one line."""

from __future__ import annotations

import time

import httpx

from ..errors import APIStatusError, GMIError, StreamError
from ..text import clip, printable

__all__ = ["MAX_ERROR_BODY", "not_an_api_reply", "read_error_body", "transport_reason"]

MAX_ERROR_BODY = 64 * 1024

_BASE_URL_HINT = "Is the base URL right? Check GMIMagics.base_url / $GMI_BASE_URL (it ends in /v1)."


def not_an_api_reply(response: httpx.Response, host: str) -> GMIError | None:
    """A redirect or an HTML page said as such (the response is closed), or ``None``."""
    code = response.status_code
    html = "text/html" in response.headers.get("content-type", "").lower()
    if code < 300 and not html:
        return None
    response.close()
    hint = _BASE_URL_HINT
    if code >= 300:
        where = _redirect_target(response)
        message = f"The server answered {code} redirect to {where}, not an API reply."
        return APIStatusError(message, status_code=code, hint=hint)
    message = f"Got an HTML page from {host}, not an API reply (JSON)."
    return StreamError(message, hint=hint + " A proxy or network login page may be in the way.")


def read_error_body(response: httpx.Response, deadline: float) -> str:
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


def transport_reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
