"""%%gmi through a real InteractiveShell and real HTTP to the stand-in server."""

from __future__ import annotations

import pytest

from gmi_magics.testing import reply


def test_cell_streams_rendered_markdown_and_keeps_history(shell, server):
    server.enqueue(reply(["# Title\n\n", "| a | b |\n|---|---|\n| 1 | 2 |\n"]))
    first = shell.run("%%gmi\nExplain a p-value")
    assert first.success
    assert "<h1>Title</h1>" in first.last_html
    assert "<table>" in first.last_html
    assert "text/markdown" not in str(first.outputs)
    server.enqueue(reply("Second answer"))
    shell.run("%%gmi\nAnd a follow-up?")
    sent = server.last_request.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "Explain a p-value"
    assert sent[1]["content"].startswith("# Title")
    assert sent[2]["content"] == "And a follow-up?"
