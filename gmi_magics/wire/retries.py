"""Retry policy as small pure functions (after openai-python's ``_base_client``)."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 120.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """True when a response with this status (and headers) is worth another try."""
    override = headers.get("x-should-retry", "").strip().lower()
    if override in ("true", "false"):
        return override == "true"
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, or ``None`` when absent or unusable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        seconds = _as_float(raw_ms)
        if seconds is not None:
            return seconds / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _as_float(raw)
    if seconds is not None:
        return seconds
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    when = email.utils.mktime_tz(parsed)
    return when - (time.time() if now is None else now)


def _as_float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def retry_delay(
    retries_taken: int,
    headers: Mapping[str, str] | None = None,
    *,
    jitter: float | None = None,
) -> float:
    """How long to sleep before the next try.

    A ``Retry-After`` between 0 and 120 s wins; otherwise exponential backoff
    (0.5 s * 2**n, capped at 8 s) reduced by up to 25 % of jitter.
    """
    asked = parse_retry_after(headers or {})
    if asked is not None and 0 <= asked <= MAX_RETRY_AFTER:
        return asked
    backoff = min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY)
    reduction = random.random() if jitter is None else jitter
    return backoff * (1 - 0.25 * reduction)


def retry_after_too_long(headers: Mapping[str, str]) -> bool:
    """A server asking for more than two minutes means: do not retry, report it."""
    asked = parse_retry_after(headers)
    return asked is not None and asked > MAX_RETRY_AFTER


def describe_wait(headers: Mapping[str, str]) -> str:
    """The wait a server asked for, in words; never a 309-digit number."""
    asked = parse_retry_after(headers)
    if asked is None or asked < 0:
        return "an unknown time"
    if asked <= MAX_RETRY_AFTER:
        return f"{asked:.0f} s"
    if asked < 2 * 3600:
        return f"about {asked / 60:.0f} minutes"
    if asked < 3 * 86400:
        return f"about {asked / 3600:.0f} hours"
    return "more than 3 days"
