"""gmi_magics.batch over real HTTP to a stand-in server that answers by prompt."""

from __future__ import annotations

import _thread
import itertools
import json
import pickle
import re
import threading
import time

import batch_helpers
import pandas as pd
import pytest
from conftest import TEST_KEY

import gmi_magics
from gmi_magics.chat.batch import BatchError, BatchList
from gmi_magics.chat.batch_run import ItemError
from gmi_magics.errors import BadRequestError
from gmi_magics.testing import delay, hang, reply, status
from gmi_magics.types import Reply
from gmi_magics.wire.client import GMIClient

rules, client = batch_helpers.rules, batch_helpers.client  # the shared fixtures


def answers(prompt: str, result: object) -> bool:
    """The canned reply quotes the prompt it answers."""
    return isinstance(result, Reply) and f"> {prompt}\n" in result.text


# -- alignment ----------------------------------------------------------------------


def test_list_results_are_aligned_with_the_prompts(rules, client):
    rules.rule = lambda p: delay(0.05 * (int(p[1:]) % 4))  # finish out of order
    prompts = [f"q{i}" for i in range(24)]
    results = gmi_magics.batch(prompts, client=client, max_active=6, progress=False)
    assert isinstance(results, BatchList)
    assert all(answers(p, r) for p, r in zip(prompts, results, strict=True))
    assert results.summary is not None and results.summary.done == 24
    assert sorted(rules.prompts) == sorted(prompts)


def test_series_keeps_its_index_and_name(rules, client):
    series = pd.Series(["b", "a", "c", "d"], index=[40, 10, 30, 20], name="text")
    results = gmi_magics.batch(series, client=client, progress=False)
    assert isinstance(results, pd.Series)
    assert list(results.index) == [40, 10, 30, 20] and results.name == "text"
    assert all(answers(series[i], results[i]) for i in series.index)


def test_missing_items_are_not_sent(rules, client):
    results = gmi_magics.batch(["x", None, float("nan"), "  ", "y"], client=client, progress=False)
    assert results[1] is None and results[2] is None and results[3] is None
    assert sorted(rules.prompts) == ["x", "y"]
    assert results.summary.skipped == 3


def test_bad_arguments_are_one_line_errors(client):
    with pytest.raises(BatchError, match="not one string"):
        gmi_magics.batch("one prompt", client=client)
    with pytest.raises(BatchError, match="one column"):
        gmi_magics.batch(pd.DataFrame({"a": ["x"]}), client=client)
    with pytest.raises(BatchError, match="max_active"):
        gmi_magics.batch(["x"], client=client, max_active=0)
    with pytest.raises(BatchError, match="on_error"):
        gmi_magics.batch(["x"], client=client, on_error="ignore")


# -- failures -----------------------------------------------------------------------


def test_failed_items_hold_one_line_errors(rules, client):
    rules.rule = lambda p: status(400, {"error": {"message": f"bad {p}"}}) if "bad" in p else None
    prompts = ["ok1", "bad1", "ok2", "bad2", "ok3"]
    results = gmi_magics.batch(prompts, client=client, progress=False)
    assert answers("ok1", results[0]) and answers("ok3", results[4])
    failed = results[1]
    assert isinstance(failed, ItemError) and not failed
    assert failed.error == "BadRequestError"
    assert str(failed).endswith("request failed: bad bad1.") and "\n" not in str(failed)
    assert "bad bad2" in str(results[3])
    assert results.summary.failed == 2 and results.summary.done == 3


def test_on_error_raise_stops_at_the_first_failure(rules, client):
    rules.rule = lambda p: status(400, "nope") if p == "p3" else delay(0.2)
    prompts = [f"p{i}" for i in range(40)]
    with pytest.raises(BadRequestError, match=r"^Item 3: HTTP 400 from 127.0.0.1") as caught:
        gmi_magics.batch(prompts, client=client, max_active=4, on_error="raise", progress=False)
    assert len(rules.prompts) < 20  # nothing new was sent after the failure
    partial = caught.value.results  # type: ignore[attr-defined]
    assert len(partial) == 40 and isinstance(partial[3], ItemError)


def test_on_error_stop_finishes_in_flight_and_returns(rules, client):
    rules.rule = lambda p: status(400, "nope") if p == "p0" else delay(0.3)
    prompts = [f"p{i}" for i in range(40)]
    results = gmi_magics.batch(
        prompts, client=client, max_active=4, on_error="stop", progress=False
    )
    finished = [r for r in results if isinstance(r, Reply)]
    assert 1 <= len(finished) <= 8  # those in flight when p0 failed
    assert all(answers(p, r) for p, r in zip(prompts, results, strict=True) if r)
    not_run = [r for r in results if isinstance(r, ItemError) and r.error == "NotRun"]
    assert len(not_run) == 40 - 1 - len(finished)
    assert "stopped at the first failure" in str(not_run[0])


def test_results_pickle(rules, client):
    rules.rule = lambda p: status(400, "nope") if p == "b" else None
    results = gmi_magics.batch(["a", "b"], client=client, progress=False)
    back = pickle.loads(pickle.dumps(results))
    assert back == results and back.summary == results.summary
    assert str(back[1]) == str(results[1])


# -- 429s and rate limits -----------------------------------------------------------


def test_a_429_pauses_every_worker_for_retry_after(rules, client):
    first = threading.Event()

    def rule(prompt: str):
        if prompt == "p0" and not first.is_set():
            first.set()
            return status(429, "slow down", headers={"Retry-After": "1"})
        return delay(0.1)

    rules.rule = rule
    prompts = [f"p{i}" for i in range(12)]
    started = time.monotonic()
    results = gmi_magics.batch(prompts, client=client, max_active=4, progress=False)
    assert all(answers(p, r) for p, r in zip(prompts, results, strict=True))
    limited = next(t for t, p in rules.arrivals if p == "p0")
    later = [t - limited for t, _ in rules.arrivals if t > limited + 0.05]
    assert later and min(later) >= 0.95, later  # nobody sent during the pause
    assert time.monotonic() - started >= 1.0
    assert rules.prompts.count("p0") == 2  # retried once, after the pause


def test_retry_after_too_long_stops_the_run(rules, client):
    rules.rule = lambda p: status(429, "quota", headers={"Retry-After": "3600"})
    results = gmi_magics.batch([f"p{i}" for i in range(30)], client=client, progress=False)
    assert len(rules.prompts) < 30
    assert any("wait about 60 minutes" in str(r) for r in results)


def test_rpm_spaces_request_starts(rules, client):
    prompts = [f"p{i}" for i in range(6)]
    gmi_magics.batch(prompts, client=client, max_active=6, rpm=300, progress=False)
    times = sorted(t for t, _ in rules.arrivals)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.17, gaps  # 60 / 300 = 0.2 s apart
    assert times[-1] - times[0] >= 0.95


def test_tpm_paces_by_estimated_tokens(rules, client):
    prompts = ["x" * 400 + str(i) for i in range(4)]  # ~105 tokens each
    gmi_magics.batch(prompts, client=client, max_active=4, tpm=6_000, max_tokens=1, progress=False)
    times = sorted(t for t, _ in rules.arrivals)
    assert times[-1] - times[0] >= 2.5  # ~106 tokens at 100 tokens/s → ~1 s apart


# -- interrupts ---------------------------------------------------------------------


def test_interrupt_returns_finished_results_within_a_second(rules, client):
    rules.rule = lambda p: hang(20) if p.startswith("slow") else None
    prompts = [f"fast{i}" for i in range(4)] + [f"slow{i}" for i in range(4)]
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    results = gmi_magics.batch(prompts, client=client, max_active=8, progress=False)
    assert time.monotonic() - started < 1.8
    assert all(answers(p, r) for p, r in zip(prompts[:4], results[:4], strict=True))
    assert all(isinstance(r, ItemError) and r.error == "NotRun" for r in results[4:])
    assert "interrupted" in str(results[4])
    assert results.summary.stopped == "interrupted"
    deadline = time.monotonic() + 1.0  # the hanging replies were closed, not abandoned
    while time.monotonic() < deadline and _batch_threads():
        time.sleep(0.05)
    assert not _batch_threads()


def _batch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("gmi-batch") and t.is_alive()]


# -- dedupe, JSON, cache ------------------------------------------------------------


def test_identical_prompts_are_sent_once(rules, client):
    prompts = ["a", "b", "a", "c", "b", "a"]
    results = gmi_magics.batch(prompts, client=client, progress=False)
    assert sorted(rules.prompts) == ["a", "b", "c"]
    assert all(answers(p, r) for p, r in zip(prompts, results, strict=True))
    assert results.summary.duplicates == 3


def test_json_results_are_parsed_and_checked(rules, client):
    def rule(prompt: str):
        if prompt.startswith("broken"):
            return reply("not json at all")
        if prompt.startswith("wrong"):
            return reply(json.dumps({"label": 3}))
        if prompt.startswith("good"):
            return reply(json.dumps({"label": "pos", "confidence": 0.9}))
        return None

    rules.rule = rule
    schema = {
        "type": "object",
        "required": ["label"],
        "properties": {"label": {"type": "string"}, "confidence": {"type": "number"}},
    }
    results = gmi_magics.batch(
        ["good one", "broken one", "wrong one"], client=client, schema=schema, progress=False
    )
    assert results[0] == {"label": "pos", "confidence": 0.9}
    assert results[1].error == "ReplyFormatError" and results[1].reply.text == "not json at all"
    assert results[2].error == "SchemaError" and "$.label should be string" in str(results[2])
    sent = [r.json for r in rules.chat_requests]
    assert all(body["response_format"] == {"type": "json_object"} for body in sent)
    assert all('"required": ["label"]' in body["messages"][-1]["content"] for body in sent)


def test_json_without_schema_asks_for_json_once(rules, client):
    results = gmi_magics.batch(["give json", "plain"], client=client, format="json", progress=False)
    assert results[0]["question"] == "give json"  # "json" already in the prompt
    assert results[1]["question"].startswith("plain\n\nAnswer with a single JSON object")


def test_record_replay_cache_applies(rules, tmp_path):
    with GMIClient(base_url=rules.base_url, cache="record", cache_dir=tmp_path) as recording:
        first = gmi_magics.batch(["a", "b"], client=recording, progress=False)
    rules.rule = lambda p: status(500, "server gone")
    with GMIClient(base_url=rules.base_url, cache="replay", cache_dir=tmp_path) as replaying:
        again = gmi_magics.batch(["a", "b"], client=replaying, progress=False)
    assert [r.text for r in again] == [r.text for r in first]
    assert len(rules.prompts) == 2


def test_dry_run_sends_nothing(rules, client, capfd):
    estimate = gmi_magics.batch(
        ["a", "b", "a"], client=client, dry_run=True, max_tokens=10, prices={"m": (1.0, 2.0)},
        model="m",
    )  # fmt: skip
    assert rules.prompts == []
    assert estimate.requests == 2 and estimate.duplicates == 1 and estimate.tokens_out_max == 20
    assert estimate.cost is not None
    assert "Estimate: 2 requests for 3 items" in capfd.readouterr().out


def test_large_runs_show_the_estimate_first(rules, client, capfd):
    gmi_magics.batch([f"p{i % 3}" for i in range(1001)], client=client, progress=False)
    out = capfd.readouterr().out
    assert out.startswith("Estimate: 3 requests for 1,001 items")


def test_summary_line_and_progress(rules, client, capfd):
    prices = {"deepseek-ai/DeepSeek-V3.2-Exp": (1.0, 1.0)}
    results = gmi_magics.batch(["a", "b"], client=client, prices=prices)
    captured = capfd.readouterr()
    assert "gmi batch" in captured.err and "2/2" in captured.err  # tqdm's bar
    line = captured.out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"2 items: 2 done, 0 failed · 2 in / \d+ out tokens · \$0\.\d{4} · \d+\.\d s", line
    )
    assert results.summary.tokens_out > 0


def test_no_key_in_any_result(rules, client):
    rules.rule = lambda p: status(401, {"error": {"message": f"bad key {TEST_KEY}"}})
    results = gmi_magics.batch(["a"], client=client, progress=False)
    assert TEST_KEY not in repr(results) and TEST_KEY not in str(results[0])
