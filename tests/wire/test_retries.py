"""Table tests of the retry policy in ``gmi_magics.wire.retries`` (pure functions, no I/O).

The expected values follow openai-python's ``_base_client`` conventions as recorded in
the design notes: retry 408/409/429/5xx, ``x-should-retry`` overrides, ``retry-after-ms``
before ``Retry-After`` (seconds or HTTP-date), honoured within 0..120 s, otherwise
0.5 s * 2**n capped at 8 s with up to 25 % jitter reduction.
"""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from gmi_magics.wire.retries import (
    parse_retry_after,
    retry_after_too_long,
    retry_delay,
    should_retry,
)

NOW = 1_700_000_000.0  # a fixed "now" for HTTP-date tests


def http_date(offset: float) -> str:
    """An RFC 7231 date ``offset`` seconds after NOW."""
    return email.utils.formatdate(NOW + offset, usegmt=True)


# --- should_retry --------------------------------------------------------------------


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504, 529, 599])
def test_should_retry_transient_statuses(code):
    assert should_retry(code, {}) is True


@pytest.mark.parametrize("code", [400, 401, 402, 403, 404, 405, 413, 422])
def test_should_not_retry_client_errors(code):
    assert should_retry(code, {}) is False


@pytest.mark.parametrize(
    ("code", "header", "expected"),
    [
        (503, "false", False),
        (429, "false", False),
        (500, "FALSE", False),
        (400, "true", True),
        (401, "True", True),
        (404, " true ", True),
        # anything else is not an override: the status rule applies
        (503, "maybe", True),
        (400, "maybe", False),
        (400, "", False),
        (503, "", True),
    ],
)
def test_x_should_retry_overrides_both_ways(code, header, expected):
    assert should_retry(code, {"x-should-retry": header}) is expected


def test_should_retry_reads_real_response_headers_case_insensitively():
    headers = httpx.Headers({"X-Should-Retry": "false"})
    assert should_retry(503, headers) is False
    assert should_retry(400, httpx.Headers({"X-Should-Retry": "true"})) is True


# --- parse_retry_after ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "300"}, 0.3),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after-ms": "1500.5"}, 1.5005),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": " 3 "}, 3.0),
        # the millisecond header wins over the seconds header
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        # an unusable millisecond header falls back to the seconds header
        ({"retry-after-ms": "soon", "retry-after": "4"}, 4.0),
        ({"retry-after-ms": "inf", "retry-after": "4"}, 4.0),
        # unusable values
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "-inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "1e400"}, None),
        ({"retry-after-ms": "nan"}, None),
        ({"retry-after-ms": "infinity"}, None),
    ],
)
def test_parse_retry_after_table(headers, expected):
    got = parse_retry_after(headers, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


@pytest.mark.parametrize("offset", [0, 5, 30, 119, 121, 3600])
def test_parse_retry_after_http_date(offset):
    got = parse_retry_after({"retry-after": http_date(offset)}, now=NOW)
    assert got == pytest.approx(offset)


def test_parse_retry_after_http_date_in_the_past_is_negative():
    got = parse_retry_after({"retry-after": http_date(-60)}, now=NOW)
    assert got is not None and got == pytest.approx(-60)


def test_parse_retry_after_negative_seconds_is_not_a_wait():
    got = parse_retry_after({"retry-after": "-5"}, now=NOW)
    assert got is None or got < 0


def test_parse_retry_after_http_date_uses_the_clock_by_default():
    date = email.utils.formatdate(usegmt=True)  # now, to the second
    got = parse_retry_after({"retry-after": date})
    assert got is not None and -2 < got <= 1


# --- retry_delay -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retries_taken", "full", "reduced"),
    [
        (0, 0.5, 0.375),
        (1, 1.0, 0.75),
        (2, 2.0, 1.5),
        (3, 4.0, 3.0),
        (4, 8.0, 6.0),
        (5, 8.0, 6.0),
        (10, 8.0, 6.0),
    ],
)
def test_backoff_is_exponential_capped_with_at_most_25_percent_jitter(retries_taken, full, reduced):
    assert retry_delay(retries_taken, {}, jitter=0) == pytest.approx(full)
    assert retry_delay(retries_taken, {}, jitter=1) == pytest.approx(reduced)
    assert retry_delay(retries_taken, None, jitter=0.5) == pytest.approx(full * 0.875)


@pytest.mark.parametrize("retries_taken", [0, 1, 2, 3, 4, 7])
def test_random_jitter_stays_within_bounds(retries_taken):
    full = min(0.5 * 2**retries_taken, 8.0)
    for _ in range(200):
        delay = retry_delay(retries_taken)
        assert 0.75 * full <= delay <= full


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after-ms": "300"}, 0.3),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "20"}, 20.0),  # larger than the 8 s backoff cap: still honoured
        ({"retry-after": "120"}, 120.0),
    ],
)
def test_retry_after_within_limits_wins_over_backoff(headers, expected):
    for retries_taken in (0, 3):
        assert retry_delay(retries_taken, headers, jitter=0) == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "121"},
        {"retry-after": "1000"},
        {"retry-after-ms": "120001"},
        {"retry-after": "-5"},
        {"retry-after": "soon"},
        {"retry-after": "nan"},
        {"retry-after": "inf"},
        {"retry-after": http_date(-3600)},
    ],
)
def test_unusable_or_too_long_retry_after_falls_back_to_backoff(headers):
    assert retry_delay(0, headers, jitter=0) == pytest.approx(0.5)
    assert retry_delay(2, headers, jitter=1) == pytest.approx(1.5)


def test_retry_after_http_date_within_limits_is_honoured():
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry_delay(3, {"retry-after": date}, jitter=0) <= 30


# --- retry_after_too_long ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, False),
        ({"retry-after": "0"}, False),
        ({"retry-after": "120"}, False),
        ({"retry-after": "120.5"}, True),
        ({"retry-after": "1000"}, True),
        ({"retry-after-ms": "120000"}, False),
        ({"retry-after-ms": "120001"}, True),
        ({"retry-after": "soon"}, False),
        ({"retry-after": "-5"}, False),
        ({"retry-after": "inf"}, False),
        ({"retry-after": "nan"}, False),
    ],
)
def test_retry_after_too_long_table(headers, expected):
    assert retry_after_too_long(headers) is expected


def test_retry_after_too_long_with_http_dates():
    far = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert retry_after_too_long({"retry-after": far}) is True
    near = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert retry_after_too_long({"retry-after": near}) is False
