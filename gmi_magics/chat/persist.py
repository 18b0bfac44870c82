"""Save, load and export conversations: a documented, versioned JSON file.

The file is UTF-8 JSON, one object::

    {"format": "gmi_magics.chat", "version": 1, "saved_at": "2026-01-31T12:00:00+00:00",
     "threads": {"<name>": {
        "system": str | null, "model": str,
        "turns": [{"user": str,
                   "reply": {"text": str, "reasoning": str, "model": str,
                             "finish_reason": str | null,
                             "usage": {"prompt_tokens": int, "completion_tokens": int,
                                       "total_tokens": int, "reasoning_tokens": int,
                                       "cached_tokens": int} | null,
                             "latency": number, "interrupted": bool,
                             "tool_calls": [{"id": str, "name": str, "arguments": str}],
                             "metadata": {"params"?, "thread"?, "turn"?, "requested_model"?, ...}},
                   "extra": [chat-completions messages of the tool loop],
                   "cell_id": str | null}]}}}

``user``, ``reply``, ``reply.text`` and each thread's ``model`` and ``turns`` are
required; other fields default when absent, but must have the stated type when
present.  Unknown keys are ignored.  There is no place for an API key: only the
whitelisted ``Reply.metadata`` keys above are written, and ``save_threads`` refuses
to write text containing any of the ``secrets`` it is given.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from ..errors import GMIError
from ..types import Message, Reply, ToolCall, Usage
from .transcript import transcript_markdown
from .turns import Turn

FORMAT = "gmi_magics.chat"
VERSION = 1
METADATA_KEYS = ("params", "thread", "turn", "host", "requested_model", "stream")
ROLES = ("system", "user", "assistant", "tool")

PathLike = str | os.PathLike[str]
T = TypeVar("T")


class PersistenceError(GMIError):
    """A chat file could not be saved, loaded or exported."""

    hint = "Nothing was changed."


class Thread(Protocol):
    """What saving and exporting need from a thread (a ``Conversation`` or ``LoadedThread``)."""

    system: str | None
    model: str
    turns: list[Turn]


@dataclass
class LoadedThread:
    """One thread read from a chat file, ready to be applied to a ``Conversation``."""

    system: str | None
    model: str
    turns: list[Turn] = field(default_factory=list)


# -- saving -------------------------------------------------------------------


def dump_threads(
    threads: Mapping[str, Thread], *, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """The JSON-ready document for ``threads`` (only ``names``, when given)."""
    chosen = _select(threads, names)
    return {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "threads": {name: _dump_thread(thread) for name, thread in chosen.items()},
    }


def save_threads(
    path: PathLike,
    threads: Mapping[str, Thread],
    *,
    names: Sequence[str] | None = None,
    secrets: Sequence[str] = (),
) -> int:
    """Write ``threads`` to ``path`` atomically; return the number of turns written."""
    document = dump_threads(threads, names=names)
    try:
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    except (TypeError, ValueError) as error:
        raise PersistenceError(f"cannot save to {os.fspath(path)}: {error}") from error
    _refuse_secrets(text, secrets, path)
    _write_atomic(path, text)
    return sum(len(thread["turns"]) for thread in document["threads"].values())


def _select(threads: Mapping[str, Thread], names: Sequence[str] | None) -> dict[str, Thread]:
    if names is None:
        return dict(threads)
    missing = [name for name in names if name not in threads]
    if missing:
        known = ", ".join(sorted(threads)) or "none"
        raise PersistenceError(f"no thread named {missing[0]!r} (threads: {known})")
    return {name: threads[name] for name in names}


def _dump_thread(thread: Thread) -> dict[str, Any]:
    turns = [_dump_turn(turn) for turn in thread.turns]
    return {"system": thread.system, "model": thread.model, "turns": turns}


def _dump_turn(turn: Turn) -> dict[str, Any]:
    extra = [dict(message) for message in turn.extra]
    reply = _dump_reply(turn.reply)
    return {"user": turn.user, "reply": reply, "extra": extra, "cell_id": turn.cell_id}


def _dump_reply(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text": reply.text,
        "reasoning": reply.reasoning,
        "model": reply.model,
        "finish_reason": reply.finish_reason,
        "usage": asdict(reply.usage) if reply.usage is not None else None,
        "latency": reply.latency,
        "interrupted": reply.interrupted,
        "tool_calls": [asdict(call) for call in reply.tool_calls],
    }
    kept = {key: reply.metadata[key] for key in METADATA_KEYS if key in reply.metadata}
    if kept:
        data["metadata"] = kept
    return data


def _refuse_secrets(text: str, secrets: Sequence[str], path: PathLike) -> None:
    for secret in filter(None, (s.strip() for s in secrets)):
        if secret in text or json.dumps(secret)[1:-1] in text:
            raise PersistenceError(
                f"refusing to write {os.fspath(path)}: it would contain the API key",
                hint="Remove the key from the conversation (e.g. %gmi undo) and save again.",
            )


def _write_atomic(path: PathLike, text: str) -> None:
    """Write a temp file beside ``path``, then ``os.replace`` it: never a partial file."""
    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise PersistenceError(f"cannot write {target}: {error.strerror or error}") from error


# -- loading ------------------------------------------------------------------


class _Invalid(Exception):
    """A problem at one place in the document (turned into ``PersistenceError``)."""


def load_threads(path: PathLike) -> dict[str, LoadedThread]:
    """Read and validate a chat file; all or nothing, ``PersistenceError`` on any problem."""
    name = os.fspath(path)
    document = _read_json(path)
    if not isinstance(document, dict):
        found = "an array" if isinstance(document, list) else "a single value"
        raise PersistenceError(f"{name} is not a gmi_magics chat file (it holds {found})")
    _check_header(document, name)
    try:
        threads = _req(document, "threads", "", dict)
        return {key: _load_thread(value, _thread_place(key)) for key, value in threads.items()}
    except _Invalid as problem:
        raise PersistenceError(f"{name}: {problem}") from None


def _read_json(path: PathLike) -> Any:
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PersistenceError(f"{name}: no such file") from None
    except UnicodeDecodeError:
        raise PersistenceError(f"{name} is not UTF-8 text") from None
    except OSError as error:
        raise PersistenceError(f"cannot read {name}: {error.strerror or error}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PersistenceError(
            f"{name} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None


def _check_header(document: dict[str, Any], name: str) -> None:
    if document.get("format") != FORMAT:
        raise PersistenceError(f'{name} is not a gmi_magics chat file (no "format": "{FORMAT}")')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PersistenceError(f'{name}: "version" must be a positive integer')
    if version > VERSION:
        raise PersistenceError(
            f"{name} has format version {version}; this gmi_magics reads up to {VERSION}",
            hint="Upgrade gmi_magics to load it.",
        )
    if not isinstance(document.get("saved_at", ""), str):
        raise PersistenceError(f"{name}: saved_at must be a string")


def _thread_place(name: str) -> str:
    return f"threads.{name}" if name.isidentifier() else f"threads[{json.dumps(name)}]"


def _load_thread(value: Any, where: str) -> LoadedThread:
    data = _check(value, dict, where)
    turns = _req(data, "turns", where, list)
    return LoadedThread(
        system=_nullable(data, "system", where, str),
        model=_req(data, "model", where, str),
        turns=[_load_turn(item, f"{where}.turns[{i}]") for i, item in enumerate(turns)],
    )


def _load_turn(value: Any, where: str) -> Turn:
    data = _check(value, dict, where)
    extra = _opt(data, "extra", where, list, [])
    return Turn(
        user=_req(data, "user", where, str),
        reply=_load_reply(_req(data, "reply", where, dict), f"{where}.reply"),
        extra=[_load_message(item, f"{where}.extra[{i}]") for i, item in enumerate(extra)],
        cell_id=_nullable(data, "cell_id", where, str),
    )


def _load_reply(data: dict[str, Any], where: str) -> Reply:
    usage = _nullable(data, "usage", where, dict)
    calls = _opt(data, "tool_calls", where, list, [])
    metadata = _opt(data, "metadata", where, dict, {})
    return Reply(
        text=_req(data, "text", where, str),
        reasoning=_opt(data, "reasoning", where, str, ""),
        tool_calls=tuple(_load_call(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(calls)),
        usage=None if usage is None else _load_usage(usage, f"{where}.usage"),
        finish_reason=_nullable(data, "finish_reason", where, str),
        model=_opt(data, "model", where, str, ""),
        latency=_opt(data, "latency", where, float, 0.0),
        interrupted=_opt(data, "interrupted", where, bool, False),
        metadata={key: metadata[key] for key in METADATA_KEYS if key in metadata},
    )


def _load_usage(data: dict[str, Any], where: str) -> Usage:
    return Usage(**{f.name: _opt(data, f.name, where, int, 0) for f in fields(Usage)})


def _load_call(value: Any, where: str) -> ToolCall:
    data = _check(value, dict, where)
    keys = ("id", "name", "arguments")
    return ToolCall(*(_req(data, key, where, str) for key in keys))


def _load_message(value: Any, where: str) -> Message:
    data = dict(_check(value, dict, where))
    role = _req(data, "role", where, str)
    if role not in ROLES:
        raise _Invalid(f"{where}.role must be one of {', '.join(ROLES)}")
    _nullable(data, "content", where, str)
    _opt(data, "tool_calls", where, list, [])
    return cast(Message, data)


_TYPES = (str, int, float, bool, dict, list)
_NAMES = ("a string", "an integer", "a number", "true or false", "an object", "a list")
_KINDS: dict[type[Any], str] = dict(zip(_TYPES, _NAMES, strict=True))


def _check(value: Any, kind: type[T], where: str, *, nullable: bool = False) -> T:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise _Invalid(f"{where} must be {_KINDS[kind]}{' or null' if nullable else ''}")


def _req(data: dict[str, Any], key: str, where: str, kind: type[T]) -> T:
    place = f"{where}.{key}" if where else key
    if key not in data:
        raise _Invalid(f"{place} is missing")
    return _check(data[key], kind, place)


def _opt(data: dict[str, Any], key: str, where: str, kind: type[T], default: T) -> T:
    return _check(data[key], kind, f"{where}.{key}") if key in data else default


def _nullable(data: dict[str, Any], key: str, where: str, kind: type[T]) -> T | None:
    value = data.get(key)
    return None if value is None else _check(value, kind, f"{where}.{key}", nullable=True)


# -- exporting ----------------------------------------------------------------


def export_markdown(threads: Mapping[str, Thread], *, names: Sequence[str] | None = None) -> str:
    """A readable markdown transcript: a header line, then ``# Thread: name`` per thread."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    parts = [f"*Exported from gmi_magics at {stamp}*"]
    for name, thread in _select(threads, names).items():
        body = transcript_markdown(thread.turns, system=thread.system)
        parts.append(f"# Thread: {name}\n\n*Model: {thread.model}*\n\n{body}")
    return "\n\n".join(parts) + "\n"


def export_path(
    path: PathLike,
    threads: Mapping[str, Thread],
    names: Sequence[str] | None = None,
    *,
    secrets: Sequence[str] = (),
) -> int:
    """Write ``.json`` (a loadable chat file) or markdown (anything else); return turns."""
    if Path(path).suffix.lower() == ".json":
        return save_threads(path, threads, names=names, secrets=secrets)
    chosen = _select(threads, names)
    text = export_markdown(chosen)
    _refuse_secrets(text, secrets, path)
    _write_atomic(path, text)
    return sum(len(thread.turns) for thread in chosen.values())
