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

from typing import TYPE_CHECKING

from .text import MAX_BODY_CHARS, clip, error_message_from_body, printable

if TYPE_CHECKING:
    from .types import Reply

MAX_MESSAGE_CHARS = 600


class GMIError(Exception):
    """Base of every expected gmi_magics failure."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = printable(message)
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = printable(hint)
        self.partial: Reply | None = None  # text streamed before the failure

    def redact(self, secret: str | None) -> GMIError:
        """Remove ``secret`` (the API key) wherever a server may have echoed it.

        Also clears the chained exceptions, whose attributes (a JSON error's
        ``doc``, httpx's request) may hold the raw reply or the header.
        """
        self.message = clip(printable(self.message), MAX_MESSAGE_CHARS, secret)
        self.args = (self.message,)
        self.hint = clip(printable(self.hint), MAX_MESSAGE_CHARS, secret)
        if isinstance(self, APIStatusError):
            self.body = clip(self.body, MAX_BODY_CHARS, secret)
        self.__cause__ = self.__context__ = None
        return self

    def _render_traceback_(self) -> list[str]:
        name = type(self).__name__
        lines = [
            f"\x1b[31m{name}\x1b[0m: {self.message}" if _colour() else f"{name}: {self.message}"
        ]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return lines


def _colour() -> bool:
    """Whether the running IPython shell shows colours (no escapes in a NoColor shell)."""
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    if not InteractiveShell.initialized():
        return False
    return str(getattr(InteractiveShell.instance(), "colors", "")).lower() not in ("nocolor", "")


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
    """HTTP 400, 413 or 422: the server refused the request as sent."""

    hint = "Check the cell options (%%gmi?) and %gmi last for what was sent."


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key was rejected (or none was sent)."""

    hint = (
        "Check the key in $GMI_API_KEY (set it outside the notebook, or with "
        "os.environ['GMI_API_KEY'] = getpass.getpass())."
    )


class PaymentRequiredError(APIStatusError):
    """HTTP 402: the account has no balance left."""

    hint = "Top up your GMI Cloud balance at console.gmicloud.ai, then run the cell again."


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key may not use this model or endpoint."""

    hint = "Your key is not allowed to use this model or endpoint."


class ModelNotFoundError(APIStatusError):
    """HTTP 404: unknown model or path."""

    hint = "Run %gmi models to list the models this endpoint serves."


class RateLimitError(APIStatusError):
    """HTTP 429: too many requests."""

    hint = "Wait a little and run the cell again."


class ServerError(APIStatusError):
    """HTTP 5xx: the service failed."""

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


def status_error(
    status: int,
    body: str,
    *,
    model: str = "",
    retries: int = 0,
    secret: str | None = None,
    endpoint: str = "",
    key_env: str = "GMI_API_KEY",
) -> APIStatusError:
    """Map an HTTP error status and body to one clear, typed error.

    ``secret`` (the key) is redacted before anything is clipped; ``endpoint`` names a
    server that is not GMI Cloud, so the message and hint speak of it instead.
    """
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIStatusError)
    reason = error_message_from_body(body, secret)
    after = f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else ""
    if status == 404 and model and (not reason or "target server" in reason.lower()):
        message = f"Unknown model '{model}' (HTTP 404{after}): this endpoint does not serve it."
    else:
        words = _STATUS_WORDS.get(status, "server error" if status >= 500 else "request failed")
        head = f"HTTP {status}" + (f" from {endpoint}" if endpoint else "") + f", {words}{after}"
        message = f"{head}: {_sentence(reason)}" if reason else f"{head}."
    hint = _status_hint(status, endpoint, key_env, bool(secret))
    return cls(message, status_code=status, body=clip(body, MAX_BODY_CHARS, secret), hint=hint)


def _sentence(text: str) -> str:
    """``text`` ending in punctuation (a period added only where none is)."""
    return text if not text or not text[-1].isalnum() else text + "."


def _status_hint(status: int, endpoint: str, key_env: str, key_sent: bool) -> str | None:
    """A hint naming the real endpoint and key variable, or ``None`` for the class's own."""
    if status == 401 and not key_sent:
        return (
            f"The server wants an API key: set ${key_env} (outside the notebook, or via getpass)."
        )
    if status == 401:
        where = f"{endpoint} expects" if endpoint else "GMI Cloud issued"
        return f"Check that ${key_env} holds the key {where} (set it outside the notebook)."
    if not endpoint:
        return None
    if status == 402:
        return f"Top up your balance with the service at {endpoint}, then run the cell again."
    if status == 403:
        return f"Your key is not allowed to use this model or endpoint on {endpoint}."
    return None
