"""``%gmi explain`` and ``--error``: the last error's report, without IPython's frames."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from helpers import last_user_text, one_error_line

from gmi_magics.testing import reply


@pytest.fixture
def no_last_error(monkeypatch):
    """Forget any exception an earlier test left in ``sys.last_*``."""
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        monkeypatch.delattr(sys, name, raising=False)


FAILING_CELL = "def f():\n    return 1/0\nf()"


def _assert_error_report(text: str) -> None:
    assert "ZeroDivisionError: division by zero" in text
    assert "return 1/0" in text and "in f" in text
    assert "interactiveshell.py" not in text
    assert "IPython" not in text
    assert FAILING_CELL in text


def test_explain_sends_the_error_traceback_and_cell(shell, server):
    assert not shell.run(FAILING_CELL).success
    server.enqueue(reply("You divided by zero."))
    result = shell.run("%gmi explain")
    assert result.success, result.error
    text = last_user_text(server)
    _assert_error_report(text)
    assert "You divided by zero." in result.last_html
    assert shell.conversation.turns[-1].user == text


def test_error_option_adds_the_report_before_the_question(shell, server):
    assert not shell.run(FAILING_CELL).success
    result = shell.run("%%gmi --error\nHow do I guard against this?")
    assert result.success, result.error
    text = last_user_text(server)
    _assert_error_report(text)
    assert text.endswith("How do I guard against this?")


def test_error_option_sends_the_failing_source_verbatim(shell, server):
    """The cell source in the report is evidence: it must not be interpolated."""
    shell.ns["df"] = pd.DataFrame({"a": [1, 2]})
    shell.ns["total"] = 99
    failing = 'print(f"{total} rows")\nprint(f"{df.colums}")'
    assert not shell.run(failing).success
    result = shell.run("%%gmi --error\nWhat went wrong?")
    assert result.success, one_error_line(result)
    text = last_user_text(server)
    assert failing in text
    assert "AttributeError" in text


def test_explain_a_syntax_error_sends_the_cell_not_ipython_frames(shell, server):
    broken = "total = 0\ndef f(:\n    return total"
    assert not shell.run(broken).success
    assert shell.run("%gmi explain").success
    text = last_user_text(server)
    assert "SyntaxError" in text
    assert "interactiveshell.py" not in text and "compilerop.py" not in text
    assert broken in text


@pytest.mark.parametrize("cell", ["%gmi explain", "%%gmi --error\nWhy?"])
def test_explain_without_an_error_is_a_usage_error(shell, server, no_last_error, cell):
    result = shell.run(cell)
    assert not result.success
    text = one_error_line(result)
    assert text == "UsageError: No error to explain yet: run the failing cell first."
    assert server.chat_requests == []
