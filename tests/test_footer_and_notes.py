"""What stands under a reply: the usage footer and the notes (max_tokens cut)."""

from __future__ import annotations

import re

from helpers import DEFAULT_MODEL, USAGE

from gmi_magics.testing import reply

FOOTER = re.compile(r"(\S+) · (\d+) in / (\d+) out tokens · \d+\.\d s")


def test_usage_footer_in_html_and_plain(shell, server):
    server.enqueue(reply("Answer", usage=USAGE))
    result = shell.run("%%gmi\nQ")
    html_footer = re.search(r'<div class="gmi-footer">([^<]*)</div>', result.last_html)
    assert html_footer, result.last_html
    assert FOOTER.fullmatch(html_footer.group(1)).groups() == (DEFAULT_MODEL, "12", "7")
    plain = result.outputs[-1]["text/plain"]
    assert plain.startswith("Answer")
    assert FOOTER.search(plain).groups() == (DEFAULT_MODEL, "12", "7")


def test_footer_shows_the_served_model(shell, server):
    server.enqueue(reply("Answer", usage=USAGE, model="served/variant"))
    result = shell.run("%%gmi\nQ")
    assert "served/variant · 12 in / 7 out tokens" in result.last_html


def test_finish_reason_length_note(shell, server):
    server.enqueue(reply("Cut sho", finish_reason="length"))
    result = shell.run("%%gmi --max-tokens 5\nWrite an essay")
    assert result.success, result.error
    note = re.search(r'<div class="gmi-note">([^<]*)</div>', result.last_html)
    assert note, result.last_html
    assert "max_tokens=5" in note.group(1)
    assert "--max-tokens" in note.group(1)
    assert "max_tokens=5" in result.outputs[-1]["text/plain"]
    assert shell.conversation.turns[-1].reply.finish_reason == "length"


def test_normal_reply_has_no_note(shell, server):
    server.enqueue(reply("Fine"))
    result = shell.run("%%gmi\nQ")
    assert "gmi-note" not in result.last_html.split("</style>", 1)[1]


def test_length_finish_shows_a_max_tokens_note(shell, server):
    server.enqueue(reply("This reply was cut", finish_reason="length"))
    result = shell.run("%%gmi --max-tokens 5\nWrite an essay")
    assert result.success, result.everything
    assert server.last_request.json["max_tokens"] == 5
    final = result.outputs[-1]
    for shown in (final["text/html"], final["text/plain"]):
        assert "This reply was cut" in shown
        assert "max_tokens" in shown
        assert "--max-tokens" in shown


def test_length_finish_without_a_limit_still_explains(shell, server):
    server.enqueue(reply("Also cut", finish_reason="length"))
    result = shell.run("%%gmi\nWrite an essay")
    assert result.success
    assert "max_tokens" in result.last_html and "--max-tokens" in result.last_html
