"""``%gmi export`` / ``%gmi save`` in a real shell never replace a file gmi_magics did not write."""

from __future__ import annotations

import re

import pytest

from gmi_magics.testing import reply

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


def _lines(result) -> list[str]:
    text = ANSI.sub("", result.stdout + result.stderr)
    return [line for line in text.splitlines() if line.strip()]


def _one_turn(shell, server) -> None:
    server.enqueue(reply("A1"))
    assert shell.run("%%gmi\nQ1").success


def test_export_to_a_notebook_name_is_refused(shell, server, tmp_path):
    _one_turn(shell, server)
    notebook = tmp_path / "analysis.ipynb"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    result = shell.run(f"%gmi export {notebook}")
    assert type(result.error).__name__ == "PersistenceError"
    lines = _lines(result)
    assert lines[0].startswith(f"PersistenceError: cannot export to {notebook}"), lines
    assert "Traceback" not in result.stdout + result.stderr and len(lines) <= 2
    assert notebook.read_text(encoding="utf-8") == NOTEBOOK
    assert [p.name for p in tmp_path.iterdir()] == ["analysis.ipynb"]


@pytest.mark.parametrize(("command", "name"), [("export", "notes.md"), ("save", "nb.json")])
def test_a_foreign_file_is_kept(shell, server, tmp_path, command, name):
    _one_turn(shell, server)
    path = tmp_path / name
    path.write_text(NOTEBOOK, encoding="utf-8")
    result = shell.run(f"%gmi {command} {path}")
    lines = _lines(result)
    assert (
        lines[0] == f"PersistenceError: refusing to overwrite {path}: gmi_magics did not write it"
    )
    assert "--force" in lines[1] and len(lines) == 2
    assert path.read_text(encoding="utf-8") == NOTEBOOK
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("name", ["chat.md", "chat.json"])
def test_our_own_files_are_replaced_again(shell, server, tmp_path, name):
    _one_turn(shell, server)
    path = tmp_path / name
    assert shell.run(f"%gmi export {path}").success
    server.enqueue(reply("A2"))
    assert shell.run("%%gmi\nQ2").success
    result = shell.run(f"%gmi export {path}")
    assert result.success, result.error
    assert "A2" in path.read_text(encoding="utf-8")
    if name.endswith(".json"):
        assert shell.run(f"%gmi save {path}").success


@pytest.mark.parametrize(("command", "name"), [("export", "notes.md"), ("save", "nb.json")])
def test_force_replaces_a_foreign_file(shell, server, tmp_path, command, name):
    _one_turn(shell, server)
    path = tmp_path / name
    path.write_text(NOTEBOOK, encoding="utf-8")
    result = shell.run(f"%gmi {command} --force {path}")
    assert result.success, result.error
    assert "A1" in path.read_text(encoding="utf-8")
