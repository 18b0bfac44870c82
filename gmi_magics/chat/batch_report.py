"""What a batch reports: the estimate before, the progress bar during, the summary after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .batch_run import ItemError, Job, Outcome
from .turns import estimate_cost


@dataclass(frozen=True)
class BatchEstimate:
    """What a run would send, from the character-based token estimator."""

    items: int
    requests: int
    duplicates: int
    from_checkpoint: int
    tokens_in: int
    tokens_out_max: int | None  # max_tokens × requests, when max_tokens is set
    cost: float | None

    def line(self) -> str:
        parts = [f"{self.requests:,} requests for {self.items:,} items"]
        if self.duplicates:
            parts.append(f"{self.duplicates:,} repeats sent once")
        if self.from_checkpoint:
            parts.append(f"{self.from_checkpoint:,} from the checkpoint")
        out = (
            f"up to {self.tokens_out_max:,} out"
            if self.tokens_out_max is not None
            else "output not bounded (set max_tokens)"
        )
        cost = f", about ${self.cost:,.4f}" if self.cost is not None else ""
        return f"Estimate: {'; '.join(parts)}: ~{self.tokens_in:,} tokens in, {out}{cost}."


@dataclass(frozen=True)
class BatchSummary:
    """What a run did; ``line()`` is the one-line report shown at the end."""

    items: int
    done: int
    failed: int
    not_run: int
    skipped: int
    from_checkpoint: int
    duplicates: int
    tokens_in: int
    tokens_out: int
    cost: float | None
    seconds: float
    stopped: str = ""

    def line(self) -> str:
        head = f"{self.items:,} items: {self.done:,} done, {self.failed:,} failed"
        extras = [
            f"{self.not_run:,} not sent" if self.not_run else "",
            f"{self.skipped:,} empty skipped" if self.skipped else "",
            f"{self.from_checkpoint:,} from checkpoint" if self.from_checkpoint else "",
            f"{self.duplicates:,} repeats sent once" if self.duplicates else "",
        ]
        extra = ", ".join(e for e in extras if e)
        cost = f" · ${self.cost:,.4f}" if self.cost is not None else ""
        stopped = f" · stopped: {self.stopped}" if self.stopped else ""
        return (
            f"{head}{f' ({extra})' if extra else ''} · {self.tokens_in:,} in / "
            f"{self.tokens_out:,} out tokens{cost} · {self.seconds:.1f} s{stopped}"
        )


class Tally:
    """Counts results as they arrive and drives the tqdm bar (main thread only)."""

    def __init__(self, total: int, initial: int, progress: bool) -> None:
        self.failed = 0
        self.tokens_in = self.tokens_out = 0
        self.bar: Any = None
        if progress and total:
            from tqdm.auto import tqdm  # type: ignore[import-untyped]

            self.bar = tqdm(
                total=total, initial=initial, unit="item", desc="gmi batch", dynamic_ncols=True
            )

    def record(self, job: Job, outcome: Outcome, results: list[Any]) -> None:
        for index in job.indexes:
            results[index] = outcome.value
        if isinstance(outcome.value, ItemError):
            self.failed += len(job.indexes)
        reply = outcome.reply
        if reply is not None and reply.usage is not None:
            self.tokens_in += reply.usage.prompt_tokens
            self.tokens_out += reply.usage.completion_tokens
        if self.bar is not None:
            if self.failed:
                self.bar.set_postfix_str(f"failed {self.failed:,}", refresh=False)
            self.bar.update(len(job.indexes))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def summary(
        self,
        results: list[Any],
        skipped: int,
        restored: int,
        duplicates: int,
        prices: Mapping[str, Any],
        model: str,
    ) -> BatchSummary:
        not_run = sum(1 for r in results if isinstance(r, ItemError) and r.error == "NotRun")
        failed = sum(1 for r in results if isinstance(r, ItemError)) - not_run
        return BatchSummary(
            items=len(results),
            done=len(results) - failed - not_run - skipped,
            failed=failed,
            not_run=not_run,
            skipped=skipped,
            from_checkpoint=restored,
            duplicates=duplicates,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost=estimate_cost(prices, model, self.tokens_in, self.tokens_out),
            seconds=0.0,
        )


def estimate(
    items: Sequence[Any],
    jobs: list[Job],
    skipped: int,
    restored: dict[str, int],
    model: str,
    max_tokens: Any,
    prices: Mapping[str, Any],
) -> BatchEstimate:
    tokens_in = sum(job.tokens for job in jobs)
    out = max_tokens * len(jobs) if isinstance(max_tokens, int) else None
    cost = estimate_cost(prices, model, tokens_in, out or 0)
    return BatchEstimate(
        items=len(items) - skipped,
        requests=len(jobs),
        duplicates=duplicates(jobs),
        from_checkpoint=sum(restored.values()),
        tokens_in=tokens_in,
        tokens_out_max=out,
        cost=cost,
    )


def duplicates(jobs: list[Job]) -> int:
    return sum(len(job.indexes) - 1 for job in jobs)
