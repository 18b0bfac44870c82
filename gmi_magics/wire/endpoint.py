"""What a chat request looks like: the checked base URL and the JSON body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ..errors import ConfigurationError, MissingKeyError
from ..settings import DEFAULT_BASE_URL
from ..types import Message

__all__ = ["chat_body", "checked_base_url", "missing_key_error"]


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


def missing_key_error(key_env: str) -> MissingKeyError:
    """The error for a request that would reach GMI Cloud without a key in ``key_env``."""
    return MissingKeyError(
        f"No API key: set the {key_env} environment variable.",
        hint=(
            f"Set it before starting Jupyter (export {key_env}=...), or in a cell "
            "without pasting it: import os, getpass; "
            f"os.environ['{key_env}'] = getpass.getpass()"
        ),
    )
