"""Saving, loading and exporting conversations (``gmi_magics.chat.persist``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gmi_magics.chat.conversation import Conversation, Turn
from gmi_magics.chat.persist import (
    FORMAT,
    LoadedThread,
    PersistenceError,
    dump_threads,
    export_markdown,
    export_path,
    load_threads,
    save_threads,
)
from gmi_magics.types import Message, Reply, ToolCall, Usage
from gmi_magics.wire.client import GMIClient

SECRET = "gmi-SECRET-0123456789abcdef"


def _tool_turn() -> Turn:
    call = ToolCall(id="call_1", name="add", arguments='{"a": 1, "b": 2}')
    extra: list[Message] = [
        {"role": "assistant", "content": None, "tool_calls": [call.to_wire()]},
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
    ]
    reply = Reply(
        text="1 + 2 = 3",
        reasoning="Use the tool.",
        tool_calls=(call,),
        usage=Usage(12, 5, 17, 2, 4),
        finish_reason="stop",
        model="deepseek-ai/DeepSeek-V3.2",
        latency=1.25,
        metadata={"params": {"temperature": 0.2}, "host": "api.gmi-serving.com"},
    )
    return Turn(user="What is 1 + 2? ✓", reply=reply, extra=extra, cell_id="cell-a")


def _threads() -> dict[str, LoadedThread]:
    interrupted = Turn(user="Tell a story", reply=Reply(text="Once upon", interrupted=True))
    return {
        "default": LoadedThread("Be brief.", "deepseek-ai/DeepSeek-V3.2", [_tool_turn()]),
        "side chat": LoadedThread(None, "qwen3", [interrupted, Turn("hi", Reply(text="hello"))]),
        "empty": LoadedThread(None, "m", []),
    }


def _same_turns(left: list[Turn], right: list[Turn]) -> None:
    assert left == right  # dataclass equality: user, reply (not metadata), extra, cell_id
    for a, b in zip(left, right, strict=True):
        assert a.reply.metadata == b.reply.metadata
        assert a.interrupted == b.interrupted


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    threads = _threads()
    assert save_threads(path, threads) == 3
    loaded = load_threads(path)
    assert list(loaded) == list(threads)
    for name, thread in threads.items():
        assert loaded[name].system == thread.system
        assert loaded[name].model == thread.model
        _same_turns(loaded[name].turns, thread.turns)
    turn = loaded["default"].turns[0]
    assert turn.reply.usage == Usage(12, 5, 17, 2, 4)
    assert turn.reply.tool_calls[0].arguments == '{"a": 1, "b": 2}'
    assert turn.extra[1] == {"role": "tool", "tool_call_id": "call_1", "content": "3"}
    assert loaded["side chat"].turns[0].interrupted


def test_names_filter_and_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    assert save_threads(path, _threads(), names=["side chat"]) == 2
    assert list(load_threads(path)) == ["side chat"]
    with pytest.raises(PersistenceError, match="no thread named 'nope'"):
        save_threads(path, _threads(), names=["nope"])


def test_document_shape() -> None:
    document = dump_threads(_threads())
    assert document["format"] == FORMAT and document["version"] == 1
    assert document["saved_at"].endswith("+00:00")
    reply = document["threads"]["default"]["turns"][0]["reply"]
    assert set(reply) >= {"text", "reasoning", "model", "finish_reason", "usage", "latency"}
    assert reply["tool_calls"] == [{"id": "call_1", "name": "add", "arguments": '{"a": 1, "b": 2}'}]


def test_saves_a_real_conversation(tmp_path: Path) -> None:
    with GMIClient(api_key=SECRET, base_url="http://127.0.0.1:9") as client:
        conversation = Conversation(client, model="m", system="sys")
        conversation.turns.append(_tool_turn())
        path = tmp_path / "chat.json"
        save_threads(path, {"default": conversation}, secrets=[SECRET])
    assert SECRET not in path.read_text(encoding="utf-8")
    assert load_threads(path)["default"].system == "sys"


def test_metadata_whitelist_keeps_the_key_out(tmp_path: Path) -> None:
    turn = _tool_turn()
    turn.reply.metadata.update(api_key=SECRET, headers={"Authorization": f"Bearer {SECRET}"})
    path = tmp_path / "chat.json"
    save_threads(path, {"default": LoadedThread(None, "m", [turn])}, secrets=[SECRET])
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    assert load_threads(path)["default"].turns[0].reply.metadata == {
        "params": {"temperature": 0.2},
        "host": "api.gmi-serving.com",
    }


def test_secret_in_the_text_refuses_to_save(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text("old", encoding="utf-8")
    turn = Turn(user=f"my key is {SECRET}", reply=Reply(text="don't share it"))
    with pytest.raises(PersistenceError, match="API key") as caught:
        save_threads(path, {"default": LoadedThread(None, "m", [turn])}, secrets=["", SECRET])
    assert SECRET not in str(caught.value)
    assert path.read_text(encoding="utf-8") == "old"
    with pytest.raises(PersistenceError, match="API key"):
        export_path(tmp_path / "chat.md", {"t": LoadedThread(None, "m", [turn])}, secrets=[SECRET])
    assert not (tmp_path / "chat.md").exists()


def _valid() -> dict[str, Any]:
    return dump_threads(_threads())


def _turn0(doc: dict[str, Any]) -> dict[str, Any]:
    turn: dict[str, Any] = doc["threads"]["default"]["turns"][0]
    return turn


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _set(change: Any) -> dict[str, Any]:
    doc = _valid()
    change(doc)
    return doc


MALFORMED: list[tuple[str, Any, str]] = [
    ("not json", "{nope", "is not valid JSON"),
    ("json list", [1, 2], "is not a gmi_magics chat file"),
    ("other format", {"format": "jupyter", "version": 1}, 'no "format": "gmi_magics.chat"'),
    ("no format", {"version": 1, "threads": {}}, "is not a gmi_magics chat file"),
    ("version 99", {"format": FORMAT, "version": 99, "threads": {}}, "format version 99"),
    ("version str", {"format": FORMAT, "version": "1", "threads": {}}, "version"),
    ("no threads", {"format": FORMAT, "version": 1}, "threads is missing"),
    ("threads list", {"format": FORMAT, "version": 1, "threads": []}, "threads must be an object"),
    (
        "turns not list",
        _set(lambda d: d["threads"]["default"].update(turns={})),
        "threads.default.turns must be a list",
    ),
    (
        "user int",
        _set(lambda d: _turn0(d).update(user=3)),
        "threads.default.turns[0].user must be a string",
    ),
    (
        "usage wrong type",
        _set(lambda d: _turn0(d)["reply"].update(usage=[1])),
        "threads.default.turns[0].reply.usage must be an object or null",
    ),
    (
        "usage field str",
        _set(lambda d: _turn0(d)["reply"]["usage"].update(prompt_tokens="12")),
        "reply.usage.prompt_tokens must be an integer",
    ),
    (
        "missing reply",
        _set(lambda d: _turn0(d).pop("reply")),
        "threads.default.turns[0].reply is missing",
    ),
    (
        "interrupted not bool",
        _set(lambda d: _turn0(d)["reply"].update(interrupted=1)),
        "reply.interrupted must be true or false",
    ),
    (
        "tool call no name",
        _set(lambda d: _turn0(d)["reply"]["tool_calls"][0].pop("name")),
        "reply.tool_calls[0].name is missing",
    ),
    (
        "bad extra role",
        _set(lambda d: _turn0(d)["extra"][0].update(role="wizard")),
        "turns[0].extra[0].role must be one of",
    ),
    (
        "extra tool_calls of strings",
        _set(lambda d: _turn0(d)["extra"][0].update(tool_calls=["x"])),
        "turns[0].extra[0].tool_calls[0] must be an object",
    ),
    (
        "reasoning_content number",
        _set(lambda d: _turn0(d)["extra"][0].update(reasoning_content=5)),
        "turns[0].extra[0].reasoning_content must be a string",
    ),
    (
        "extra content number",
        _set(lambda d: _turn0(d)["extra"][1].update(content=5)),
        "turns[0].extra[1].content must be a string",
    ),
    (
        "extra user message",
        _set(lambda d: _turn0(d)["extra"].insert(0, {"role": "user", "content": "hi"})),
        "turns[0].extra[0].role must be one of assistant, tool",
    ),
    (
        "tool result answering nothing",
        _set(lambda d: _turn0(d)["extra"][1].update(tool_call_id="call_9")),
        "turns[0].extra[1].tool_call_id answers no tool call",
    ),
    (
        "tool call never answered",
        _set(lambda d: _turn0(d)["extra"].pop()),
        "turns[0].extra: the tool call 'call_1' before it has no tool result",
    ),
    (
        "metadata stream string",
        _set(lambda d: _turn0(d)["reply"].update(metadata={"stream": "yes"})),
        "reply.metadata.stream must be true or false",
    ),
    (
        "metadata params list",
        _set(lambda d: _turn0(d)["reply"].update(metadata={"params": [1]})),
        "reply.metadata.params must be an object",
    ),
    (
        "temperature string",
        _set(lambda d: _turn0(d)["reply"]["metadata"]["params"].update(temperature="hot")),
        "reply.metadata.params.temperature must be a number or null",
    ),
    (
        "negative tokens",
        _set(lambda d: _turn0(d)["reply"]["usage"].update(completion_tokens=-5)),
        "reply.usage.completion_tokens must be between 0 and",
    ),
    (
        "negative latency",
        _set(lambda d: _turn0(d)["reply"].update(latency=-1)),
        "reply.latency must not be negative",
    ),
    (
        "turn not an object",
        _set(lambda d: d["threads"]["default"]["turns"].append("hello")),
        "threads.default.turns[1] must be an object",
    ),
    (
        "model with control characters",
        _set(lambda d: _turn0(d)["reply"].update(model="m\x1b[2J")),
        "reply.model holds a control character",
    ),
    (
        "thread model with a newline",
        _set(lambda d: d["threads"]["default"].update(model="a\nb")),
        "threads.default.model holds a control character",
    ),
    (
        "content part without type",
        _set(lambda d: _turn0(d).update(content=[{"text": "hi"}])),
        "turns[0].content[0].type is missing",
    ),
    (
        "content image with a web URL",
        _set(
            lambda d: _turn0(d).update(
                content=[{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]
            )
        ),
        "turns[0].content[0].image_url.url must be a base64 data:image",
    ),
    (
        "content empty",
        _set(lambda d: _turn0(d).update(content=[])),
        "turns[0].content must not be an empty list",
    ),
    ("NaN", '{"format": "gmi_magics.chat", "version": 1, "threads": {}, "x": NaN}', "NaN"),
    (
        "lone surrogate",
        '{"format": "gmi_magics.chat", "version": 1, "threads": {"t": {"model": "m", '
        '"turns": [{"user": "\\ud800", "reply": {"text": ""}}]}}}',
        "threads.t.turns[0].user holds an unpaired surrogate",
    ),
    (
        "deep nesting",
        _set(lambda d: _turn0(d)["reply"]["metadata"]["params"].update(x=_deep(100))),
        "nested more than 64 levels",
    ),
    (
        "very deep nesting",
        '{"format": "gmi_magics.chat", "version": 1, "threads": ' + "[" * 100_000,
        "nested deeper than 200 levels",
    ),
    (
        "blank thread name",
        {"format": FORMAT, "version": 1, "threads": {" ": {"model": "m", "turns": []}}},
        'threads[" "]: a thread name must not be blank',
    ),
    (
        "odd thread name",
        {"format": FORMAT, "version": 1, "threads": {"a b": {"model": "m"}}},
        'threads["a b"].turns is missing',
    ),
]


@pytest.mark.parametrize(
    ("content", "problem"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_files_raise_one_clear_error(tmp_path: Path, content: Any, problem: str) -> None:
    path = tmp_path / "chat.json"
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PersistenceError) as caught:
        load_threads(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message


def test_a_file_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gmi_magics.chat.persist.MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.json"
    save_threads(path, _threads())
    assert path.stat().st_size > 1000
    with pytest.raises(PersistenceError, match="is larger than"):
        load_threads(path)


def test_missing_file_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(PersistenceError, match="no such file"):
        load_threads(tmp_path / "absent.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PersistenceError, match="not UTF-8"):
        load_threads(binary)


def test_unserialisable_metadata_leaves_no_file(tmp_path: Path) -> None:
    turn = _tool_turn()
    turn.reply.metadata["params"] = {"callback": object()}
    path = tmp_path / "chat.json"
    path.write_text("previous", encoding="utf-8")
    with pytest.raises(PersistenceError, match="cannot save"):
        save_threads(path, {"default": LoadedThread(None, "m", [turn])})
    assert path.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["chat.json"]


def test_failed_replace_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("gmi_magics.chat.persist.os.replace", refuse)
    path = tmp_path / "chat.json"
    with pytest.raises(PersistenceError, match="No space left"):
        save_threads(path, _threads())
    assert list(tmp_path.iterdir()) == []


def test_unwritable_directory(tmp_path: Path) -> None:
    with pytest.raises(PersistenceError, match="cannot write"):
        save_threads(tmp_path / "missing" / "chat.json", _threads())


def test_markdown_export_contains_every_turn(tmp_path: Path) -> None:
    threads = _threads()
    text = export_markdown(threads)
    assert text.startswith("<!-- gmi_magics transcript -->\n*Exported from gmi_magics at ")
    for name, thread in threads.items():
        assert f"# Thread: {name}" in text
        for turn in thread.turns:
            assert turn.user in text and turn.reply.text in text
    assert "Be brief." in text and "interrupted" in text
    only = export_markdown(threads, names=["empty"])
    assert "# Thread: empty" in only and "# Thread: default" not in only


def test_export_path_by_suffix(tmp_path: Path) -> None:
    threads = _threads()
    assert export_path(tmp_path / "chat.md", threads) == 3
    assert "# Thread: side chat" in (tmp_path / "chat.md").read_text(encoding="utf-8")
    assert export_path(tmp_path / "chat.json", threads, ["default"]) == 1
    assert list(load_threads(tmp_path / "chat.json")) == ["default"]


# -- overwriting --------------------------------------------------------------

FOREIGN = {
    "notebook.json": '{"cells": [], "metadata": {}, "nbformat": 4}',
    "notes.md": "# My notes\n\nhand written\n",
    "data.json": '[{"format": "gmi_magics.chat"}]',
    "late-marker.md": "text first\n<!-- gmi_magics transcript -->\n",
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_a_file_we_did_not_write_is_never_replaced(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(FOREIGN[name], encoding="utf-8")
    with pytest.raises(PersistenceError, match="refusing to overwrite") as caught:
        export_path(path, _threads())
    assert "--force" in caught.value.hint
    if name.endswith(".json"):
        with pytest.raises(PersistenceError, match="refusing to overwrite"):
            save_threads(path, _threads())
    assert path.read_text(encoding="utf-8") == FOREIGN[name]
    assert [p.name for p in tmp_path.iterdir()] == [name]
    export_path(path, _threads(), force=True)
    assert "# Thread: default" in path.read_text(encoding="utf-8") or load_threads(path)


@pytest.mark.parametrize("name", ["chat.md", "chat.markdown", "chat.json", "CHAT.MD"])
def test_our_own_files_and_empty_files_are_replaced(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("", encoding="utf-8")
    assert export_path(path, _threads(), ["empty"]) == 0
    assert export_path(path, _threads()) == 3
    assert export_path(path, _threads(), ["default"]) == 1
    if name.endswith(".json"):
        assert save_threads(path, _threads()) == 3
        assert list(load_threads(path)) == list(_threads())
    else:
        assert "# Thread: empty" not in path.read_text(encoding="utf-8")


def test_transcripts_written_before_the_marker_count_as_ours(tmp_path: Path) -> None:
    path = tmp_path / "old.md"
    path.write_text("*Exported from gmi_magics at 2025-01-01T00:00:00+00:00*\n", encoding="utf-8")
    export_path(path, _threads())
    assert path.read_text(encoding="utf-8").startswith("<!-- gmi_magics transcript -->")


@pytest.mark.parametrize("name", ["analysis.ipynb", "chat.txt", "chat", "chat.py", "x.md.bak"])
def test_export_refuses_other_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(PersistenceError, match=r"not a \.md, \.markdown or \.json file name"):
        export_path(tmp_path / name, _threads(), force=True)
    assert list(tmp_path.iterdir()) == []
