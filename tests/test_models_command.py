"""``%gmi models``: the list, the default marked, and its failures in one line."""

from __future__ import annotations

from helpers import DEFAULT_MODEL, assert_clear_error, assert_one_clear_line

from gmi_magics.testing import DISCONNECT, chunk, sse, status


def test_models_lists_and_marks_default(shell, server):
    server.models = ["b/two", DEFAULT_MODEL, "a/one"]
    result = shell.run("%gmi models")
    assert result.success, result.error
    assert server.last_request.method == "GET"
    assert server.last_request.path == "/v1/models"
    lines = result.stdout.splitlines()
    assert "3 models" in lines[0]
    assert f"* {DEFAULT_MODEL}" in lines
    assert "  a/one" in lines and "  b/two" in lines
    assert "!" not in result.stdout


def test_models_warns_about_unknown_default(shell, server, monkeypatch):
    monkeypatch.setenv("GMI_MODEL", "nobody/serves-this")
    result = shell.run("%gmi models")
    assert result.success, result.error
    assert "*" not in result.stdout.split(":", 1)[1].replace("(* = current default)", "")
    warning = [line for line in result.stdout.splitlines() if "nobody/serves-this" in line]
    assert warning and warning[0].startswith("!")
    assert "not served" in warning[0]


def test_models_subcommand_401(shell, server):
    server.enqueue_models(status(401, {"error": {"message": "Authentication Fails"}}))
    result = shell.run("%gmi models")
    assert_clear_error(result, "AuthenticationError", "401", "Authentication Fails")
    assert server.last_request.path == "/v1/models"
    listed = shell.run("%gmi models")
    assert listed.success, listed.everything
    assert "deepseek-ai/DeepSeek-V3.2-Exp" in listed.stdout


def test_models_disconnect_is_one_line(shell, server):
    server.enqueue_models(sse(chunk("x"), DISCONNECT))
    assert_one_clear_line(shell.run("%gmi models"), "StreamError")
