"""The error tree: every expected failure is one clear sentence plus a hint.

    GMIError
    ├── ConfigurationError
    │   ├── MissingKeyError
    │   └── ReplayMissError            (cache.py)
    ├── BudgetExceededError
    ├── PersistenceError               (persist.py) bad chat files
    ├── ReplyFormatError               (commands.py) -f json reply is not JSON
    ├── StoppedError                   the user interrupted a reply
    ├── APIConnectionError
    │   └── APITimeoutError
    ├── APIStatusError
    │   ├── BadRequestError            400, 413, 422
    │   ├── AuthenticationError        401
    │   ├── PaymentRequiredError       402
    │   ├── PermissionDeniedError      403
    │   ├── ModelNotFoundError         404
    │   ├── RateLimitError             429
    │   └── ServerError                5xx
    └── StreamError                    dropped, malformed or error-carrying streams

IPython shows these through ``_render_traceback_``: one line and a hint, no wall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .jsonsafe import loads_bounded

if TYPE_CHECKING:
    from .types import Reply

MAX_BODY_CHARS = 300


class GMIError(Exception):
    """Base of every expected gmi_magics failure."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        self.partial: Reply | None = None  # text streamed before the failure

    def redact(self, secret: str | None) -> GMIError:
        """Remove ``secret`` (the API key) wherever a server may have echoed it."""
        if secret:
            self.message = self.message.replace(secret, "[redacted]")
            self.args = (self.message,)
            if isinstance(self, APIStatusError):
                self.body = self.body.replace(secret, "[redacted]")
        return self

    def _render_traceback_(self) -> list[str]:
        lines = [f"\x1b[31m{type(self).__name__}\x1b[0m: {self.message}"]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return lines


class ConfigurationError(GMIError):
    """A setting is missing or invalid."""


class MissingKeyError(ConfigurationError):
    """No API key in the environment."""


class StoppedError(GMIError):
    """The user interrupted a reply (Ctrl-C / the notebook's stop button)."""

    def __init__(self, kept: bool) -> None:
        super().__init__(
            "Interrupted: the partial reply is kept in history (%gmi undo drops it)."
            if kept
            else "Interrupted: nothing was added to the conversation."
        )


class BudgetExceededError(GMIError):
    """The kernel's token budget is spent."""


class APIConnectionError(GMIError):
    """The server could not be reached."""

    hint = "Check your network and GMIMagics.base_url / $GMI_BASE_URL."


class APITimeoutError(APIConnectionError):
    """No complete reply within the deadline."""

    hint = "Raise the deadline with %config GMIMagics.timeout = 300, or retry later."


class StreamError(GMIError):
    """The reply stream broke, carried an error, or could not be decoded."""

    hint = "Nothing was added to the conversation; run the cell again."


class APIStatusError(GMIError):
    """The server answered with an HTTP error status."""

    hint = "Nothing was added to the conversation."
    body: str = ""

    def __init__(
        self, message: str, *, status_code: int, body: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.body = body


class BadRequestError(APIStatusError):
    hint = "Check the cell options (%%gmi?) and %gmi last for what was sent."


class AuthenticationError(APIStatusError):
    hint = (
        "Check the key in $GMI_API_KEY (set it outside the notebook, or with "
        "os.environ['GMI_API_KEY'] = getpass.getpass())."
    )


class PaymentRequiredError(APIStatusError):
    hint = "Top up your GMI Cloud balance at console.gmicloud.ai, then run the cell again."


class PermissionDeniedError(APIStatusError):
    hint = "Your key is not allowed to use this model or endpoint."


class ModelNotFoundError(APIStatusError):
    hint = "Run %gmi models to list the models this endpoint serves."


class RateLimitError(APIStatusError):
    hint = "Wait a little and run the cell again."


class ServerError(APIStatusError):
    hint = "The service had a problem; wait a moment and run the cell again."


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: ModelNotFoundError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}

_STATUS_WORDS: dict[int, str] = {
    401: "the API key was rejected",
    402: "the account has no balance left",
    403: "access denied",
    404: "not found",
    429: "rate limit reached",
}


def status_error(status: int, body: str, *, model: str = "", retries: int = 0) -> APIStatusError:
    """Map an HTTP error status and body to one clear, typed error."""
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIStatusError)
    reason = error_message_from_body(body)
    if status == 404 and model and (not reason or "target server" in reason.lower()):
        message = f"Unknown model '{model}' (HTTP 404): this endpoint does not serve it."
    else:
        words = _STATUS_WORDS.get(status, "server error" if status >= 500 else "request failed")
        message = f"HTTP {status}, {words}" + (f": {reason}" if reason else ".")
    if retries:
        message += f" (after {retries} retr{'y' if retries == 1 else 'ies'})"
    return cls(message, status_code=status, body=body[:MAX_BODY_CHARS])


def error_message_from_body(body: str) -> str:
    """The innermost human message in an error body (GMI nests it in ``details``)."""
    text = body.strip()
    if not text:
        return ""
    try:
        data = loads_bounded(text)
    except ValueError:
        return "" if text.lstrip().startswith("<") else _clip(text)
    return _clip(_message_from_json(data) or "")


def _message_from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return str(data) if isinstance(data, str) else None
    error = data.get("error", data)
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    if isinstance(details, str):
        try:
            inner = _message_from_json(loads_bounded(details))
        except ValueError:
            inner = None
        if inner:
            return inner
    message = error.get("message") or error.get("detail")
    return message if isinstance(message, str) else None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_BODY_CHARS else text[: MAX_BODY_CHARS - 1] + "…"
