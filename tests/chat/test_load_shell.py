"""``%gmi load`` in a real shell: a refused file changes nothing; an accepted one keeps
every later command working (history, last, export, the next cell, retry)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from chatfiles import replaced, rich_document
from test_load_fuzz import CASES

from gmi_magics.chat.persist import PersistenceError, load_threads
from gmi_magics.testing import reply

ANSI = re.compile(r"\x1b\[[0-9;]*m")


Change = tuple[tuple[Any, ...], Any]  # (key path, new value)


def _apply(changes: list[Change]) -> dict[str, Any]:
    document = rich_document()
    for keys, value in changes:
        document = replaced(document, keys, value)
    return document


def _loads(changes: list[Change], file: Path) -> bool:
    file.write_text(json.dumps(_apply(changes)), encoding="utf-8")
    try:
        load_threads(file)
    except PersistenceError:
        return False
    return True


def _related(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[: len(b)] == b or b[: len(a)] == a


def _batches() -> list[list[Change]]:
    """Every accepted wrong value, packed into few files: each still loads as a whole."""
    batches: list[list[Change]] = [[]]  # the unchanged file first
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "probe.json"
        for _, keys, value in CASES:
            if not _loads([(keys, value)], file):
                continue
            for batch in batches[1:]:
                fits = not any(_related(keys, other) for other, _ in batch)
                if fits and _loads([*batch, (keys, value)], file):
                    batch.append((keys, value))
                    break
            else:
                batches.append([(keys, value)])
    return batches


BATCHES = _batches()
REFUSED = [
    ("tool_calls", ("threads", "default", "turns", 0, "extra", 0, "tool_calls"), ["x"]),
    ("reasoning", ("threads", "default", "turns", 0, "extra", 0, "reasoning_content"), 5),
    ("stream", ("threads", "default", "turns", 0, "reply", "metadata", "stream"), "yes"),
    ("usage", ("threads", "default", "turns", 0, "reply", "usage", "prompt_tokens"), "12"),
    ("negative", ("threads", "default", "turns", 0, "reply", "usage", "total_tokens"), -3),
    ("turn", ("threads", "default", "turns", 0), "hello"),
    ("part", ("threads", "side chat", "turns", 1, "content", 1, "image_url"), {"url": "x"}),
    ("model", ("threads", "default", "turns", 0, "reply", "model"), "m\x1b[31m"),
]


def _write(tmp_path: Path, keys: tuple[Any, ...], value: Any) -> Path:
    document = replaced(rich_document(), keys, value) if keys else rich_document()
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _state(shell) -> dict[str, Any]:
    threads = shell.magics.session.threads
    return {name: (t.system, list(t.turns)) for name, t in threads.items()}


def _error_lines(result) -> list[str]:
    text = ANSI.sub("", result.stdout + result.stderr)
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(("name", "keys", "value"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_refused_load_changes_nothing(shell, server, tmp_path, name, keys, value):
    server.enqueue(reply("A1"))
    assert shell.run("%%gmi -s Terse\nQ1").success
    before = _state(shell)
    path = _write(tmp_path, keys, value)
    result = shell.run(f"%gmi load {path}")
    assert type(result.error).__name__ == "PersistenceError", name
    lines = _error_lines(result)
    assert lines[0].startswith(f"PersistenceError: {path}: threads"), lines
    assert "Traceback" not in result.stdout + result.stderr and len(lines) <= 2
    assert _state(shell) == before


def test_every_accepted_value_is_in_a_batch() -> None:
    assert sum(map(len, BATCHES)) > 50 and len(BATCHES) < 25


@pytest.mark.parametrize("changes", BATCHES, ids=[f"{len(b)}-changes" for b in BATCHES])
def test_after_an_accepted_load_everything_works(shell, server, tmp_path, changes):
    file = tmp_path / "chat.json"
    file.write_text(json.dumps(_apply(changes)), encoding="utf-8")
    assert shell.run(f"%gmi load {file}").success
    for chat in ("default", "'side chat'"):
        for command in ("history", "last", f"export {tmp_path / 'out.md'}"):
            result = shell.run(f"%gmi {command} --chat {chat}")
            assert result.success, (command, result.error)
        server.enqueue(reply("retried"))
        result = shell.run(f"%gmi retry --chat {chat}")
        empty = not shell.magics.session.threads[chat.strip("'")].turns
        assert result.success or (empty and "Nothing to retry" in str(result.error))
        server.enqueue(reply("next"))
        result = shell.run(f"%%gmi --chat {chat}\nAnd then?")
        assert result.success, result.error
        assert server.last_request.json["messages"][-1] == {"role": "user", "content": "And then?"}
        assert shell.run(f"%gmi last --chat {chat}").success
    assert shell.run(f"%gmi save {tmp_path / 'again.json'}").success
    assert shell.run(f"%gmi load {tmp_path / 'again.json'}").success


def test_retry_after_a_load_asks_exactly_as_before(shell, server, tmp_path):
    shell.config(confirm_tools=False)
    server.enqueue(reply('{"n": 1}'))
    assert shell.run("%%gmi -f json -t 0.3 --max-tokens 50\nGive me a number").success
    first = server.last_request.json
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save {path}").success
    assert shell.run("%gmi reset").success
    assert shell.run(f"%gmi load {path}").success
    server.enqueue(reply('{"n": 2}'))
    assert shell.run("%gmi retry").success
    again = server.last_request.json
    assert again["messages"] == first["messages"]
    assert first["messages"][-1]["content"].endswith("Answer with a single JSON object only.")
    for key in ("response_format", "temperature", "max_tokens", "model", "stream"):
        assert again[key] == first[key], key
