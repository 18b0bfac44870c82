"""What the scripted model says in the browser checks, and the notebooks that ask."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL_SOURCE = '''def lookup(name: str) -> str:
    """Look a person up.

    Args:
        name: Who to look up.
    """
    return "<img src=x onerror=\\"document.title='XSS-tool-output'\\"> found " + name'''

STORY = ["## A slow story\n\n"] + [
    f"word{i:02d}{'.' if i % 10 == 9 else ''}{chr(10) * 2 if i % 10 == 9 else ' '}"
    for i in range(59)
]
RICH = """# Heading one

Some **bold** text, `inline code`, a [link](https://example.com/docs) and a list:

- first item
- second item
  - nested item

> A quoted line.

| n | square |
|---|--------|
| 1 | 1 |
| 2 | 4 |

```python
def greet(name: str) -> str:
    # a comment
    return f"hello {name}" * 2
```

Inline math $a_1 + b_1$ and display math:

$$\\frac{a}{b}$$
"""
XSS = """Here are some payloads.

<img src=x onerror="document.title='XSS'">

<script>document.title='XSS2'</script>

[click](javascript:document.title='XSS3')

<svg onload="document.title='XSS4'"></svg>

<iframe src="javascript:parent.document.title='XSS5';alert('XSS5')"></iframe>

![x](http://127.0.0.1:9/leak.png)

<img src="http://127.0.0.1:9/leak2.png">

<a href="javascript:alert('XSS6')">raw link</a>

<details open ontoggle="document.title='XSS7'"><summary>toggle</summary>body</details>

<form action="javascript:alert('XSS9')"><button>go</button></form>

<div style="background:url(http://127.0.0.1:9/leak3.png)">styled</div>

Math that links: $\\href{javascript:alert('XSS-math')}{click}$ and
$$\\href{javascript:alert('XSS-math2')}{x^2}$$

The end.
"""
MUTATION_XSS = """A parser-confusion payload follows.

<math><mtext><table><mglyph><style><img src=x onerror="document.title='XSS8'">

<noscript><p title="</noscript><img src=x onerror=document.title='XSS10'>">
"""
RAW_TEXT_TAGS = """Put JavaScript in a <script> element and CSS in a <style> element.

This sentence must survive.
"""


def xss_corpus() -> list[str]:
    """tests/xss_corpus.py's payloads (the same corpus the unit tests render)."""
    path = Path(__file__).resolve().parents[2] / "tests" / "xss_corpus.py"
    spec = importlib.util.spec_from_file_location("xss_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.XSS_PAYLOADS)


def corpus_reply() -> str:
    """Every corpus payload in one reply, each after a numbered line, then an end mark."""
    parts = [f"Payload {i}:\n\n{payload}" for i, payload in enumerate(xss_corpus())]
    return "\n\n".join([*parts, "Corpus end."])


NOTEBOOKS: dict[str, list[str]] = {
    "stream": ["%load_ext gmi_magics", "%%gmi\nTell me a slow story."],
    "render": [
        "%load_ext gmi_magics",
        "%%gmi\nShow every markdown feature you know.",
        "%%gmi\nThink first, then answer.",
    ],
    "security": [
        "%load_ext gmi_magics",
        TOOL_SOURCE,
        "%%gmi\nReply with some nasty HTML.",
        "%%gmi --tools lookup\nLook up bob.",
        "%%gmi\nNow some parser confusion.",
        "%%gmi\nAnd the whole corpus.",
        "%gmi history",
    ],
    "interrupt": [
        "%load_ext gmi_magics",
        "%%gmi\nA very long reply, please.",
        "%%gmi\nAre you still there?",
    ],
    "rerun": ["%load_ext gmi_magics", "%%gmi\nWhat is 2+2?", "%gmi history"],
    "rawtext": [
        "%load_ext gmi_magics",
        "%%gmi\nHow do I add JS and CSS to a page?",
        "%%gmi\nThanks!",
        "%gmi history",
    ],
    "panel": ["%load_ext gmi_magics", "%gmi panel"],
}
