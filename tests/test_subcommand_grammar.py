"""A %gmi line is a subcommand only when it fits that subcommand's grammar exactly."""

from __future__ import annotations

import pytest

from gmi_magics.testing import reply

QUESTIONS = [
    "system of equations: how do I solve 2x + y = 3?",
    "system of equations in two unknowns",
    "save time?",
    "save time with pandas",
    "tools for data cleaning?",
    "tools for cleaning data",
    "load balancing explained",
    "load balancing?",
    "export a DataFrame to Excel",
    "history of Rome in one line",
    "reset a git branch",
    "undo a commit?",
    "models of regression",
    "config files in Python",
    "retry logic with backoff",
    "usage of numpy.where",
    "explain list comprehensions",
    "last element of a list",
    "chats between two users",
    "panel data in pandas",
    "history?",
    "models?",
]


@pytest.mark.parametrize("line", QUESTIONS)
def test_lines_that_do_not_fit_a_subcommand_are_questions(shell, server, line):
    server.enqueue(reply("Answer"))
    before = shell.conversation.system
    result = shell.run(f"%gmi {line}")
    assert result.success, result.error
    assert server.chat_requests, f"{line!r} was eaten as a subcommand"
    assert server.last_request.json["messages"][-1]["content"] == line
    assert shell.conversation.system == before


@pytest.mark.parametrize(
    "question", ["history", "system Be brief", "--chat x", "reset?", "save a.json", "ask me"]
)
def test_ask_always_asks(shell, server, question):
    server.enqueue(reply("Answer"))
    result = shell.run(f"%gmi ask {question}")
    assert result.success, result.error
    assert server.last_request.json["messages"][-1]["content"] == question


@pytest.mark.parametrize("question", ['"median"?', "what's `df.x`?", "a  b   c?", "x = {1, 2}?"])
def test_line_questions_keep_their_exact_text(shell, server, question):
    server.enqueue(reply("Answer"))
    shell.run(f"%gmi {question}")
    assert server.last_request.json["messages"][-1]["content"] == question


def test_system_with_quoted_text_sets_and_says_so(shell, server):
    result = shell.run('%gmi system "Be brief."')
    assert shell.conversation.system == "Be brief."
    assert "Be brief." in result.stdout and not server.chat_requests


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("reset", "cleared"),
        ("undo", "Nothing to undo"),
        ('system ""', "cleared"),
        ("tools none", "Default tools"),
    ],
)
def test_state_changing_subcommands_say_what_changed(shell, server, line, said):
    result = shell.run(f"%gmi {line}")
    assert result.success, result.error
    assert said in result.stdout
    assert len(result.stdout.strip().splitlines()) == 1


def test_save_load_with_file_names_still_work(shell, server, tmp_path):
    server.enqueue(reply("A"))
    shell.run("%%gmi\nQ")
    path = tmp_path / "chat.json"
    assert "Saved 1 turn" in shell.run(f"%gmi save {path}").stdout
    assert "Loaded" in shell.run(f"%gmi load {path}").stdout
    assert len(server.chat_requests) == 1


def test_question_mark_lines_inside_string_literals_are_left_alone(shell, server):
    cell = 'text = """\n%gmi is this kept?\n"""\n'
    result = shell.run(cell)
    assert result.success, result.error
    assert shell.ns["text"] == "\n%gmi is this kept?\n"
    assert not server.chat_requests


@pytest.mark.parametrize(
    ("fault", "expected"),
    [(401, "AuthenticationError"), (429, "RateLimitError"), ("usage", "UsageError")],
)
def test_explain_after_a_failed_gmi_cell_explains_it(shell, server, fault, expected):
    from gmi_magics.testing import status

    if fault == "usage":
        failed = shell.run("%%gmi --max-tokens lots\nQ")
    else:
        server.enqueue(*[status(fault)] * 3)
        failed = shell.run("%%gmi\nQ")
    assert not failed.success
    requests = len(server.chat_requests)
    result = shell.run("%gmi explain")
    assert result.success, result.error
    assert "No error to explain" not in result.everything
    assert expected in result.stdout and "What to do:" in result.stdout
    assert len(server.chat_requests) == requests, "nothing is sent for our own errors"


@pytest.mark.parametrize("line", ["export analysis.ipynb", "save notes.txt", "load data.csv"])
def test_a_file_of_the_wrong_kind_is_refused_not_asked(shell, server, line, tmp_path):
    (tmp_path / "analysis.ipynb").write_text("{}")
    result = shell.run(f"%cd -q {tmp_path}\n%gmi {line}")
    assert not result.success
    assert not server.chat_requests
    assert (tmp_path / "analysis.ipynb").read_text() == "{}"


def test_last_shows_no_authorization_when_no_key_was_sent(shell, server, monkeypatch):
    import json as _json

    monkeypatch.delenv("GMI_API_KEY")
    server.enqueue(reply("local"))
    assert shell.run("%%gmi\nQ").success
    assert "authorization" not in {k.lower() for k in server.last_request.headers}
    shown = _json.loads(shell.run("%gmi last").stdout)
    assert shown["headers"] == {}
