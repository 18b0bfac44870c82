"""``%%gmi --over``: a template cell over a collection, through a real shell."""

from __future__ import annotations

import _thread
import json
import threading
import time
from collections.abc import Iterator

import pandas as pd
import pytest
from batch_helpers import RuleServer

from gmi_magics.chat.batch_run import ItemError
from gmi_magics.testing import hang, reply, status
from gmi_magics.types import Reply


@pytest.fixture
def rules(shell, monkeypatch: pytest.MonkeyPatch) -> Iterator[RuleServer]:
    with RuleServer() as server:
        monkeypatch.setenv("GMI_BASE_URL", server.base_url)
        yield server


def test_over_a_list_fills_item_and_keeps_history_empty(shell, rules):
    shell.ns["words"] = ["apple", "pear", "apple"]
    shell.ns["tone"] = "short"
    result = shell.run("%%gmi --over words -o out\nDefine {item}, {tone}.")
    assert result.success, result.error
    out = shell.ns["out"]
    assert isinstance(out, list) and len(out) == 3
    assert "> Define apple, short.\n" in out[0].text and "> Define pear, short." in out[1].text
    assert out[2] is out[0]  # sent once
    assert sorted(rules.prompts) == ["Define apple, short.", "Define pear, short."]
    assert all(len(r.json["messages"]) == 1 for r in rules.chat_requests)  # no history sent
    assert shell.conversation.turns == []
    assert "3 items: 3 done, 0 failed" in result.stdout


def test_over_a_dataframe_column_reads_the_row(shell, rules):
    frame = pd.DataFrame(
        {"text": ["good", "bad", None], "lang": ["en", "de", "fr"]}, index=[7, 3, 5]
    )
    shell.ns["reviews"] = frame
    result = shell.run('%%gmi --over reviews["text"] -o labels\n({row.lang}) {item}')
    assert result.success, result.error
    labels = shell.ns["labels"]
    assert isinstance(labels, pd.Series) and list(labels.index) == [7, 3, 5]
    assert "> (en) good" in labels[7].text and "> (de) bad" in labels[3].text
    assert labels[5] is None  # missing element: not sent
    result = shell.run("%%gmi --over reviews.text -o again\n{row.lang}: {item}")
    assert result.success and "> de: bad" in shell.ns["again"][3].text


def test_over_a_dataframe_iterates_rows(shell, rules):
    shell.ns["df"] = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    result = shell.run("%%gmi --over df -o out\n{row.a}={row.b}")
    assert result.success, result.error
    assert "> x=1" in shell.ns["out"][0].text and "> y=2" in shell.ns["out"][1].text


def test_json_into_columns(shell, rules):
    label = lambda p: "good" if "good" in p else "bad"  # noqa: E731
    rules.rule = lambda p: reply(json.dumps({"label": label(p), "confidence": 0.5}))
    frame = pd.DataFrame({"text": ["good", "bad"], "label": ["truth1", "truth2"]})
    shell.ns["reviews"] = frame
    cell = (
        "%%gmi --over reviews.text -o sentiment -f json --into-columns\n"
        'Classify {"label": ..., "confidence": ...}: {item}'
    )
    result = shell.run(cell)
    assert result.success, result.error
    assert list(shell.ns["sentiment"]) == [
        {"label": "good", "confidence": 0.5},
        {"label": "bad", "confidence": 0.5},
    ]
    assert list(frame["label"]) == ["truth1", "truth2"]  # the user's column is kept
    assert list(frame["confidence"]) == [0.5, 0.5]
    assert "Existing column(s) label left as they were" in result.stdout
    sent = rules.chat_requests[0].json
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"][-1]["content"].startswith('Classify {"label": ..., "confidence": ...}:')
    result = shell.run(cell.replace("--into-columns", "--into-columns pred_"))
    assert list(frame["pred_label"]) == ["good", "bad"]
    assert shell.run(cell.replace("--into-columns", "--into-columns pred_")).success  # re-run


def test_failures_are_per_item(shell, rules):
    shell.ns["items"] = ["a", "b"]
    rules.rule = lambda p: status(400, "no") if p == "b" else None
    result = shell.run("%%gmi --over items -o out\n{item}")
    assert result.success
    assert isinstance(shell.ns["out"][1], ItemError) and "1 failed" in result.stdout


def test_dry_run_sends_nothing(shell, rules):
    shell.ns["items"] = ["a", "b", "a"]
    result = shell.run("%%gmi --over items --dry-run -o dry --max-tokens 5\n{item}")
    assert result.success
    assert "Estimate: 2 requests for 3 items" in result.stdout
    assert rules.prompts == [] and "dry" not in shell.ns


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%gmi --over nothing\n{item}", "no variable named 'nothing'"),
        ("%%gmi --over items.pop()\n{item}", "not a simple reference"),
        ("%%gmi --over items\nno placeholder", "does not use {item}"),
        ("%%gmi --over text\n{item}", "is a str"),
        ("%%gmi --over items\n{row.x}", "{row.col} needs --over a DataFrame column"),
        ("%%gmi --over items -f code\n{item}", "-f code cannot be used"),
        ("%%gmi --over items --tools f\n{item}", "--tools is for chat cells"),
        ("%%gmi --over items --into-columns\n{item}", "--into-columns needs -f json"),
        ("%%gmi --over items --max-active 0\n{item}", "--max-active must be"),
    ],
)
def test_bad_batch_cells_are_one_line(shell, rules, cell, message):
    shell.ns["items"] = ["a"]
    shell.ns["text"] = "abc"
    result = shell.run(cell)
    assert not result.success
    assert message in str(result.error)
    assert rules.prompts == []


def test_interrupt_keeps_finished_results_in_out(shell, rules):
    rules.rule = lambda p: hang(20) if p.startswith("slow") else None
    shell.ns["items"] = ["a", "b", "slow1", "slow2"]

    def interrupt_when_both_slow_ones_arrived() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if sum(p.startswith("slow") for p in list(rules.prompts)) == 2:
                time.sleep(0.2)  # the fast ones are done by now
                break
            time.sleep(0.02)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_both_slow_ones_arrived, daemon=True).start()
    result = shell.run("%%gmi --over items -o out\n{item}")
    assert not result.success
    assert "Interrupted: 2 of 4 items done, kept in out" in str(result.error)
    out = shell.ns["out"]
    assert isinstance(out[0], Reply) and isinstance(out[1], Reply)
    assert isinstance(out[2], ItemError) and out[2].error == "NotRun"
    assert shell.conversation.turns == []


def test_checkpoint_option(shell, rules, tmp_path):
    path = tmp_path / "labels.jsonl"
    shell.ns["items"] = ["a", "b"]
    assert shell.run(f"%%gmi --over items -o out --checkpoint {path}\n{{item}}").success
    assert shell.run(f"%%gmi --over items -o out --checkpoint {path}\n{{item}}").success
    assert sorted(rules.prompts) == ["a", "b"]
    assert len(path.read_text().splitlines()) == 2


def test_batch_resolves_aliases_params_personas_and_counts_spend(shell, server):
    from gmi_magics.chat.personas import BUILT_IN_PERSONAS

    shell.run("%gmi alias fast Qwen/Qwen3-32B")
    shell.ns["items"] = ["a", "b"]
    result = shell.run("%%gmi --over items -o out -m fast -p seed=5 --persona tutor\nSay {item}")
    assert result.success, result.error
    bodies = [r.json for r in server.chat_requests]
    assert {b["model"] for b in bodies} == {"Qwen/Qwen3-32B"}
    assert {b["seed"] for b in bodies} == {5}
    assert {b["messages"][0]["content"] for b in bodies} == {BUILT_IN_PERSONAS["tutor"]}
    usage = shell.run("%gmi usage").stdout
    assert "(batch)" in usage
    assert shell.magics.session.spent_tokens() > 0
