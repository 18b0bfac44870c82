"""Pacing shared by a batch's workers: a common 429 pause and rpm / tpm limits.

Every wait checks ``stop`` at least every 0.1 s, so an interrupt is never held up
by a limiter.  Stdlib only.
"""

from __future__ import annotations

import threading
import time

from ..wire.retries import MAX_RETRY_AFTER

POLL = 0.1
DEFAULT_PAUSE = 1.0  # a 429 without Retry-After pauses everyone this long


class Stopped(Exception):
    """Raised inside a worker when the batch is stopping; never reaches the user."""


def sleep_until(when: float, stop: threading.Event) -> None:
    """Sleep until ``time.monotonic() >= when``; raise ``Stopped`` as soon as ``stop`` is set."""
    while True:
        if stop.is_set():
            raise Stopped
        remaining = when - time.monotonic()
        if remaining <= 0:
            return
        stop.wait(min(remaining, POLL))


class SharedPause:
    """After a 429 every worker waits until the time the server asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.until = 0.0
        self.count = 0  # 429s seen

    def hold(self, seconds: float | None) -> float:
        """Pause everyone ``seconds`` from now (``DEFAULT_PAUSE`` when unknown); returns it."""
        wait = DEFAULT_PAUSE if seconds is None or seconds < 0 else min(seconds, MAX_RETRY_AFTER)
        with self._lock:
            self.count += 1
            self.until = max(self.until, time.monotonic() + wait)
        return wait

    def wait(self, stop: threading.Event) -> None:
        """Block while a pause is on (it may be extended while waiting)."""
        while True:
            with self._lock:
                until = self.until
            if time.monotonic() >= until:
                return
            sleep_until(until, stop)


class Pacer:
    """Spaces costs evenly at ``per_minute`` (GCRA with no burst beyond one request).

    ``rpm``: every request costs 1, so starts are ``60 / rpm`` s apart.  ``tpm``:
    a request costs its estimated tokens when it starts; ``settle`` corrects the
    schedule with the tokens it really used.  A cost above one minute's worth is
    capped at one minute's worth, so a huge prompt delays but never blocks forever.
    """

    def __init__(self, per_minute: float) -> None:
        if not per_minute > 0:
            raise ValueError("a rate limit must be a positive number per minute")
        self.per_minute = float(per_minute)
        self._lock = threading.Lock()
        self._next = 0.0  # monotonic time the next cost may start

    def _seconds(self, cost: float) -> float:
        return min(max(cost, 0.0), self.per_minute) * 60.0 / self.per_minute

    def acquire(self, cost: float, stop: threading.Event) -> None:
        """Reserve a slot for ``cost`` and sleep until it comes."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._seconds(cost)
        sleep_until(start, stop)

    def settle(self, charged: float, actual: float) -> None:
        """Move the schedule by the difference between the estimate and the real cost."""
        if actual == charged:
            return
        shift = (actual - charged) * 60.0 / self.per_minute
        with self._lock:
            self._next = max(self._next + shift, time.monotonic() - 1.0)
