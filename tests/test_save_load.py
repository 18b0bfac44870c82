"""``%gmi save``, ``load`` and ``export`` through a real shell: every thread, never the key."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_KEY
from helpers import one_error_line, sent_messages

from gmi_magics.testing import reply


def _two_threads(shell, server) -> None:
    server.enqueue(reply("D1"), reply("D2"), reply("R1"))
    shell.run("%%gmi -s Terse\nQ1")
    shell.run("%%gmi\nQ2")
    shell.run("%%gmi --chat review\nR-question")


def test_save_reset_load_restores_every_thread(shell, server, tmp_path):
    _two_threads(shell, server)
    path = tmp_path / "chat.json"
    result = shell.run(f"%gmi save {path}")
    assert result.success, result.error
    assert "Saved 3 turns" in result.stdout
    saved = path.read_text(encoding="utf-8")
    assert TEST_KEY not in saved
    document = json.loads(saved)
    assert document["format"] == "gmi_magics.chat"
    assert set(document["threads"]) == {"default", "review"}

    shell.run("%gmi reset")
    shell.run("%gmi reset --chat review")
    result = shell.run(f"%gmi load {path}")
    assert result.success, result.error
    assert "2 conversation(s), 3 turns" in result.stdout
    server.enqueue(reply("D3"), reply("R2"))
    shell.run("%%gmi\nQ3")
    assert sent_messages(server) == [
        {"role": "system", "content": "Terse"},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "D1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "D2"},
        {"role": "user", "content": "Q3"},
    ]
    shell.run("%%gmi --chat review\nR2")
    assert [m["content"] for m in sent_messages(server)] == ["R-question", "R1", "R2"]


def test_save_one_thread(shell, server, tmp_path):
    _two_threads(shell, server)
    path = tmp_path / "review.json"
    assert "Saved 1 turn " in shell.run(f"%gmi save --chat review {path}").stdout
    assert set(json.loads(path.read_text())["threads"]) == {"review"}


def test_save_with_chat_default_saves_only_that_thread(shell, server, tmp_path):
    server.enqueue(reply("d"), reply("o"))
    shell.run("%%gmi\nIn default")
    shell.run("%%gmi --chat other\nIn other")
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save --chat default {path}").success
    assert list(json.loads(path.read_text())["threads"]) == ["default"]


def test_export_writes_a_readable_transcript(shell, server, tmp_path):
    _two_threads(shell, server)
    path = tmp_path / "chat.md"
    result = shell.run(f"%gmi export {path}")
    assert result.success, result.error
    text = path.read_text(encoding="utf-8")
    assert "# Thread: default" in text and "# Thread: review" in text
    assert "**System prompt:** Terse" in text
    for piece in ("Q1", "D1", "Q2", "D2", "R-question", "R1"):
        assert piece in text
    assert text.index("Q1") < text.index("D1") < text.index("Q2")
    assert TEST_KEY not in text


@pytest.mark.parametrize("suffix", ["md", "json"])
def test_export_never_writes_the_key(shell, server, tmp_path, suffix):
    server.enqueue(reply("Noted."))
    shell.run(f"%%gmi\nMy key is {TEST_KEY}, is that safe?")
    path = tmp_path / f"chat.{suffix}"
    shell.run(f"%gmi export {path}")
    assert not path.exists() or TEST_KEY not in path.read_text(encoding="utf-8")


def test_save_refuses_a_conversation_holding_the_key(shell, server, tmp_path):
    server.enqueue(reply("Noted."))
    shell.run(f"%%gmi\nMy key is {TEST_KEY}")
    path = tmp_path / "chat.json"
    result = shell.run(f"%gmi save {path}")
    assert not result.success
    assert "API key" in one_error_line(result)
    assert not path.exists()


def test_load_one_thread(shell, server, tmp_path):
    _two_threads(shell, server)
    path = tmp_path / "chat.json"
    shell.run(f"%gmi save {path}")
    shell.run("%gmi reset")
    shell.run("%gmi reset --chat review")
    result = shell.run(f"%gmi load --chat review {path}")
    assert result.success, result.error
    assert "1 conversation(s), 1 turns" in result.stdout
    threads = shell.magics.session.threads
    assert [t.user for t in threads["review"].turns] == ["R-question"]
    assert threads["default"].turns == []


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4}),
        json.dumps({"format": "gmi_magics.chat", "version": 1, "threads": {"x": {"turns": 3}}}),
        json.dumps([1, 2, 3]),
    ],
    ids=["malformed", "notebook", "bad-thread", "array"],
)
def test_loading_a_bad_file_is_one_error_and_changes_nothing(shell, server, tmp_path, content):
    _two_threads(shell, server)
    threads = shell.magics.session.threads
    before = {name: (t.system, list(t.turns)) for name, t in threads.items()}
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = shell.run(f"%gmi load {path}")
    assert not result.success
    assert type(result.error).__name__ == "PersistenceError"
    lines = one_error_line(result).splitlines()
    assert lines[0].startswith("PersistenceError: ") and str(path) in lines[0], lines
    assert len(lines) <= 2, lines
    assert {name: (t.system, list(t.turns)) for name, t in threads.items()} == before
