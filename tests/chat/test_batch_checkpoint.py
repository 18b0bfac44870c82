"""Checkpoints: resume sends only what is missing; the file is hostile input; Dask."""

from __future__ import annotations

import _thread
import json
import threading

import batch_helpers
import pandas as pd
import pytest
from conftest import TEST_KEY

import gmi_magics
from gmi_magics.chat.batch_checkpoint import MAX_LINE, Writer, load
from gmi_magics.chat.batch_run import ItemError
from gmi_magics.testing import hang, reply, status
from gmi_magics.types import Reply, Usage

rules, client = batch_helpers.rules, batch_helpers.client  # the shared fixtures


def test_rerun_sends_only_the_missing_items(rules, client, tmp_path):
    path = tmp_path / "labels.jsonl"
    rules.rule = lambda p: status(400, "flaky") if p in ("p2", "p5") else None
    prompts = [f"p{i}" for i in range(8)]
    first = gmi_magics.batch(prompts, client=client, checkpoint=path, progress=False)
    assert [bool(r) for r in first] == [True, True, False, True, True, False, True, True]
    assert len(path.read_text().splitlines()) == 6
    rules.rule = lambda p: None
    sent_before = len(rules.prompts)
    again = gmi_magics.batch(prompts, client=client, checkpoint=path, progress=False)
    assert sorted(rules.prompts[sent_before:]) == ["p2", "p5"]
    assert [r.text for r in again] == [r.text if r else again[i].text for i, r in enumerate(first)]
    assert again[0].metadata["from_checkpoint"] is True
    assert again.summary.from_checkpoint == 6
    assert len(path.read_text().splitlines()) == 8


def test_a_different_model_or_params_is_a_different_item(rules, client, tmp_path):
    path = tmp_path / "c.jsonl"
    gmi_magics.batch(["a"], client=client, checkpoint=path, progress=False)
    gmi_magics.batch(["a"], client=client, checkpoint=path, temperature=0.1, progress=False)
    assert rules.prompts == ["a", "a"]


def test_checkpoint_survives_an_interrupt(rules, client, tmp_path):
    path = tmp_path / "c.jsonl"
    rules.rule = lambda p: hang(20) if p.startswith("slow") else None
    prompts = ["a", "b", "slow1", "c", "slow2"]
    threading.Timer(0.5, _thread.interrupt_main).start()
    gmi_magics.batch(prompts, client=client, checkpoint=path, max_active=5, progress=False)
    rules.rule = lambda p: None
    results = gmi_magics.batch(prompts, client=client, checkpoint=path, progress=False)
    assert all(isinstance(r, Reply) for r in results)
    assert sorted(rules.prompts[-2:]) == ["slow1", "slow2"]


def test_concurrent_appends_are_whole_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    writer = Writer(path)
    big = "x" * 100_000

    def work(n: int) -> None:
        for i in range(20):
            writer.append(f"{n:02d}{i:02d}".ljust(64, "0"), Reply(text=big + str(i)))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 160 and all(json.loads(line)["text"].startswith("x") for line in lines)


def test_the_key_is_never_written(tmp_path):
    path = tmp_path / "c.jsonl"
    writer = Writer(path, secret=TEST_KEY)
    writer.append("a" * 64, Reply(text=f"the key is {TEST_KEY}", reasoning=TEST_KEY))
    writer.close()
    assert TEST_KEY not in path.read_text()


def test_hostile_lines_are_skipped_and_announced(rules, client, tmp_path, capfd):
    path = tmp_path / "c.jsonl"
    gmi_magics.batch(["a", "b"], client=client, checkpoint=path, progress=False)
    good = path.read_text()
    key = json.loads(good.splitlines()[0])["key"]
    bad = [
        "not json",
        json.dumps({"v": 1, "key": key, "text": 5}),
        json.dumps({"v": 1, "key": "../etc", "text": "x"}),
        json.dumps({"v": 2, "key": key, "text": "future"}),
        json.dumps({"v": 1, "key": key, "text": "x", "usage": [-1, 2]}),
        "[" * 10_000,
        '{"v": 1, "key": "' + key + '", "text": "' + "y" * (MAX_LINE + 10) + '"}',
        '{"v": 1, "key": "' + key + '", "te',  # cut by a crash, no newline
    ]
    path.write_text("\n".join(bad) + "\n" + good + bad[-1])
    capfd.readouterr()
    sent = len(rules.prompts)
    results = gmi_magics.batch(["a", "b"], client=client, checkpoint=path, progress=False)
    out = capfd.readouterr().out
    assert "c.jsonl: 9 damaged lines skipped (line 1, 2, 3, 4, 5 and 4 more)" in out
    assert len(rules.prompts) == sent  # both restored from the good lines
    assert all(isinstance(r, Reply) and "> " in r.text for r in results)
    gmi_magics.batch(["c"], client=client, checkpoint=path, progress=False)
    last = path.read_text().splitlines()[-1]
    assert json.loads(last)["text"].startswith("**Stand-in reply**")  # not glued to the cut line


def test_load_keeps_only_wanted_keys(tmp_path):
    path = tmp_path / "c.jsonl"
    writer = Writer(path)
    writer.append("a" * 64, Reply(text="A", usage=Usage(3, 4, 7)))
    writer.append("b" * 64, Reply(text="B"))
    writer.close()
    loaded = load(path, {"a" * 64})
    assert list(loaded.replies) == ["a" * 64] and loaded.replies["a" * 64].usage == Usage(3, 4, 7)
    assert load(tmp_path / "missing.jsonl", {"a"}).replies == {}


def test_unwritable_checkpoint_is_one_line(rules, client, tmp_path):
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    with pytest.raises(gmi_magics.GMIError, match=r"checkpoint dir\.jsonl"):
        gmi_magics.batch(["a"], client=client, checkpoint=folder, progress=False)


def test_json_checkpoint_reparses(rules, client, tmp_path):
    path = tmp_path / "c.jsonl"
    rules.rule = lambda p: reply(json.dumps({"label": p[:1]}))
    gmi_magics.batch(["a json", "b json"], client=client, format="json", checkpoint=path,
                     progress=False)  # fmt: skip
    rules.rule = lambda p: status(500, "down")
    again = gmi_magics.batch(["a json", "b json"], client=client, format="json",
                             checkpoint=path, progress=False)  # fmt: skip
    assert list(again) == [{"label": "a"}, {"label": "b"}]


# -- Dask: the same function on worker processes ------------------------------------


@pytest.mark.timeout(120)
def test_dask_process_scheduler(rules):
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame({"text": [f"row {i}" for i in range(12)], "n": range(12)})
    frame.index = [f"id{i}" for i in range(12)]
    ddf = dd.from_pandas(frame, npartitions=3, sort=False)
    rules.rule = lambda p: status(400, "no") if p == "row 7" else None
    out = (
        ddf["text"]
        .map_partitions(gmi_magics.batch, progress=False, meta=("text", "object"))
        .compute(scheduler="processes", num_workers=2)
    )
    assert list(out.index) == list(frame.index)
    for index, text in frame["text"].items():
        if text == "row 7":
            assert isinstance(out[index], ItemError) and "HTTP 400" in str(out[index])
        else:
            assert f"> {text}\n" in out[index].text
    assert sorted(rules.prompts) == sorted(frame["text"])
