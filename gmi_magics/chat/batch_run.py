"""The batch engine: unique requests on a thread pool over one keep-alive client.

Workers share the client (its connection pool and retry policy) and three pacers:
a pause every worker honours after any 429 (``Retry-After``), and optional
requests- and tokens-per-minute limits.  The pacing sits in httpx event hooks, so
the client's own retries wait for the shared pause too.  The main thread only
collects results (polling every 0.1 s, so Ctrl-C lands at once); on a stop it
shuts the sockets of replies in flight and returns what finished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import GMIError
from ..text import clip, printable
from ..types import Message, Reply, ResponseInfo
from ..wire.client import GMIClient
from ..wire.deltas import ReplyBuilder
from ..wire.retries import MAX_RETRY_AFTER, describe_wait, parse_retry_after
from .batch_checkpoint import Writer
from .batch_limits import Pacer, SharedPause, Stopped

OnError = Literal["return", "raise", "stop"]
GRACE = 0.8  # seconds in-flight replies get to finish after an interrupt
_local = threading.local()


@dataclass(frozen=True)
class ItemError:
    """A failed item: ``str()`` is the one-line message; falsy, so ``bool`` masks failures.

    ``error`` names the error class (``"RateLimitError"``); ``reply`` holds the raw
    reply when it arrived but could not be read (``-f json``).  Pickles.
    """

    error: str
    message: str
    hint: str = ""
    reply: Reply | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return False

    @classmethod
    def of(cls, exc: BaseException, secret: str | None = None) -> ItemError:
        if isinstance(exc, GMIError):
            return cls(type(exc).__name__, exc.message, exc.hint)
        text = clip(printable(str(exc)) or type(exc).__name__, 300, secret)
        return cls(type(exc).__name__, text)


@dataclass
class Job:
    """One unique request and the input positions that share its answer."""

    key: str
    messages: list[Message]
    tokens: int  # estimated prompt tokens
    indexes: list[int]


@dataclass(frozen=True)
class Outcome:
    value: Any  # a result, an ItemError, or NOT_RUN
    error: BaseException | None = None
    reply: Reply | None = None


NOT_RUN = object()


@dataclass
class Limits:
    max_active: int = 8
    rpm: float | None = None
    tpm: float | None = None
    on_error: OnError = "return"


class Run:
    """Sends ``jobs``; ``on_result(job, outcome)`` is called in the calling thread."""

    def __init__(
        self,
        client: GMIClient,
        *,
        model: str,
        params: dict[str, Any],
        stream: bool,
        limits: Limits,
        finish: Callable[[Reply], Any],
        writer: Writer | None = None,
        secret: str | None = None,
    ) -> None:
        self.client, self.model, self.params, self.stream = client, model, params, stream
        self.limits = limits
        self.finish = finish
        self.writer = writer
        self.secret = secret
        self.stop = threading.Event()  # no new sends; in-flight replies closed
        self.halt = False  # no new jobs; in-flight replies finish (on_error="stop")
        self.reason = ""  # why the run stopped early
        self.interrupted = False
        self.pause = SharedPause()
        self.rpm = Pacer(limits.rpm) if limits.rpm else None
        self.tpm = Pacer(limits.tpm) if limits.tpm else None
        self._responses: dict[int, ResponseInfo] = {}
        self.fatal: BaseException | None = None
        install_hooks(client)

    # -- the calling thread ---------------------------------------------------

    def execute(self, jobs: Sequence[Job], on_result: Callable[[Job, Outcome], None]) -> None:
        """Run every job (or until stopped); interrupts are turned into a stop."""
        executor = ThreadPoolExecutor(self.limits.max_active, thread_name_prefix="gmi-batch")
        pending: dict[Future[Outcome], Job] = {}
        queue = iter(jobs)
        try:
            self._loop(executor, pending, queue, on_result)
        except KeyboardInterrupt:
            self.interrupted = True
            self.reason = "interrupted"
            self.stop_now()
            self._drain(pending, on_result, deadline=time.monotonic() + GRACE)
        finally:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            if self.writer is not None:
                self.writer.close()
        if self.fatal is not None:
            raise self.fatal

    def _loop(
        self,
        executor: ThreadPoolExecutor,
        pending: dict[Future[Outcome], Job],
        queue: Iterator[Job],
        on_result: Callable[[Job, Outcome], None],
    ) -> None:
        window = self.limits.max_active * 2
        while True:
            while len(pending) < window and not (self.halt or self.stop.is_set()):
                job = next(queue, None)
                if job is None:
                    break
                pending[executor.submit(self._work, job)] = job
            if not pending:
                return
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in done:
                self._collect(pending.pop(future), future, on_result)

    def _drain(
        self,
        pending: dict[Future[Outcome], Job],
        on_result: Callable[[Job, Outcome], None],
        deadline: float,
    ) -> None:
        """Collect what finishes before ``deadline`` (after a stop)."""
        for future in list(pending):
            future.cancel()
        while pending and time.monotonic() < deadline:
            done, _ = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                self._collect(pending.pop(future), future, on_result)

    def _collect(
        self, job: Job, future: Future[Outcome], on_result: Callable[[Job, Outcome], None]
    ) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:  # e.g. the checkpoint could not be written: stop the run
            self.fatal = self.fatal or error
            self.stop_now()
            return
        outcome = future.result()
        if outcome.value is NOT_RUN:
            return
        on_result(job, outcome)
        if isinstance(outcome.value, ItemError) and self.limits.on_error != "return":
            self.reason = self.reason or f"stopped at the first failure ({outcome.value.error})"
            self.halt = True
            if self.limits.on_error == "raise" and self.fatal is None:
                self.fatal = _numbered(outcome.error or _as_error(outcome.value), job)
                self.stop_now()

    def stop_now(self) -> None:
        """Stop sending and cut the replies in flight (their sockets are shut)."""
        self.stop.set()
        for response in list(self._responses.values()):
            response.abort()

    # -- worker threads -------------------------------------------------------

    def _work(self, job: Job) -> Outcome:
        if self.stop.is_set() or self.halt:
            return Outcome(NOT_RUN)
        _local.run, _local.first = self, True
        charged = float(job.tokens + int(self.params.get("max_tokens") or 0))
        reply: Reply | None = None
        try:
            self._pace(charged)
            reply = self._ask(job)
        except Stopped:
            return Outcome(NOT_RUN)
        except Exception as error:
            if self.stop.is_set():
                return Outcome(NOT_RUN)  # the socket was shut on purpose
            return Outcome(ItemError.of(error, self.secret), error)
        finally:
            _local.run = None
            self._responses.pop(threading.get_ident(), None)
            if self.tpm is not None:
                usage = reply.usage if reply is not None else None
                self.tpm.settle(charged, usage.total_tokens if usage else charged)
        assert reply is not None
        value = self.finish(reply)
        if self.writer is not None and not isinstance(value, ItemError):
            self.writer.append(job.key, reply)
        return Outcome(value, reply=reply)

    def _pace(self, tokens: float) -> None:
        """Before the first attempt: the shared pause, then the rate limits."""
        self.pause.wait(self.stop)
        if self.rpm is not None:
            self.rpm.acquire(1, self.stop)
        if self.tpm is not None:
            self.tpm.acquire(tokens, self.stop)
        self.pause.wait(self.stop)  # a 429 may have come in meanwhile

    def _ask(self, job: Job) -> Reply:
        started = time.monotonic()
        builder = ReplyBuilder(self.model)
        if not self.stream:
            builder.add(self.client.chat(job.messages, model=self.model, **self.params))
            return builder.build(latency=time.monotonic() - started)
        deltas = self.client.stream_chat(job.messages, model=self.model, **self.params)
        try:
            for delta in deltas:
                builder.add(delta)
                if self.stop.is_set():
                    raise Stopped
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()
        return builder.build(latency=time.monotonic() - started)

    def before_send(self) -> None:
        """Client request hook: retries wait for the shared pause and the rpm limit."""
        if self.stop.is_set():
            raise Stopped
        if _local.first:
            _local.first = False
            return
        self.pause.wait(self.stop)
        if self.rpm is not None:
            self.rpm.acquire(1, self.stop)

    def after_response(self, response: ResponseInfo) -> None:
        """Client response hook: remember the open reply; a 429 pauses every worker."""
        self._responses[threading.get_ident()] = response
        if response.status == 429:
            asked = parse_retry_after(response.headers)
            if asked is not None and asked > MAX_RETRY_AFTER:
                wait_for = describe_wait(response.headers)
                self.reason = f"the server asks to wait {wait_for} (HTTP 429)"
                self.halt = True
            else:
                self.pause.hold(asked)
        if self.stop.is_set():
            raise Stopped


def _as_error(item: ItemError) -> GMIError:
    return GMIError(item.message, hint=item.hint or None)


def _numbered(error: BaseException, job: Job) -> BaseException:
    """The error of a failed item, its message starting with the item's position."""
    if isinstance(error, GMIError):
        error.message = f"Item {job.indexes[0]}: {error.message}"
        error.args = (error.message,)
    return error


def _on_request() -> None:
    run = getattr(_local, "run", None)
    if run is not None:
        run.before_send()


def _on_response(response: ResponseInfo) -> None:
    run = getattr(_local, "run", None)
    if run is not None:
        run.after_response(response)


def install_hooks(client: GMIClient) -> None:
    """Add the batch hooks to the client once; threads not in a batch are untouched."""
    client.add_hooks(_on_request, _on_response)
