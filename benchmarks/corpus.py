"""Deterministic, realistic markdown replies for the benchmarks.

A reply is a run of sections like a chat model writes them: a heading, prose with
inline code and emphasis, a bullet list, a fenced Python block, a small table and
the odd bit of inline math.  ``deltas(n)`` cuts such a reply into ``n`` pieces of
about four characters, as a streaming API sends them (roughly one token each).
"""

from __future__ import annotations

import random

WORDS = [
    "the", "model", "returns", "a", "value", "for", "each", "row", "when", "called", "with",
    "data", "that", "is", "sorted", "index", "cache", "request", "stream", "buffer", "parser",
    "token", "reply", "kernel", "notebook", "output", "function", "result", "error", "retry",
    "timeout", "client", "server", "header", "frame", "batch", "window",
]  # fmt: skip

CODE = '''```python
def {name}(rows, limit={limit}):
    """Return the first rows whose score passes the limit."""
    kept = [row for row in rows if row["score"] > limit]
    for index, row in enumerate(kept):
        print(f"{{index:>3}} {{row['name']:<20}} {{row['score']:.2f}}")
    return kept[:{limit}]
```'''


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    if rng.random() < 0.3:
        words[rng.randrange(len(words))] = f"`{rng.choice(WORDS)}()`"
    if rng.random() < 0.2:
        words[rng.randrange(len(words))] = f"**{rng.choice(WORDS)}**"
    if rng.random() < 0.1:
        words.append("with $a_1 + b_1 \\le n$")
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _section(rng: random.Random, number: int) -> str:
    items = "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 5)))
    rows = "\n".join(
        f"| {rng.choice(WORDS)} | {rng.randint(1, 999)} | {rng.random():.3f} |"
        for _ in range(rng.randint(3, 6))
    )
    table = f"| name | count | score |\n|------|------:|------:|\n{rows}"
    code = CODE.format(name=f"{rng.choice(WORDS)}_{number}", limit=rng.randint(2, 50))
    parts = [f"## Step {number}", _paragraph(rng), items, _paragraph(rng), code, table]
    return "\n\n".join(parts)


def reply_text(chars: int, seed: int = 7) -> str:
    """A markdown reply of about ``chars`` characters (whole sections, then cut)."""
    rng = random.Random(seed)
    sections: list[str] = ["Here is a worked answer.\n\n" + _paragraph(rng)]
    size, number = len(sections[0]), 1
    while size < chars:
        sections.append(_section(rng, number))
        size += len(sections[-1]) + 2
        number += 1
    return "\n\n".join(sections)[:chars]


def deltas(count: int, size: int = 4, seed: int = 7) -> list[str]:
    """``count`` streamed pieces of ``size`` characters from one realistic reply."""
    text = reply_text(count * size, seed)
    return [text[i : i + size] for i in range(0, count * size, size)]
