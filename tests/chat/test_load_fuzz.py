"""Every field of a valid chat file, set to each wrong type: a clear refusal, or a usable load.

A load either fails with one ``PersistenceError`` naming the file and the JSON path of
the bad field, or everything later code does with the loaded turns works: the next
request's messages encode as strict JSON, transcripts, displays, notes, retry's options,
token estimates, and saving again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from chatfiles import fields, replaced, rich_document

from gmi_magics.chat.budget import TokenEstimator, turn_token_count
from gmi_magics.chat.notes import reply_notes
from gmi_magics.chat.persist import (
    LoadedThread,
    PersistenceError,
    export_markdown,
    load_threads,
    save_threads,
)
from gmi_magics.chat.transcript import transcript_markdown
from gmi_magics.display.markup import footer_text, provenance, reply_bundle

WRONG: list[Any] = [None, True, -1, 2.5, "x", "\x07bell", [], ["x"], {}, {"x": 1}]


def _cases() -> list[tuple[str, tuple[Any, ...], Any]]:
    document = rich_document()
    cases = []
    for path, keys in fields(document["threads"], "threads"):
        if not keys:
            continue
        original = _at(document["threads"], keys)
        for value in WRONG:
            if value != original or type(value) is not type(original):
                cases.append((path, ("threads", *keys), value))
    return cases


def _at(value: Any, keys: tuple[Any, ...]) -> Any:
    for key in keys:
        value = value[key]
    return value


CASES = _cases()


def use_everything(threads: dict[str, LoadedThread], tmp_path: Path) -> None:
    """What the package does with loaded turns, all of it (raises on any failure)."""
    for thread in threads.values():
        transcript_markdown(thread.turns, system=thread.system)
        estimator = TokenEstimator()
        for turn in thread.turns:
            messages = turn.messages()
            body = json.dumps(messages, ensure_ascii=False, allow_nan=False)
            body.encode("utf-8")
            turn_token_count(messages, estimator)
            reply = turn.reply
            json.dumps(provenance(reply), allow_nan=False)
            reply_bundle(reply, notes=reply_notes(reply, 100, 3))
            footer_text(reply)
            params = dict(reply.metadata.get("params", {}))
            for key in ("temperature", "top_p"):
                assert params.get(key) is None or math.isfinite(params[key])
            assert isinstance(reply.metadata.get("requested_model", ""), str)
            assert isinstance(reply.metadata.get("stream", True), bool)
            turn.shown_user()
    export_markdown(threads).encode("utf-8")
    save_threads(tmp_path / "again.json", threads)
    assert load_threads(tmp_path / "again.json").keys() == threads.keys()


def test_the_rich_file_round_trips_and_is_usable(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(rich_document()), encoding="utf-8")
    loaded = load_threads(path)
    use_everything(loaded, tmp_path)
    assert loaded["side chat"].turns[1].content is not None
    assert len(CASES) > 300


@pytest.mark.parametrize(("path", "keys", "value"), CASES, ids=[f"{c[0]}={c[2]!r}" for c in CASES])
def test_each_wrong_leaf_is_refused_or_harmless(
    tmp_path: Path, path: str, keys: tuple[Any, ...], value: Any
) -> None:
    file = tmp_path / "chat.json"
    file.write_text(json.dumps(replaced(rich_document(), keys, value)), encoding="utf-8")
    try:
        loaded = load_threads(file)
    except PersistenceError as error:
        message = str(error)
        assert "\n" not in message
        assert message.startswith(f"{file}: "), message
        named = message.removeprefix(f"{file}: ")
        assert _names_an_ancestor(named, path), (path, message)
        return
    use_everything(loaded, tmp_path)


def _names_an_ancestor(message: str, path: str) -> bool:
    """Whether the message names ``path`` or a field that contains it."""
    cut = path
    while cut:
        if cut in message:
            return True
        cut = cut[: max(cut.rfind("."), cut.rfind("["), 0)]
    return False
