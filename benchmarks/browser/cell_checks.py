"""``%%gmi`` cells in a frontend, judged by what a person sees in the cell's output area.

A reply may reach the page as one repainted display or as several outputs (finished
blocks sent once, the open tail live): every check reads the output area as a whole.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from content import MUTATION_XSS, NOTEBOOKS, RAW_TEXT_TAGS, RICH, STORY, XSS, corpus_reply
from frontend import Notebook, Run
from harness import LEAK_PORT, dangerous_in, expect, wait_until
from playwright.sync_api import Locator

from gmi_magics.testing import reply

NO_CELL_ID = {"nbclassic"}  # frontends whose execute requests carry no cellId
MATH_ANY = "mjx-container, .MathJax, .MathJax_CHTML, .MathJax_SVG, .MathJax_Display"
MATH_DISPLAY = "mjx-container[display='true'], .MathJax_Display"


def open_(run: Run, kind: str) -> Notebook:
    return run.open(kind, len(NOTEBOOKS[kind]))


def check_streaming(run: Run) -> str:
    nb = open_(run, "stream")
    nb.run(0)
    run.chat.enqueue(reply(STORY, chunk_delay=0.1))
    nb.run(1, wait=False)
    area = nb.area(1)
    wait_until(lambda: "word" in nb.text(1), 20, "the first words")
    samples: list[tuple[int, bool]] = []
    for i in range(3):
        samples.append((len(nb.text(1)), area.locator(".gmi-cursor").count() > 0))
        run.shot(f"stream-{i + 1}", nb.cell(1))
        time.sleep(1.4)
    nb.wait_done(1, 30)
    wait_until(lambda: area.locator(".gmi-footer").count() > 0, 10, "the footer")
    run.shot("stream-final", nb.cell(1))
    lengths = [n for n, _ in samples]
    # repaints are byte-budgeted (about one a second at slow rates), so the text grows over
    # the samples, not necessarily between every two of them
    grew = lengths == sorted(lengths) and lengths[-1] > lengths[0]
    expect(grew, f"text did not grow: {lengths}")
    expect(all(c for _, c in samples), f"no ▌ cursor while streaming: {samples}")
    expect(area.locator(".gmi-cursor").count() == 0, "cursor still shown after the reply")
    text = nb.text(1)
    counts = {w: text.count(w) for w in ("A slow story", "word00", "word29", "word58")}
    expect(set(counts.values()) == {1}, f"each part once, in order: {counts}")
    expect(text.index("word00") < text.index("word29") < text.index("word58"), "out of order")
    expect(area.locator("h2").count() == 1, "the heading is not one rendered <h2>")
    footer = area.locator(".gmi-footer").inner_text()
    expect("tokens" in footer, f"footer looks wrong: {footer!r}")
    outputs = nb.outputs(1).count()
    return f"lengths {lengths} with cursor; final {len(text)} chars in {outputs} outputs"


def code_colours(area: Locator) -> list[str]:
    """Distinct token colours of the highlighted code (other than the code's own)."""
    colours = area.locator(".codehilite pre").first.evaluate(
        """pre => {
            const base = getComputedStyle(pre).color;
            const spans = [...pre.querySelectorAll('span')];
            return [...new Set(spans.map(s => getComputedStyle(s).color))]
                .filter(c => c !== base);
        }"""
    )
    return list(colours)


def math_typeset(area: Locator, what: str) -> str:
    """MathJax typeset the inline and display math; no raw TeX is left visible."""
    wait_until(lambda: area.locator(MATH_ANY).count() >= 2, 30, f"MathJax in {what}")
    display = area.locator(MATH_DISPLAY).count()
    expect(display == 1, f"display math not typeset as a block in {what} ({display})")
    wait_until(lambda: "\\frac" not in area.inner_text(), 10, f"raw TeX to go in {what}")
    expect("$$" not in area.inner_text(), f"raw $$ still visible in {what}")
    return f"{area.locator(MATH_ANY).count()} MathJax elements ({display} display)"


def rich_reply_notes(area: Locator, what: str) -> list[str]:
    """The RICH reply rendered in ``area``: heading, table, quote, coloured code, math."""
    expect(area.locator("h1").count() == 1, f"no single <h1> for the heading in {what}")
    expect(area.locator("table td").count() == 4, f"table not rendered (4 cells) in {what}")
    expect(area.locator("blockquote").count() == 1, f"blockquote not rendered in {what}")
    colours = code_colours(area)
    expect(len(colours) >= 2, f"code has no syntax colours in {what}: {colours}")
    return [f"{len(colours)} token colours", math_typeset(area, what)]


def check_rendering(run: Run) -> str:
    nb = open_(run, "render")
    nb.run(0)
    run.chat.enqueue(reply(RICH, chunk_delay=0.01))
    nb.run(1)
    area = nb.area(1)
    wait_until(lambda: area.locator(".gmi-footer").count(), 10, "the footer")
    expect(area.locator("ul li").count() >= 3, "list not rendered")
    expect(area.locator("a[href='https://example.com/docs']").count() == 1, "link not rendered")
    expect(area.locator(".codehilite pre").count() == 1, "no highlighted code block")
    notes = rich_reply_notes(area, "the cell")
    run.shot("render-rich", nb.cell(1))
    run.chat.enqueue(reply("The answer is **42**.", reasoning="Let me think step by step."))
    nb.run(2)
    thinking = nb.area(2).locator("details.gmi-thinking")
    wait_until(lambda: thinking.count() == 1, 10, "one Thinking block")
    expect(thinking.get_attribute("open") is None, "Thinking block is not collapsed")
    expect(not thinking.locator("p").first.is_visible(), "reasoning visible while collapsed")
    thinking.locator("summary").click()
    expect(thinking.locator("p").first.is_visible(), "reasoning not shown when expanded")
    run.shot("render-thinking-open", nb.cell(2))
    return "; ".join(notes) + "; Thinking collapsed, expands on click"


def security_problems(run: Run, nb: Notebook, cells: list[int]) -> list[str]:
    assert run.page is not None
    problems = run.watch.problems(run.page)
    for index in cells:
        found = dangerous_in(nb.cell(index).locator(nb.frontend.output))
        if found:
            problems.append(f"cell {index} output has {found}")
    return problems


def tool_call() -> dict[str, object]:
    arguments = {"name": "<svg onload=\"document.title='XSS-tool-arg'\">"}
    return {
        "index": 0, "id": "call_1", "type": "function",
        "function": {"name": "lookup", "arguments": json.dumps(arguments)},
    }  # fmt: skip


def check_security(run: Run) -> str:
    nb = open_(run, "security")
    nb.run(0)
    nb.run(1)
    run.chat.enqueue(reply(XSS, chunk_delay=0.01))
    nb.run(2)
    expect("The end." in nb.text(2), "the text between the payloads is missing")
    leak_link = nb.area(2).locator("a[href='http://127.0.0.1:9/leak.png']")
    expect(leak_link.count() == 1, "the markdown image is not shown as a link")
    run.chat.enqueue(
        reply(tool_calls=[tool_call()], finish_reason="tool_calls"),
        reply("Found <img src=x onerror=\"document.title='XSS-after-tool'\"> **bob**."),
    )
    nb.run(3)
    block = nb.area(3).locator("details.gmi-tool")
    expect(block.count() == 1, "no tool-call block")
    block.locator("summary").click()  # expanded, the escaped output must stay text
    expect("<img src=x" in block.locator("pre").inner_text(), "tool output not shown as text")
    run.chat.enqueue(reply(MUTATION_XSS), reply(corpus_reply(), chunk_delay=0.002))
    nb.run(4)
    nb.run(5)
    expect("Corpus end." in nb.text(5), "the corpus reply lost its end")
    nb.run(6)
    history = nb.text(6)
    expect("1. You" in history and "called lookup(" in history, "history looks wrong")
    for index, name in ((2, "reply"), (3, "tool"), (5, "corpus"), (6, "history")):
        run.shot(f"security-{name}", nb.cell(index))
    time.sleep(1.5)  # let any late onerror/onload/iframe fire
    problems = security_problems(run, nb, [2, 3, 4, 5, 6])
    expect(not problems, "; ".join(problems))
    nb.save_and_reload()  # the saved outputs render again (untrusted now)
    run.shot("security-after-reload")
    problems = security_problems(run, nb, [2, 3, 4, 5, 6])
    expect(not problems, "after reload: " + "; ".join(problems))
    expect(run.watch.requests > 0, "the request listener saw no requests at all")
    return (
        f"no XSS title, dialog or request to :{LEAK_PORT} ({run.watch.requests} requests), "
        "no dangerous element (incl. tests/xss_corpus.py, MathJax \\href); also after reload"
    )


def check_interrupt(run: Run) -> str:
    nb = open_(run, "interrupt")
    nb.run(0)
    run.chat.enqueue(reply([f"chunk{i:03d} " for i in range(300)], chunk_delay=0.1))
    nb.run(1, wait=False)
    wait_until(lambda: "chunk020" in nb.text(1), 20, "twenty chunks")
    run.shot("interrupt-before", nb.cell(1))
    clicked = time.monotonic()
    nb.interrupt()
    nb.wait_done(1, 15)
    took = time.monotonic() - clicked
    area = nb.area(1)
    wait_until(lambda: area.locator(".gmi-footer").count() > 0, 5, "the footer")
    wait_until(lambda: nb.stderr(1), 5, "the error line")
    text, error = nb.text(1), nb.stderr(1)
    footer = area.locator(".gmi-footer").inner_text()
    run.shot("interrupt-after", nb.cell(1))
    expect(took < 5, f"the cell took {took:.1f} s to stop")
    expect("chunk020" in text and "chunk299" not in text, "partial text not kept")
    expect(text.count("chunk005") == 1, "partial text shown more than once")
    expect(area.locator(".gmi-cursor").count() == 0, "cursor still shown after the interrupt")
    expect("interrupted" in footer, f"footer does not say interrupted: {footer!r}")
    expect(error.startswith("StoppedError"), f"error output is {error!r}")
    expect(len(error.splitlines()) == 1, f"error is not one line: {error!r}")
    run.chat.enqueue(reply("Yes, still here.", chunk_delay=0.01))
    nb.run(2)
    expect("still here" in nb.text(2) and not nb.stderr(2), "the next cell did not work")
    history = [m.get("content") for m in (run.chat.last_request.json or {}).get("messages", [])]
    expect(any("chunk020" in str(c) for c in history), "partial reply not sent as history")
    chunks = len(re.findall(r"chunk\d{3}", text))
    return f"stopped in {took:.1f} s, {chunks} chunks kept; {error[:40]!r}…; next cell OK"


def check_rerun(run: Run) -> str:
    nb = open_(run, "rerun")
    nb.run(0)
    run.chat.enqueue(reply("Four."), reply("Four, again."))
    nb.run(1)
    first = nb.prompt(1)
    nb.run(1)
    expect(nb.prompt(1) != first, "the second run did not happen")
    roles = [m.get("role") for m in (run.chat.last_request.json or {}).get("messages", [])]
    nb.run(2)
    history = nb.text(2)
    run.shot("rerun-history", nb.cell(2))
    expect("Four, again." in history, "history lacks the second reply")
    if run.frontend.name in NO_CELL_ID:  # no cell id: a re-run is a new turn (README)
        expect(history.count("What is 2+2?") == 2, "a re-run without a cell id appends")
        expect(roles == ["user", "assistant", "user"], f"roles {roles}")
        return f"no cell id sent: re-run appended; roles {roles}"
    expect("Four." not in history.replace("Four, again.", ""), "history keeps the first reply")
    expect(history.count("What is 2+2?") == 1 and "2. You" not in history, "two turns")
    expect(roles == ["user"], f"the re-run sent the old turn as history: roles {roles}")
    return f"one turn in history; re-run request roles {roles}"


def check_raw_text_tags(run: Run) -> str:
    nb = open_(run, "rawtext")
    nb.run(0)
    run.chat.enqueue(reply(RAW_TEXT_TAGS), reply("You are welcome."))
    nb.run(1)
    text = nb.text(1)
    nb.run(2)
    nb.run(3)
    history = nb.text(3)
    run.shot("rawtext-history", nb.cell(3))
    expect("must survive" in text, f"the reply shows only {text[:80]!r}")
    expect("You are welcome." in history, "%gmi history lost every later turn")
    return "prose naming <script>/<style> keeps the rest of the reply and of the history"


CELL_CHECKS: list[tuple[str, Callable[[Run], str]]] = [
    ("streaming", check_streaming),
    ("rendering", check_rendering),
    ("security", check_security),
    ("interrupt", check_interrupt),
    ("rerun", check_rerun),
    ("rawtext", check_raw_text_tags),
]
