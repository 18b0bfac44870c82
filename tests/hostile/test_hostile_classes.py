"""The model cannot borrow the frontend's CSS classes (nor ids, styles, data-*)."""

from __future__ import annotations

import re

import pytest
from hostile_corpus import FRONTEND_CLASSES

from gmi_magics.display.markup import _TAGS, markdown_to_html, sanitize
from gmi_magics.testing import reply

_VOID = {"hr", "br"}
_CLASS = re.compile(r'class="([^"]*)"')


def _element(tag: str, attributes: str) -> str:
    if tag in _VOID:
        return f"<{tag} {attributes}>"
    inner = "<tr><td>x</td></tr>" if tag in ("table", "tbody", "thead", "tfoot") else "x"
    return f"<{tag} {attributes}>{inner}</{tag}>"


def _classes(page: str) -> set[str]:
    return {name for value in _CLASS.findall(page) for name in value.split()}


@pytest.mark.parametrize("tag", sorted(_TAGS))
def test_frontend_classes_are_dropped_on_every_allowed_tag(tag: str) -> None:
    borrowed = " ".join(FRONTEND_CLASSES)
    page = sanitize(_element(tag, f'class="{borrowed}"'))
    assert not _classes(page) & set(FRONTEND_CLASSES), page


@pytest.mark.parametrize("name", FRONTEND_CLASSES)
def test_each_frontend_class_is_dropped_through_markdown(name: str) -> None:
    text = f'<div class="{name}">a</div>\n\nb <span class="{name} k">c</span>'
    text += f' <code class="{name}">d</code>'
    assert name not in _classes(markdown_to_html(text))


@pytest.mark.parametrize("tag", sorted(_TAGS))
def test_ids_styles_and_data_attributes_are_dropped(tag: str) -> None:
    attributes = 'id="jp-main-dock-panel" style="position:fixed;inset:0" data-jp-theme-light="true"'
    attributes += ' data-command="notebook:run-all" aria-hidden="true" role="dialog" tabindex="0"'
    page = sanitize(_element(tag, attributes))
    for dropped in ("id=", "style=", "data-", "role=", "tabindex="):
        assert dropped not in page, page


def test_the_fake_session_expired_dialog_is_inert() -> None:
    text = (
        '<div class="jp-Dialog jp-HoverBox"><div class="jp-Dialog-content">'
        '<div class="jp-Dialog-header">Session expired</div>'
        '<span class="jp-Dialog-button jp-mod-accept">Log in again</span></div></div>'
    )
    page = markdown_to_html(text)
    assert "Session expired" in page and "class=" not in page


def test_our_own_code_highlighting_classes_survive() -> None:
    page = markdown_to_html("```python\nimport os  # c\nx = 'a'\n```\n\nand `inline`")
    assert '<div class="codehilite">' in page
    assert {"kn", "nn", "c1", "n", "o", "s1"} <= _classes(page)
    assert sanitize('<code class="language-python">x</code>') == (
        '<code class="language-python">x</code>'
    )
    assert sanitize('<span class="hll k jp-Dialog">x</span>') == '<span class="hll k">x</span>'


def test_a_reply_borrowing_classes_in_a_cell_and_in_history(shell, server) -> None:
    server.enqueue(reply('<div class="jp-Dialog modal fixed inset-0">Session expired</div>'))
    result = shell.run("%%gmi\nhi")
    assert result.success, result.error
    history = shell.run("%gmi history")
    for page in (result.last_html, history.last_html):
        assert "Session expired" in page
        assert not _classes(page) & {"jp-Dialog", "modal", "fixed", "inset-0"}
