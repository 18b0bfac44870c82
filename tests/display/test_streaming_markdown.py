"""Live rendering caches finished blocks; at every point it must match a full render."""

from __future__ import annotations

import random
import re

import pytest

from gmi_magics.display.markup import markdown_to_html
from gmi_magics.display.streaming_markdown import StreamingMarkdown

DOCUMENTS = {
    "prose": "# Title\n\nFirst paragraph with *emphasis*.\n\nSecond one.\n\n## Next\n\nEnd.",
    "code": "Intro.\n\n```python\nx = 1\n\n\ny = 2\n```\n\nAfter the code.\n\nMore.",
    "table": "Data:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nDone.",
    "lists": "Steps:\n\n1. one\n\n2. two\n\n   still two\n\n- x\n- y\n\nTail.",
    "math": "Inline $a_1 + b_1$.\n\n$$\nx^2\n\ny^2\n$$\n\nAfter math.",
    "tilde": "~~~\ncode\n\nmore\n~~~\n\ntext",
}


def _normal(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize("name", DOCUMENTS)
def test_matches_a_full_render_at_every_length(name: str) -> None:
    text = DOCUMENTS[name]
    live = StreamingMarkdown()
    for end in range(1, len(text) + 1):
        assert _normal(live.render(text[:end])) == _normal(markdown_to_html(text[:end])), end


def test_finished_blocks_are_rendered_once() -> None:
    live = StreamingMarkdown()
    text = "".join(f"Paragraph {i}.\n\n" for i in range(200))
    live.render(text)
    assert len(live._html) == 1  # everything but the last paragraph, in one piece
    assert "Paragraph 198" in live._html[0] and "Paragraph 199" not in live._html[0]
    live.render(text + "Tail")  # an unfinished line: nothing new is final
    assert len(live._html) == 1
    live.render(text + "Tail\n")
    assert len(live._html) == 2 and "Paragraph 199" in live._html[-1]


def test_plain_prose_fast_path_matches_python_markdown() -> None:
    """The shortcut for syntax-free prose gives exactly what Python-Markdown gives."""
    from gmi_magics.display.markup import _converter, plain_paragraphs

    pieces = [*"abc XYZ 12,;:?!'\"%().", "\n", "\n\n", "  ", "tok ", " \n", "1. ", "\t", "*"]
    rng = random.Random(5)
    checked = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        fast = plain_paragraphs(text)
        if fast is None:
            continue
        checked += 1
        assert fast == _converter().convert(text), repr(text)
    assert checked > 500


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_final_display_of_a_streamed_reply_matches_a_full_render(name: str) -> None:
    """Finishing reuses blocks rendered while streaming; the page must not change."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from gmi_magics.display.markup import reply_bundle
    from gmi_magics.display.render import HtmlRenderer
    from gmi_magics.types import Reply

    InteractiveShell.instance()
    text = DOCUMENTS[name]
    ticks = iter(range(10_000))
    renderer = HtmlRenderer(min_interval=0.0, clock=lambda: float(next(ticks)))
    with capture_output() as captured:
        renderer.start()
        for start in range(0, len(text), 3):
            renderer.update(text[start : start + 3], "")
        reply = Reply(text=text.strip(), model="m")
        renderer.finish(reply)
    final = captured.outputs[-1].data["text/html"]
    assert _normal(final) == _normal(reply_bundle(reply)["text/html"])
