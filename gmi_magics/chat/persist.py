"""Save, load and export conversations: a documented, versioned JSON file.

The file is UTF-8 JSON, one object::

    {"format": "gmi_magics.chat", "version": 1, "saved_at": "2026-01-31T12:00:00+00:00",
     "threads": {"<name>": {
        "system": str | null, "model": str,
        "turns": [{"user": str,
                   "content": [{"type": "text", "text": str} | {"type": "image_url",
                                "image_url": {"url": "data:image/png;base64,..."}}] | null,
                   "reply": {"text": str, "reasoning": str, "model": str,
                             "finish_reason": str | null,
                             "usage": {"prompt_tokens": int, "completion_tokens": int,
                                       "total_tokens": int, "reasoning_tokens": int,
                                       "cached_tokens": int} | null,
                             "latency": number, "interrupted": bool,
                             "tool_calls": [{"id": str, "name": str, "arguments": str}],
                             "metadata": {"params"?, "thread"?, "turn"?, "host"?,
                                          "requested_model"?, "stream"?, "confirm"?,
                                          "instruction"?}},
                   "extra": [assistant tool-call messages, each followed by its tool results],
                   "cell_id": str | null, "tools": [str]}]}}}

``user``, ``reply``, ``reply.text`` and each thread's ``model`` and ``turns`` are
required; other fields default when absent, but must have the stated type when
present (``chat.validate`` checks every field later code reads, and refuses files
over ``MAX_FILE_BYTES`` or nested deeper than ``checks.MAX_DEPTH``).  Unknown keys
are ignored.  There is no place for an API key: only the whitelisted
``Reply.metadata`` keys above are written, and ``save_threads`` refuses to write text
containing any of the ``secrets`` it is given.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ..errors import GMIError
from ..jsonsafe import JSONLimitError, loads_bounded
from ..types import Reply
from .transcript import transcript_markdown
from .turns import Turn
from .validate import METADATA_CHECKS, Invalid, LoadedThread, load_threads_document

__all__ = ["LoadedThread", "PersistenceError", "export_path", "load_threads", "save_threads"]

FORMAT = "gmi_magics.chat"
VERSION = 1
METADATA_KEYS = tuple(METADATA_CHECKS)
MAX_FILE_BYTES = 64 * 2**20
EXPORT_SUFFIXES = (".md", ".markdown", ".json")
TRANSCRIPT_MARKER = "<!-- gmi_magics transcript -->"
_OURS = re.compile(
    r'\A\ufeff?\s*(?:\{\s*"format"\s*:\s*"gmi_magics\.chat"|'
    + re.escape(TRANSCRIPT_MARKER)
    + r"|\*Exported from gmi_magics at )"  # transcripts written before the marker
)

PathLike = str | os.PathLike[str]


class PersistenceError(GMIError):
    """A chat file could not be saved, loaded or exported."""

    hint = "Nothing was changed."


class Thread(Protocol):
    """What saving and exporting need from a thread (a ``Conversation`` or ``LoadedThread``)."""

    system: str | None
    model: str
    turns: list[Turn]


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
    force: bool = False,
) -> int:
    """Write ``threads`` to ``path`` atomically; return the number of turns written.

    An existing file that gmi_magics did not write is replaced only with ``force``.
    """
    document = dump_threads(threads, names=names)
    try:
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    except (TypeError, ValueError) as error:
        raise PersistenceError(f"cannot save to {os.fspath(path)}: {error}") from error
    _refuse_secrets(text, secrets, path)
    _write_atomic(path, text, force=force)
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
    data: dict[str, Any] = {"user": turn.user, "reply": _dump_reply(turn.reply), "extra": extra}
    data.update(cell_id=turn.cell_id, tools=list(turn.tools))
    if turn.content is not None:
        data["content"] = [dict(part) for part in turn.content]
    return data


def _dump_reply(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text": reply.text,
        "reasoning": reply.reasoning,
        "model": reply.model,
        "finish_reason": reply.finish_reason,
        "usage": reply.usage.to_dict() if reply.usage is not None else None,
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


def _write_atomic(path: PathLike, text: str, *, force: bool) -> None:
    """Write a temp file beside ``path``, then ``os.replace`` it: never a partial file."""
    target = Path(path)
    if not force:
        _refuse_foreign(target)
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


def _refuse_foreign(target: Path) -> None:
    """Refuse to replace a non-empty file that is not a chat file or transcript of ours."""
    try:
        with target.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except (FileNotFoundError, IsADirectoryError):
        return  # nothing to lose; a directory fails at os.replace with a clear error
    except OSError as error:
        raise PersistenceError(f"cannot check {target}: {error.strerror or error}") from error
    if head.strip() and not _OURS.match(head):
        raise PersistenceError(
            f"refusing to overwrite {target}: gmi_magics did not write it",
            hint="Choose another file name, or replace it on purpose with --force.",
        )


# -- loading ------------------------------------------------------------------


def load_threads(path: PathLike) -> dict[str, LoadedThread]:
    """Read and validate a chat file; all or nothing, ``PersistenceError`` on any problem."""
    name = os.fspath(path)
    document = _read_json(path)
    if not isinstance(document, dict):
        found = "an array" if isinstance(document, list) else "a single value"
        raise PersistenceError(f"{name} is not a gmi_magics chat file (it holds {found})")
    _check_header(document, name)
    try:
        return load_threads_document(document)
    except Invalid as problem:
        raise PersistenceError(f"{name}: {problem}") from None


def _read_json(path: PathLike) -> Any:
    name = os.fspath(path)
    text = _read_text(path, name)
    try:
        return loads_bounded(text)  # depth-checked, refuses NaN/Infinity
    except json.JSONDecodeError as error:
        raise PersistenceError(
            f"{name} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except JSONLimitError as error:  # too deep, NaN / Infinity
        raise PersistenceError(f"{name} is not a JSON file gmi_magics reads ({error})") from None


def _read_text(path: PathLike, name: str) -> str:
    """The file's text, refusing anything over ``MAX_FILE_BYTES`` before reading it all."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise PersistenceError(f"{name}: no such file") from None
    except OSError as error:
        raise PersistenceError(f"cannot read {name}: {error.strerror or error}") from error
    if len(data) > MAX_FILE_BYTES:
        raise PersistenceError(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PersistenceError(f"{name} is not UTF-8 text") from None


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


# -- exporting ----------------------------------------------------------------


def export_markdown(threads: Mapping[str, Thread], *, names: Sequence[str] | None = None) -> str:
    """A readable markdown transcript: our marker, a header line, ``# Thread: name`` each."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    parts = [f"{TRANSCRIPT_MARKER}\n*Exported from gmi_magics at {stamp}*"]
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
    force: bool = False,
) -> int:
    """Write ``.json`` (a loadable chat file) or ``.md``/``.markdown``; return turns.

    Other names are refused; so is replacing a file gmi_magics did not write, unless ``force``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise PersistenceError(
            f"cannot export to {os.fspath(path)}: not a .md, .markdown or .json file name",
            hint="Export a transcript to e.g. chat.md, or a loadable chat file to chat.json.",
        )
    if suffix == ".json":
        return save_threads(path, threads, names=names, secrets=secrets, force=force)
    chosen = _select(threads, names)
    text = export_markdown(chosen)
    _refuse_secrets(text, secrets, path)
    _write_atomic(path, text, force=force)
    return sum(len(thread.turns) for thread in chosen.values())
