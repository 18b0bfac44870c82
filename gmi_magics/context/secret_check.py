"""Keeping secrets (the API key) out of interpolated text and its error messages."""

from __future__ import annotations

from collections.abc import Sequence

from gmi_magics.context.references import InterpolationError

__all__ = ["SecretValueError", "checked_secrets", "shows_secret"]

_MIN_SECRET = 8  # shorter "secrets" are ignored: they would match ordinary text
_SECRET_PIECE = 16  # a preview showing this many characters of a secret shows it


class SecretValueError(InterpolationError):
    """A ``{reference}`` whose value holds a secret (the API key): never sent."""

    hint = "Nothing was sent. Leave the key out of the message."

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.reason = "holds your API key"
        ValueError.__init__(self, f"{{{expression}}} holds your API key; it was not sent")


def checked_secrets(secrets: Sequence[str]) -> list[str]:
    """The secrets worth looking for: strings of at least ``_MIN_SECRET`` characters."""
    return [s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET]


def shows_secret(text: str, secrets: Sequence[str]) -> bool:
    """True when ``text`` shows a secret, or a piece of one long enough to matter."""
    for secret in secrets:
        size = min(len(secret), _SECRET_PIECE)
        if any(secret[i : i + size] in text for i in range(len(secret) - size + 1)):
            return True
    return False
