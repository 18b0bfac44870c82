"""Notebook-native conversations, end to end: a real shell, real HTTP to the stand-in.

Interpolation, ``%gmi explain`` / ``--error``, output formats, threads, re-runs (also
through nbclient and a real kernel), retry, save/load/export, the context budget,
provenance metadata on the display, usage and the token budget.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import TEST_KEY
from IPython.utils.capture import capture_output
from nbclient import NotebookClient

from gmi_magics.testing import reply, status
from gmi_magics.types import CodeBlock

DEFAULT_MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"


def sent_messages(server) -> list[dict[str, Any]]:
    return server.last_request.json["messages"]


def last_user_text(server) -> str:
    return sent_messages(server)[-1]["content"]


def run_with_metadata(shell, cell: str, **kwargs: Any) -> tuple[Any, list[Any]]:
    """Run a cell capturing the raw display outputs (with their ``.metadata``)."""
    with capture_output() as captured:
        outcome = shell.ip.run_cell(cell, **kwargs)
    return outcome, list(captured.outputs)


def one_error_line(result) -> str:
    """The error text the user saw (IPython prints it to stdout or stderr)."""
    text = (result.stdout + result.stderr).strip()
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def no_last_error(monkeypatch):
    """Forget any exception an earlier test left in ``sys.last_*``."""
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        monkeypatch.delattr(sys, name, raising=False)


# -- interpolation ------------------------------------------------------------------


def test_names_attributes_and_items_are_filled_in(shell, server):
    shell.ns.update(
        name="Ada", xs=[10, 20, 30], point=type("P", (), {"label": "origin"})(), cfg={"k": 5}
    )
    result = shell.run("%%gmi\nHi {name}: {xs[0]}, {xs[-1]}, {point.label}, {cfg['k']}.")
    assert result.success, result.error
    assert last_user_text(server) == "Hi Ada: 10, 30, origin, 5."


def test_undefined_names_and_other_braces_are_left_alone(shell, server):
    shell.ns.update(a=1, b=2, data={"x": 1})
    cell = (
        "def f(d):\n"
        "    return {k: v for k, v in d.items()}\n"
        'payload = {"model": "m", "messages": []}\n'
        'print(f"{undefined_name} and {other.attr}")\n'
        "Math: $\\frac{a}{b}$ and $x^{a}$ and $x_{b}$\n"
        "Empty {} and spaced { a } and {a+b}"
    )
    result = shell.run("%%gmi\n" + cell)
    assert result.success, result.error
    assert last_user_text(server) == cell


def test_escape_rule_for_defined_and_undefined_names(shell, server):
    shell.ns["name"] = "Ada"
    result = shell.run("%%gmi\nKeep {{name}}, fill {name}, leave {{nobody}} and {{ {a: 1} }}")
    assert result.success, result.error
    assert last_user_text(server) == "Keep {name}, fill Ada, leave {{nobody}} and {{ {a: 1} }}"


def test_no_interpolate_sends_the_text_as_written(shell, server):
    shell.ns["name"] = "Ada"
    result = shell.run("%%gmi --no-interpolate\nKeep {name} and {{name}} as written")
    assert result.success, result.error
    assert last_user_text(server) == "Keep {name} and {{name}} as written"


def test_line_mode_no_interpolate_sends_the_text_as_written(shell, server):
    """`%gmi --no-interpolate ...` must not be undone by IPython's own {var} expansion."""
    shell.ns["name"] = "Ada"
    result = shell.run("%gmi --no-interpolate Keep {name} as written")
    assert result.success, result.error
    assert last_user_text(server) == "Keep {name} as written"


def test_line_mode_escape_keeps_the_braces(shell, server):
    shell.ns["name"] = "Ada"
    result = shell.run("%gmi Keep {{name}} literally")
    assert result.success, result.error
    assert last_user_text(server) == "Keep {name} literally"


def test_line_mode_dataframe_gets_the_same_preview_as_a_cell(shell, server):
    shell.ns["df"] = pd.DataFrame({"price": [1.5, 2.5, 3.5], "qty": [1, 2, 3]})
    result = shell.run("%gmi Describe {df}")
    assert result.success, result.error
    assert "DataFrame: 3 rows × 2 columns" in last_user_text(server)


def test_failing_reference_is_one_usage_error_and_nothing_is_sent(shell, server):
    shell.ns["df"] = pd.DataFrame({"a": [1, 2]})
    result = shell.run("%%gmi\nWhat is in {df.colums}?")
    assert not result.success
    text = one_error_line(result)
    assert text.startswith("UsageError:"), text
    assert len(text.splitlines()) == 1, text
    assert "{df.colums}" in text
    assert "colums" in str(result.error)
    assert server.chat_requests == []


def test_dataframe_is_sent_as_shape_dtypes_and_a_markdown_head(shell, server):
    shell.ns["df"] = pd.DataFrame(
        {"city": [f"c{i}" for i in range(25)], "temp": [i / 2 for i in range(25)]}
    )
    result = shell.run("%%gmi\nDescribe this data:\n{df}")
    assert result.success, result.error
    text = last_user_text(server)
    assert text.startswith("Describe this data:\nDataFrame: 25 rows × 2 columns\n")
    assert "columns: city (" in text and "temp (float64)" in text
    assert "|  | city | temp |\n|---|---|---|\n| 0 | c0 | 0 |" in text
    assert "| 9 | c9 | 4.5 |" in text
    assert "| 10 |" not in text
    assert text.endswith("… 15 more rows")


def test_numpy_array_is_sent_as_shape_and_dtype(shell, server):
    shell.ns["arr"] = np.arange(12, dtype=np.float64).reshape(3, 4)
    result = shell.run("%%gmi\nWhat is {arr}?")
    assert result.success, result.error
    text = last_user_text(server)
    assert "ndarray shape=(3, 4) dtype=float64" in text
    assert "[ 8.  9. 10. 11.]]" in text


def test_in_and_out_of_earlier_cells(shell, server):
    assert shell.run("6 * 7", store_history=True).success
    number = shell.ip.execution_count - 1
    assert shell.ns["Out"][number] == 42
    result = shell.run(f"%%gmi\nCell {{In[{number}]}} gave {{Out[{number}]}}.")
    assert result.success, result.error
    assert last_user_text(server) == "Cell 6 * 7 gave 42."


# -- %gmi explain and --error ---------------------------------------------------------

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


# -- output formats -----------------------------------------------------------------

CODE_REPLY = (
    "Plot it like this:\n\n"
    "```python\nimport matplotlib.pyplot as plt\nplt.plot(df.x)\n```\n\n"
    "Install first:\n\n```bash\npip install matplotlib\n```\n\n"
    "```py\nplt.show()\n```\n"
)


def test_code_format_puts_the_python_blocks_into_the_next_cell(shell, server):
    shell.ip.rl_next_input = None
    server.enqueue(reply(CODE_REPLY))
    result = shell.run("%%gmi -f code -o r\nPlot df.x")
    assert result.success, result.error
    assert shell.ip.rl_next_input == "import matplotlib.pyplot as plt\nplt.plot(df.x)\n\nplt.show()"
    assert "```" not in shell.ip.rl_next_input
    assert shell.ns["r"].code_blocks == [
        CodeBlock("python", "import matplotlib.pyplot as plt\nplt.plot(df.x)"),
        CodeBlock("bash", "pip install matplotlib"),
        CodeBlock("py", "plt.show()"),
    ]


def test_code_blocks_list_each_fence_with_its_language(shell, server):
    server.enqueue(reply("```SQL\nselect 1\n```\n\ntext\n\n~~~\nplain\n~~~\n"))
    assert shell.run("%%gmi -o r\nQ").success
    blocks = shell.ns["r"].code_blocks
    assert blocks == [CodeBlock("sql", "select 1"), CodeBlock("", "plain")]
    assert shell.ns["r"].code == "plain"


def test_json_format_asks_for_json_and_stores_the_object(shell, server):
    server.enqueue(reply('{"rows": 3, "columns": ["a", "b"]}'))
    result = shell.run("%%gmi -f json -o summary\nSummarise the data as JSON.")
    assert result.success, result.error
    body = server.last_request.json
    assert body["response_format"] == {"type": "json_object"}
    assert shell.ns["summary"] == {"rows": 3, "columns": ["a", "b"]}


def test_json_format_accepts_a_fenced_reply(shell, server):
    server.enqueue(reply('```json\n{"ok": true, "n": [1, 2]}\n```'))
    result = shell.run("%%gmi -f json -o summary\nSummarise")
    assert result.success, result.error
    assert shell.ns["summary"] == {"ok": True, "n": [1, 2]}
    assert "json" in last_user_text(server).lower(), "the model is told to answer in JSON"


def test_invalid_json_is_one_clear_error_and_the_turn_is_kept(shell, server):
    shell.ns.pop("summary", None)
    server.enqueue(reply("Sure! Here is a summary: rows=3"))
    result = shell.run("%%gmi -f json -o summary\nSummarise as JSON")
    assert not result.success
    assert type(result.error).__name__ == "ReplyFormatError"
    lines = one_error_line(result).splitlines()
    assert lines[0].startswith("ReplyFormatError: The reply is not valid JSON"), lines
    assert len(lines) <= 2 and all("Traceback" not in line for line in lines), lines
    assert "summary" not in shell.ns
    turns = shell.conversation.turns
    assert len(turns) == 1
    assert turns[0].reply.text == "Sure! Here is a summary: rows=3"


def test_text_format_prints_plain_text(shell, server):
    server.enqueue(reply("# Title\n\n**bold** and `code`"))
    result = shell.run("%%gmi -f text\nQ")
    assert result.success, result.error
    assert result.outputs == []
    assert "# Title\n\n**bold** and `code`" in result.stdout
    assert "<" not in result.stdout


# -- threads ------------------------------------------------------------------------


def test_named_threads_keep_separate_histories(shell, server):
    server.enqueue(reply("D1"), reply("R1"), reply("D2"), reply("R2"))
    shell.run("%%gmi\nDefault one")
    shell.run("%%gmi --chat review\nReview one")
    assert sent_messages(server) == [{"role": "user", "content": "Review one"}]
    shell.run("%%gmi\nDefault two")
    assert sent_messages(server) == [
        {"role": "user", "content": "Default one"},
        {"role": "assistant", "content": "D1"},
        {"role": "user", "content": "Default two"},
    ]
    shell.run("%%gmi --chat review\nReview two")
    assert sent_messages(server) == [
        {"role": "user", "content": "Review one"},
        {"role": "assistant", "content": "R1"},
        {"role": "user", "content": "Review two"},
    ]


def test_chats_lists_threads_with_turn_counts(shell, server):
    assert "No conversations yet." in shell.run("%gmi chats").stdout
    server.enqueue(reply("D1"), reply("D2"), reply("R1"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    shell.run("%%gmi --chat review -s Tutor\nR")
    lines = shell.run("%gmi chats").stdout.splitlines()
    assert lines == ["default: 2 turns", "review: 1 turn · system: 'Tutor'"]


def test_reset_of_one_thread_leaves_the_others(shell, server):
    server.enqueue(reply("D1"), reply("R1"), reply("D2"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi --chat review\nR1")
    result = shell.run("%gmi reset --chat review")
    assert "Conversation 'review' cleared (1 turn removed)." in result.stdout
    assert shell.magics.session.threads["review"].turns == []
    shell.run("%%gmi\nQ2")
    assert [m["content"] for m in sent_messages(server)] == ["Q1", "D1", "Q2"]


def test_system_subcommand_sets_and_shows_a_threads_prompt(shell, server):
    result = shell.run("%gmi system --chat review You are a patient statistics tutor")
    assert result.success, result.error
    assert "You are a patient statistics tutor" in result.stdout
    server.enqueue(reply("D"), reply("R"))
    shell.run("%%gmi\nDefault question")
    assert sent_messages(server) == [{"role": "user", "content": "Default question"}]
    shell.run("%%gmi --chat review\nWhat is a p-value?")
    assert sent_messages(server)[0] == {
        "role": "system",
        "content": "You are a patient statistics tutor",
    }
    shown = shell.run("%gmi system --chat review").stdout
    assert shown.strip() == "System prompt of 'review': 'You are a patient statistics tutor'"
    assert shell.run("%gmi system").stdout.strip() == "System prompt of 'default': None"


def test_system_subcommand_keeps_apostrophes(shell, server):
    result = shell.run('%gmi system "Don\'t give the answer away"')
    assert result.success, one_error_line(result)
    server.enqueue(reply("ok"))
    shell.run("%%gmi\nQ")
    assert sent_messages(server)[0] == {"role": "system", "content": "Don't give the answer away"}


def test_system_option_sets_the_threads_prompt(shell, server):
    server.enqueue(reply("R1"), reply("R2"))
    shell.run("%%gmi --chat review -s 'Be Socratic.'\nQ1")
    shell.run("%%gmi --chat review\nQ2")
    assert sent_messages(server)[0] == {"role": "system", "content": "Be Socratic."}
    assert "'Be Socratic.'" in shell.run("%gmi system --chat review").stdout


# -- re-running cells -----------------------------------------------------------------


def test_rerun_replaces_and_append_mode_appends(shell, server):
    server.enqueue(reply("A"), reply("A again"), reply("Follow"))
    shell.run("%%gmi\nQ", cell_id="cell-1")
    shell.run("%%gmi\nQ", cell_id="cell-1")
    shell.run("%%gmi\nNext", cell_id="cell-2")
    assert [m["content"] for m in sent_messages(server)] == ["Q", "A again", "Next"]

    shell.run('%config GMIMagics.rerun = "append"')
    server.enqueue(reply("B"), reply("B again"))
    shell.run("%%gmi\nQ", cell_id="cell-1")
    shell.run("%%gmi\nQ", cell_id="cell-1")
    assert [m["content"] for m in sent_messages(server)] == [
        *("Q", "A again", "Next", "Follow", "Q", "B", "Q"),
    ]
    assert len(shell.conversation.turns) == 4


def execute_with_cell_id(client: NotebookClient, cell: Any, index: int) -> None:
    """Execute ``cell`` as JupyterLab does: its id in the request's ``metadata.cellId``.

    nbclient (0.11) sends no cell id, so a plain ``execute_cell`` is a run without one.
    """
    kc = client.kc
    plain_execute = kc.execute

    def execute(code: str, **options: Any) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": options.get("store_history", True),
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": options.get("stop_on_error", True),
        }
        message = kc.session.msg("execute_request", content, metadata={"cellId": cell.id})
        kc.shell_channel.send(message)
        return str(message["header"]["msg_id"])

    kc.execute = execute
    try:
        client.execute_cell(cell, index)
    finally:
        kc.execute = plain_execute


def test_rerun_in_a_real_kernel(server):
    """A real kernel: the same cell id replaces its turn; a run without an id appends."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext gmi_magics"),
        nbformat.v4.new_code_cell("%%gmi\nWhat is a p-value?"),
        nbformat.v4.new_code_cell("%%gmi\nAnd a confidence interval?"),
    ]
    server.enqueue(reply("First try"), reply("Second try"), reply("CI answer"), reply("Third"))
    client = NotebookClient(notebook, timeout=60, kernel_name="python3")
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
        execute_with_cell_id(client, notebook.cells[1], 1)
        execute_with_cell_id(client, notebook.cells[1], 1)
        first_outputs = [o for o in notebook.cells[1].outputs if o.output_type == "display_data"]
        execute_with_cell_id(client, notebook.cells[2], 2)
        client.execute_cell(notebook.cells[1], 1)  # no cell id: appends
    requests = server.chat_requests
    assert len(requests) == 4
    assert requests[1].json["messages"] == [{"role": "user", "content": "What is a p-value?"}]
    assert requests[2].json["messages"] == [
        {"role": "user", "content": "What is a p-value?"},
        {"role": "assistant", "content": "Second try"},
        {"role": "user", "content": "And a confidence interval?"},
    ]
    assert [m["content"] for m in requests[3].json["messages"]] == [
        *("What is a p-value?", "Second try", "And a confidence interval?", "CI answer"),
        "What is a p-value?",
    ]
    (output,) = first_outputs
    assert "Second try" in output["data"]["text/html"]
    meta = output["metadata"]["gmi_magics"]
    assert (meta["thread"], meta["turn"], meta["host"]) == ("default", 1, "127.0.0.1")
    assert TEST_KEY not in json.dumps(notebook)


# -- %gmi retry ---------------------------------------------------------------------


def test_retry_reasks_the_last_message_and_replaces_the_reply(shell, server):
    server.enqueue(reply("A1"), reply("Bad answer"), reply("Better answer"))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    result = shell.run("%gmi retry")
    assert result.success, result.error
    assert "Better answer" in result.last_html
    assert sent_messages(server) == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    assert [(t.user, t.reply.text) for t in shell.conversation.turns] == [
        ("Q1", "A1"),
        ("Q2", "Better answer"),
    ]


def test_failed_retry_keeps_the_old_turn(shell, server):
    server.enqueue(reply("A1"), status(401, {"error": {"message": "bad key"}}))
    shell.run("%%gmi\nQ1")
    before = list(shell.conversation.turns)
    result = shell.run("%gmi retry")
    assert not result.success
    assert type(result.error).__name__ == "AuthenticationError"
    assert shell.conversation.turns == before


def test_failed_retry_keeps_the_old_turn_when_the_question_repeats(shell, server):
    server.enqueue(reply("A1"), reply("A2"), status(401, {"error": {"message": "bad key"}}))
    shell.run("%%gmi\nAgain?")
    shell.run("%%gmi\nAgain?")
    result = shell.run("%gmi retry")
    assert not result.success
    assert [t.reply.text for t in shell.conversation.turns] == ["A1", "A2"]


def test_retry_on_an_empty_thread(shell, server):
    result = shell.run("%gmi retry")
    assert not result.success
    assert "Nothing to retry" in one_error_line(result)
    assert server.chat_requests == []


# -- save, load, export ---------------------------------------------------------------


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


# -- the context budget ----------------------------------------------------------------


def _three_long_turns(shell, server) -> None:
    for n in (1, 2, 3):
        server.enqueue(reply(f"A{n} " + "y" * 77, usage=None))
        assert shell.run(f"%%gmi -s Be-brief\nQ{n} " + "x" * 77).success


def test_oldest_turns_are_left_out_to_fit_the_context_budget(shell, server):
    _three_long_turns(shell, server)
    # system 7 + new 24 + one turn 48 = 79 tokens (4 chars/token + 4 per message)
    shell.config(max_context_tokens=90)
    server.enqueue(reply("A4", usage=None))
    result = shell.run("%%gmi\nQ4 " + "x" * 77)
    assert result.success, result.error
    contents = [m["content"][:2] for m in sent_messages(server)]
    assert contents == ["Be", "Q3", "A3", "Q4"]
    assert sent_messages(server)[0] == {"role": "system", "content": "Be-brief"}
    assert "2 oldest turns not sent: context budget" in result.last_html
    assert "2 oldest turns not sent: context budget" in result.plain
    assert len(shell.conversation.turns) == 4, "left out of the request, not out of history"


def test_max_history_limits_the_turns_sent(shell, server):
    _three_long_turns(shell, server)
    server.enqueue(reply("A4"), reply("A5"))
    shell.run("%%gmi --max-history 1\nQ4")
    assert [m["content"][:2] for m in sent_messages(server)] == ["Be", "Q3", "A3", "Q4"]
    shell.run("%%gmi --max-history 0\nQ5")
    assert [m["content"][:2] for m in sent_messages(server)] == ["Be", "Q5"]


# -- provenance --------------------------------------------------------------------


def test_final_display_records_provenance(shell, server):
    usage = {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}
    server.enqueue(reply("R1"), reply("Answer", usage=usage, model="served/model"))
    shell.run("%%gmi --chat review\nFirst")
    outcome, outputs = run_with_metadata(
        shell, "%%gmi --chat review -t 0.3 --max-tokens 50\nSecond"
    )
    assert outcome.success, outcome.error_in_exec
    final = outputs[-1]
    assert "Answer" in final.data["text/html"]
    meta = final.metadata["gmi_magics"]
    assert meta["model"] == "served/model"
    assert meta["host"] == "127.0.0.1"
    assert meta["params"] == {"temperature": 0.3, "max_tokens": 50}
    assert meta["usage"]["prompt_tokens"] == 31
    assert meta["usage"]["completion_tokens"] == 9
    assert meta["usage"]["total_tokens"] == 40
    assert isinstance(meta["latency"], float) and 0 <= meta["latency"] < 30
    assert meta["finish_reason"] == "stop"
    assert (meta["thread"], meta["turn"]) == ("review", 2)
    assert TEST_KEY not in json.dumps(final.metadata)
    assert "b1a0" not in json.dumps(final.metadata)


def test_provenance_turn_index_after_a_rerun(shell, server):
    server.enqueue(reply("A"), reply("B"), reply("A2"))
    shell.run("%%gmi\nQa", cell_id="a")
    shell.run("%%gmi\nQb", cell_id="b")
    _, outputs = run_with_metadata(shell, "%%gmi\nQa again", cell_id="a")
    assert outputs[-1].metadata["gmi_magics"]["turn"] == 1


# -- usage and the token budget -------------------------------------------------------


def _usage_table(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        if line.startswith("Token budget"):
            continue
        name, *cells = line.split()
        rows[name] = cells
    return rows


def test_usage_per_thread_and_total(shell, server):
    server.enqueue(
        reply("a", usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}),
        reply("b", usage={"prompt_tokens": 150, "completion_tokens": 30, "total_tokens": 180}),
        reply("c", usage={"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}),
    )
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    shell.run("%%gmi --chat review\nR1")
    result = shell.run("%gmi usage")
    assert result.success, result.error
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["thread", "requests", "tokens", "in"]
    assert _usage_table(result.stdout) == {
        "default": ["2", "250", "50", "n/a"],
        "review": ["1", "40", "5", "n/a"],
        "total": ["3", "290", "55", "n/a"],
    }


def test_usage_shows_cost_with_prices(shell, server):
    shell.config(prices={DEFAULT_MODEL: (0.27, 0.41)})
    big = {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000}
    server.enqueue(reply("a", usage=big))
    shell.run("%%gmi\nQ1")
    rows = _usage_table(shell.run("%gmi usage").stdout)
    assert rows["default"] == ["1", "1,000,000", "500,000", "$0.4750"]
    assert rows["total"] == ["1", "1,000,000", "500,000", "$0.4750"]


def test_usage_cost_uses_the_model_that_answered(shell, server):
    """A cell run with -m on an unpriced model must not be billed at the default's price."""
    shell.config(prices={DEFAULT_MODEL: (0.27, 0.41)})
    big = {"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000}
    server.enqueue(reply("a", usage=big), reply("b", usage=big))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi -m Qwen/Qwen3-32B\nQ2")
    rows = _usage_table(shell.run("%gmi usage").stdout)
    assert rows["default"][:3] == ["2", "2,000,000", "0"]
    assert rows["default"][3] != "$0.5400", "Qwen tokens were billed at DeepSeek's price"


def test_token_budget_refuses_the_next_request(shell, server):
    shell.config(token_budget=100)
    server.enqueue(
        reply("a", usage={"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110})
    )
    assert shell.run("%%gmi\nQ1").success
    assert "Token budget: 100; 0 left." in shell.run("%gmi usage").stdout
    result = shell.run("%%gmi\nQ2")
    assert not result.success
    assert type(result.error).__name__ == "BudgetExceededError"
    lines = one_error_line(result).splitlines()
    assert lines[0] == "BudgetExceededError: The token budget of 100 is spent (110 used).", lines
    assert len(server.chat_requests) == 1
    assert [t.user for t in shell.conversation.turns] == ["Q1"]


def test_token_budget_not_yet_spent_allows_requests(shell, server):
    shell.config(token_budget=1000)
    server.enqueue(
        reply("a", usage={"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110}),
        reply("b"),
    )
    assert shell.run("%%gmi\nQ1").success
    assert shell.run("%%gmi\nQ2").success
    assert len(server.chat_requests) == 2


def test_data_science_notebook_is_committed_without_outputs():
    path = Path(__file__).parent.parent / "notebooks" / "data-science.ipynb"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    sources = "\n".join(c.source for c in notebook.cells)
    for piece in ("%load_ext gmi_magics", "{df}", "-f code", "-f json", "%gmi usage"):
        assert piece in sources
