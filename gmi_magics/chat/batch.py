"""``batch()``: one prompt per item of a list or Series, sent concurrently.

Results come back aligned with the inputs (a list for a list, a Series with the
same index for a Series); a failed item holds an ``ItemError``.  Identical requests
are sent once; ``checkpoint=`` makes long runs resumable.  No IPython here: this
runs in scripts and in Dask / Spark worker processes (settings from the environment).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..errors import GMIError
from ..settings import DEFAULT_MODEL, find_api_key
from ..types import Message
from ..wire.client import GMIClient
from .batch_checkpoint import Writer, load
from .batch_format import finisher, item_json_instruction
from .batch_report import BatchEstimate, BatchSummary, Tally, duplicates
from .batch_report import estimate as make_estimate
from .batch_run import NOT_RUN, ItemError, Job, Limits, OnError, Run
from .budget import TokenEstimator

__all__ = ["BatchError", "BatchEstimate", "BatchList", "BatchSummary", "ItemError", "batch"]

LARGE_RUN = 1_000  # above this many items the estimate is shown before sending
Format = Literal["text", "json"]
_clients: dict[tuple[Any, ...], GMIClient] = {}
_clients_lock = threading.Lock()


class BatchError(GMIError):
    """A batch could not start: bad arguments or inputs."""

    hint = "See help(gmi_magics.batch)."


class BatchList(list[Any]):
    """The results of a list input: a plain list, plus ``.summary`` (a ``BatchSummary``)."""

    summary: BatchSummary | None = None


@dataclass
class Request:
    """How every item of one batch is asked."""

    model: str
    system: str | None
    params: dict[str, Any]
    format: Format
    schema: Any
    stream: bool


def batch(
    prompts: Iterable[Any],
    *,
    model: str | None = None,
    system: str | None = None,
    max_active: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
    format: Format = "text",
    schema: Any = None,
    on_error: OnError = "return",
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    client: GMIClient | None = None,
    prices: Mapping[str, Any] | None = None,
    stream: bool = True,
    dry_run: bool = False,
    **params: Any,
) -> Any:
    """Send one request per prompt, ``max_active`` at a time; results aligned with inputs.

    ``prompts``: a list (→ list) or pandas Series (→ Series, same index) of strings,
    or of message lists.  ``None``/NaN/empty items are not sent (result ``None``).
    Each result is a ``Reply``; with ``format="json"`` the parsed JSON (checked
    against ``schema``, a JSON-schema dict or a pydantic model); a failed item an
    ``ItemError`` (falsy; ``str()`` is its one-line message).  ``on_error``:
    ``"return"`` keeps going, ``"raise"`` stops at the first failure, ``"stop"``
    finishes what is in flight and returns.  ``rpm`` / ``tpm`` are per process: to
    share a global quota across N workers, pass ``rpm / N``.  A 429 pauses every
    worker for its ``Retry-After``.  ``checkpoint="x.jsonl"`` appends each finished
    item; a re-run sends only the missing ones.  Ctrl-C returns what finished.
    ``client``: defaults to one per process from the environment ($GMI_API_KEY,
    $GMI_BASE_URL, $GMI_MODEL).  ``prices``: ``{model: (in, out)}`` per million
    tokens, for the cost.  Other keywords (``temperature=``, ``max_tokens=``) go
    into every request body.  ``dry_run=True`` returns the ``BatchEstimate`` only.
    """
    items, wrap = _inputs(prompts)
    request = make_request(model, system, format, schema, stream, params)
    limits = _limits(max_active, rpm, tpm, on_error)
    outcome = run_batch(
        items,
        request,
        limits,
        client=client,
        checkpoint=checkpoint,
        prices=prices or {},
        progress=progress,
        dry_run=dry_run,
    )
    if isinstance(outcome, BatchEstimate):
        return outcome
    results, summary = outcome
    return wrap(results, summary)


def run_batch(
    items: Sequence[Any],
    request: Request,
    limits: Limits,
    *,
    client: GMIClient | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    prices: Mapping[str, Any],
    progress: bool = True,
    dry_run: bool = False,
) -> tuple[list[Any], BatchSummary] | BatchEstimate:
    """The engine behind ``batch()`` and ``%%gmi --over``: plain lists in and out."""
    started = time.monotonic()
    results: list[Any] = [NOT_RUN] * len(items)
    jobs, skipped = _jobs(items, request, results)
    finish = finisher(request.format, request.schema, prices)
    restored = _restore(jobs, checkpoint, finish, results)
    jobs = [job for job in jobs if job.key not in restored]
    max_tokens = request.params.get("max_tokens")
    estimate = make_estimate(items, jobs, skipped, restored, request.model, max_tokens, prices)
    if dry_run or len(items) > LARGE_RUN:
        _say(estimate.line())
    if dry_run:
        return estimate
    client = client or default_client()
    secret = getattr(client, "_api_key", None) or find_api_key(client.key_env)
    run = Run(
        client,
        model=request.model,
        params=request.params,
        stream=request.stream,
        limits=limits,
        finish=finish,
        writer=Writer(checkpoint, secret) if checkpoint is not None else None,
        secret=secret,
    )
    tally = Tally(len(items), skipped + sum(restored.values()), progress)
    _execute(run, jobs, tally, results)
    summary = tally.summary(
        results, skipped, sum(restored.values()), duplicates(jobs), prices, request.model
    )
    summary = replace(summary, seconds=time.monotonic() - started, stopped=run.reason)
    if progress:
        _say(summary.line())
    return results, summary


def _execute(run: Run, jobs: list[Job], tally: Tally, results: list[Any]) -> None:
    """Run ``jobs``, filling ``results``; whatever did not run says why."""
    try:
        run.execute(jobs, lambda job, outcome: tally.record(job, outcome, results))
    except GMIError as error:  # on_error="raise", or the checkpoint failed
        error.results = _not_run(results, run.reason or "stopped at an error")  # type: ignore[attr-defined]
        raise
    finally:
        tally.close()
    _not_run(results, run.reason or "stopped")


def _not_run(results: list[Any], reason: str) -> list[Any]:
    """Mark the items never answered; returns ``results``."""
    for index, value in enumerate(results):
        if value is NOT_RUN:
            results[index] = ItemError("NotRun", f"Not sent: the batch {reason}.")
    return results


# -- inputs and requests --------------------------------------------------------


def _inputs(prompts: Iterable[Any]) -> tuple[list[Any], Any]:
    """The items as a list, and how to wrap the results like the input."""
    kind = type(prompts)
    if isinstance(prompts, (str, bytes)):
        raise BatchError("batch() takes a list (or Series) of prompts, not one string.")
    if kind.__module__.startswith("pandas"):
        if kind.__name__ == "DataFrame":
            raise BatchError(
                "batch() takes one column: pass df['text'] (or build the prompts first)."
            )
        if kind.__name__ == "Series":
            return list(prompts), _series_wrapper(prompts)
    try:
        items = list(prompts)
    except TypeError:
        raise BatchError(f"batch() takes a list of prompts, not a {kind.__name__}.") from None

    def wrap(results: list[Any], summary: BatchSummary) -> BatchList:
        out = BatchList(results)
        out.summary = summary
        return out

    return items, wrap


def _series_wrapper(series: Any) -> Any:
    def wrap(results: list[Any], summary: BatchSummary) -> Any:
        import pandas as pd

        out = pd.Series(results, index=series.index, name=series.name, dtype=object)
        out.attrs["gmi_batch"] = summary.line()
        return out

    return wrap


def make_request(
    model: str | None,
    system: str | None,
    format: str,
    schema: Any,
    stream: bool,
    params: dict[str, Any],
) -> Request:
    if format not in ("text", "json"):
        raise BatchError(f"format must be 'text' or 'json', not {format!r}.")
    if schema is not None and format != "json":
        format = "json"  # a schema only makes sense for JSON replies
    params = {k: v for k, v in params.items() if v is not None}
    if format == "json":
        params.setdefault("response_format", {"type": "json_object"})
    chosen = model or os.environ.get("GMI_MODEL", "").strip() or DEFAULT_MODEL
    return Request(chosen, system or None, params, format, schema, stream)  # type: ignore[arg-type]


def _limits(max_active: int, rpm: float | None, tpm: float | None, on_error: str) -> Limits:
    if not isinstance(max_active, int) or not 1 <= max_active <= 256:
        raise BatchError(f"max_active must be an integer from 1 to 256, not {max_active!r}.")
    for name, value in (("rpm", rpm), ("tpm", tpm)):
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise BatchError(f"{name} must be a positive number per minute, not {value!r}.")
    if on_error not in ("return", "raise", "stop"):
        raise BatchError(f"on_error must be 'return', 'raise' or 'stop', not {on_error!r}.")
    return Limits(max_active, rpm, tpm, on_error)  # type: ignore[arg-type]


def _is_missing(item: Any) -> bool:
    if item is None or (isinstance(item, float) and math.isnan(item)):
        return True
    if type(item).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(item, str) and not item.strip()


def messages_for(item: Any, request: Request) -> list[Message]:
    """The messages of one item: the system prompt, then the prompt (or its message list)."""
    head: list[Message] = [{"role": "system", "content": request.system}] if request.system else []
    if isinstance(item, list) and item and all(isinstance(m, dict) for m in item):
        return head + [dict(m) for m in item]  # type: ignore[misc]
    text = item if isinstance(item, str) else str(item)
    if request.format == "json":
        text += item_json_instruction(text, request.schema)
    return [*head, {"role": "user", "content": text}]


def request_key(messages: list[Message], request: Request) -> str:
    """sha256 of the messages, the model and the params: names a request in checkpoints."""
    canonical = json.dumps(
        [messages, request.model, request.params], sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def _jobs(items: Sequence[Any], request: Request, results: list[Any]) -> tuple[list[Job], int]:
    """One job per distinct request; missing items get ``None`` right away."""
    estimator = TokenEstimator()
    jobs: dict[str, Job] = {}
    skipped = 0
    for index, item in enumerate(items):
        if _is_missing(item):
            results[index] = None
            skipped += 1
            continue
        messages = messages_for(item, request)
        key = request_key(messages, request)
        job = jobs.get(key)
        if job is None:
            tokens = sum(estimator.message_tokens(m) for m in messages)
            jobs[key] = Job(key, messages, tokens, [index])
        else:
            job.indexes.append(index)
    return list(jobs.values()), skipped


def _restore(jobs: list[Job], checkpoint: Any, finish: Any, results: list[Any]) -> dict[str, int]:
    """Fill results from the checkpoint; ``{key: items restored}``."""
    if checkpoint is None:
        return {}
    loaded = load(checkpoint, {job.key for job in jobs})
    if loaded.damaged:
        _say(loaded.note(checkpoint))
    restored: dict[str, int] = {}
    for job in jobs:
        reply = loaded.replies.get(job.key)
        if reply is None:
            continue
        value = finish(reply)
        if isinstance(value, ItemError):
            continue  # e.g. JSON that no longer fits the schema: ask again
        for index in job.indexes:
            results[index] = value
        restored[job.key] = len(job.indexes)
    return restored


def default_client() -> GMIClient:
    """One client per process and environment (Dask / Spark workers build their own)."""
    key = find_api_key() or ""
    signature = (
        os.getpid(),
        os.environ.get("GMI_BASE_URL", ""),
        hashlib.sha256(key.encode()).hexdigest(),  # never the key itself
    )
    with _clients_lock:
        client = _clients.get(signature)
        if client is None:
            client = _clients[signature] = GMIClient()
        return client


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
