"""Helpers shared by the feature tests (tests/test_*.py and the ``*_in_shell`` tests).

What the user saw (``one_error_line``, ``message_lines``), what was sent
(``sent_messages``, ``last_user_text``), and the failure checks: one clear error,
history unchanged, the next cell works.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import time
from typing import Any

from gmi_magics.testing import reply

ANSI = re.compile(r"\x1b\[[0-9;]*m")
DEFAULT_MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
NO_WAIT = {"retry-after": "0"}
NO_WAIT_MS = {"retry-after-ms": "0"}
HELLO = [{"role": "user", "content": "Hello"}]
SEED_Q, SEED_A = "Seed question", "Seed answer."


# --- what was sent and shown --------------------------------------------------------------


def sent_messages(server) -> list[dict[str, Any]]:
    return server.last_request.json["messages"]


def last_user_text(server) -> str:
    return sent_messages(server)[-1]["content"]


def one_error_line(result) -> str:
    """The error text the user saw (IPython prints it to stdout or stderr)."""
    text = (result.stdout + result.stderr).strip()
    return ANSI.sub("", text)


def config_rows(shell) -> dict[str, tuple[str, str]]:
    """``%gmi config`` as {setting: (value, source)}."""
    rows = {}
    for line in shell.run("%gmi config").stdout.splitlines():
        match = re.match(r"(\w[\w ]*?)\s{2,}(.*)\s{2}\((.*)\)$", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def heavy_modules_after(statement: str) -> str:
    """In a fresh interpreter, which of pandas/numpy/IPython ``statement`` imported."""
    heavy = "{'pandas', 'numpy', 'IPython'}"
    code = f"import sys; {statement}; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


# --- failures: one clear line, history untouched, the next cell works ------------------------


def error_lines(result) -> list[str]:
    text = ANSI.sub("", result.stdout + result.stderr)
    return [line for line in text.splitlines() if line.strip()]


def assert_one_clear_line(result, class_name: str) -> None:
    assert not result.success
    assert type(result.error).__name__ == class_name, result.error
    lines = error_lines(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert 1 <= len(lines) <= 3 and lines[0].startswith(f"{class_name}: "), lines


def seed(shell, server) -> list[Any]:
    """One good turn in history; returns a deep copy of the turns to compare against."""
    server.enqueue(reply(SEED_A))
    result = shell.run(f"%%gmi\n{SEED_Q}")
    assert result.success, result.everything
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [(SEED_Q, SEED_A)]
    return copy.deepcopy(shell.conversation.turns)


def message_lines(result) -> list[str]:
    """The non-empty lines the user saw outside the reply display (the error report)."""
    text = ANSI.sub("", result.stdout + "\n" + result.stderr)
    return [line for line in text.splitlines() if line.strip()]


def assert_no_traceback(result) -> None:
    """No traceback wall anywhere the user looks (the HTML carries Pygments CSS, whose
    comments name a ``Generic.Traceback`` token, so only the text parts are searched)."""
    assert "most recent call last" not in result.everything
    assert "Traceback" not in result.stdout + result.stderr + result.plain


def _assert_phrases(lines: list[str], phrases: tuple[str, ...]) -> str:
    text = "\n".join(lines)
    for phrase in phrases:
        assert phrase.lower() in text.lower(), (phrase, text)
    return text


def assert_clear_error(result, class_name: str, *phrases: str) -> str:
    """One clear error: ``ClassName: sentence`` then ``Hint: ...``; no traceback wall."""
    assert not result.success
    assert result.error is not None and type(result.error).__name__ == class_name
    assert_no_traceback(result)
    lines = message_lines(result)
    assert 2 <= len(lines) <= 3, lines
    assert lines[0].startswith(f"{class_name}: "), lines
    assert len(lines[0]) > len(class_name) + 10, lines  # a sentence, not just a name
    assert sum(line.startswith("Hint: ") for line in lines) == 1, lines
    assert sum(class_name in line for line in lines) == 1, lines  # shown once
    return _assert_phrases(lines, phrases)


def assert_usage_error(result, *phrases: str) -> str:
    assert not result.success
    assert_no_traceback(result)
    lines = message_lines(result)
    assert 1 <= len(lines) <= 2, lines
    assert lines[0].startswith("UsageError: "), lines
    return _assert_phrases(lines, phrases)


def assert_history_unchanged(shell, before) -> None:
    after = shell.conversation.turns
    assert len(after) == len(before)
    assert after == before
    assert [(t.user, t.reply.text, t.interrupted) for t in after] == [
        (t.user, t.reply.text, t.interrupted) for t in before
    ]


def assert_next_cell_works(shell, server, before) -> None:
    """A good reply now succeeds, and its request carries only the old history."""
    server.enqueue(reply("Recovered fine."))
    started = time.monotonic()
    result = shell.run("%%gmi\nNext question")
    assert result.success, result.everything
    assert time.monotonic() - started < 2
    assert "Recovered fine." in result.last_html
    sent = server.last_request.json["messages"]
    expected = [m for t in before for m in (t.user, t.reply.text)] + ["Next question"]
    assert [m["content"] for m in sent if m["role"] != "system"] == expected
    assert len(shell.conversation.turns) == len(before) + 1
    assert shell.conversation.turns[-1].reply.text == "Recovered fine."


def assert_recovers(shell, server, before) -> None:
    """History is exactly as ``before`` and the next cell works."""
    assert_history_unchanged(shell, before)
    assert_next_cell_works(shell, server, before)


def run_failure(shell, server, *scripts: Any, cell: str = "%%gmi\nDoomed question"):
    """Seed, enqueue ``scripts``, run the failing cell.

    Returns (result, turns before, chat requests the failing cell made).
    """
    before = seed(shell, server)
    server.enqueue(*scripts)
    count = len(server.chat_requests)
    result = shell.run(cell)
    return result, before, len(server.chat_requests) - count


XSS_TEXT = (
    "Hello <img src=x onerror=alert(1)> there [x](javascript:alert(1)) "
    '<script>alert(1)</script> and <a href="javascript:alert(2)">link</a> '
    "![p](javascript:alert(3)) <svg onload=alert(4)>done"
)


def enqueue_xss_stream(server: Any, where: str) -> None:
    """XSS payloads streamed three characters at a time in the answer or the thinking."""
    from gmi_magics.testing import reply

    pieces = [XSS_TEXT[i : i + 3] for i in range(0, len(XSS_TEXT), 3)]
    if where == "content":
        server.enqueue(reply(pieces, chunk_delay=0.005))
    else:
        server.enqueue(reply(["ok"], reasoning=pieces, chunk_delay=0.005))
