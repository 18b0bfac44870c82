"""The ``%gmi panel`` chat panel in a frontend: send, stream, scroll, math, styles, stop, XSS."""

from __future__ import annotations

import itertools
import time
from typing import Any

from cell_checks import code_colours, math_typeset, open_
from content import RICH, XSS, corpus_reply
from frontend import Notebook, Run
from harness import dangerous_in, expect, wait_until

from gmi_magics.testing import reply

# Where the bottom of the last element of the scroll box sits relative to the box.
SCROLL_STATE = """box => {
    const items = box.querySelectorAll('.gmi-reply, .gmi-user');
    const last = items[items.length - 1], first = items[0];
    const b = box.getBoundingClientRect();
    const reverse = getComputedStyle(box).flexDirection === 'column-reverse';
    const range = box.scrollHeight - box.clientHeight;  // column-reverse: 0 is the bottom
    return {
        fromBottom: reverse ? -box.scrollTop : range - box.scrollTop, reverse,
        scrollTop: box.scrollTop, scrollHeight: box.scrollHeight,
        clientHeight: box.clientHeight,
        lastBottom: last ? last.getBoundingClientRect().bottom - b.bottom : null,
        firstTop: first ? first.getBoundingClientRect().top - b.top : null,
    };
}"""


class Panel:
    """The panel widget on the page."""

    def __init__(self, nb: Notebook) -> None:
        self.nb = nb
        self.root = nb.cell(1).locator(".gmi-panel").first
        self.log = self.root.locator(".gmi-panel-log").first
        self.send_button = self.root.locator("button", has_text="Send").first
        self.stop_button = self.root.locator("button", has_text="Stop").first

    def text(self) -> str:
        return self.log.inner_text()

    def send(self, message: str, *, wait: bool = True) -> None:
        box = self.root.locator("textarea").first
        box.click()
        box.fill(message)
        self.send_button.click()
        wait_until(lambda: message in self.text(), 10, "the message in the panel")
        if wait:
            self.wait_idle()

    def wait_idle(self) -> None:
        wait_until(lambda: self.send_button.is_enabled(), 30, "Send to be enabled again")
        wait_until(lambda: "Streaming" not in self.root.inner_text(), 10, "the status line")

    def scroll(self) -> dict[str, Any]:
        return dict(self.log.evaluate(SCROLL_STATE))


def at_bottom(state: dict[str, Any]) -> bool:
    """The newest element's bottom edge is inside the box (within a few pixels)."""
    return state["lastBottom"] is not None and -60 <= state["lastBottom"] <= 3


def open_panel(run: Run) -> Panel:
    nb = open_(run, "panel")
    nb.run(0)
    nb.run(1)
    panel = Panel(nb)
    try:
        panel.root.wait_for(timeout=30_000)
    except Exception:
        expect(False, f"no panel widget shown: {nb.text(1)[:200]!r}")
    return panel


def rich_in_panel(run: Run, panel: Panel) -> list[str]:
    """Markdown, code colours, MathJax and the panel's link/quote/code styles."""
    run.chat.enqueue(reply(RICH, chunk_delay=0.01))
    panel.send("Show me markdown.")
    reply_area = panel.log.locator(".gmi-reply").last
    fill = reply_area.evaluate("r => r.clientWidth / r.closest('.gmi-panel-log').clientWidth")
    expect(fill > 0.9, f"the reply uses {fill:.0%} of the panel's width")
    expect(reply_area.locator("table td").count() == 4, "table not rendered in the panel")
    expect(reply_area.locator("h1").count() == 1, "heading not rendered in the panel")
    colours = code_colours(reply_area)
    expect(len(colours) >= 2, f"panel code has no syntax colours: {colours}")
    notes = [math_typeset(reply_area, "the panel")]
    styles = reply_area.evaluate(
        """r => {
            const css = e => e ? getComputedStyle(e) : null;
            const p = css(r.querySelector('p')), a = css(r.querySelector('a'));
            const q = css(r.querySelector('blockquote'));
            const c = css(r.querySelector('p > code'));
            return {text: p.color, link: a.color, quote: q.borderLeftWidth,
                    code: c.backgroundColor, codeFont: c.fontFamily};
        }"""
    )
    expect(styles["link"] != styles["text"], f"links look like text: {styles}")
    expect(styles["quote"] not in ("0px", ""), f"blockquote has no bar: {styles}")
    transparent = ("rgba(0, 0, 0, 0)", "transparent")
    expect(styles["code"] not in transparent, f"inline code has no background: {styles}")
    notes.append(f"link/quote/code styled ({styles['link']}, bar {styles['quote']})")
    run.shot("panel-rich", panel.root)
    return notes


def history_then_follow(run: Run, panel: Panel) -> list[str]:
    """After a long history the box shows the newest reply, also while one streams."""
    for n in range(3):
        body = "\n\n".join(f"History {n} paragraph {i}." for i in range(25))
        run.chat.enqueue(reply(body + f"\n\nEnd of history {n}."))
        panel.send(f"Long answer {n}, please.")
    state = panel.scroll()
    expect(state["scrollHeight"] > 2 * state["clientHeight"], f"history is short: {state}")
    expect(at_bottom(state) and abs(state["fromBottom"]) < 5, f"not at the newest: {state}")
    expect(state["firstTop"] < -state["clientHeight"], f"the oldest turn is in view: {state}")
    run.shot("panel-history-bottom", panel.root)
    run.chat.enqueue(reply([f"Live {i}.\n\n" for i in range(40)], chunk_delay=0.08))
    panel.send("Stream a list.", wait=False)
    samples = []
    for _ in range(3):
        time.sleep(0.8)
        live = panel.scroll()
        samples.append((len(panel.text()), at_bottom(live), live["lastBottom"]))
    run.shot("panel-streaming", panel.root)
    panel.wait_idle()
    lengths = [n for n, _, _ in samples]
    expect(all(b > a for a, b in itertools.pairwise(lengths)), f"no growth: {lengths}")
    expect(all(ok for _, ok, _ in samples), f"box did not follow the stream: {samples}")
    final = panel.scroll()
    expect(at_bottom(final) and "Live 39." in panel.text(), f"after the reply: {final}")
    return [
        f"history {state['scrollHeight']} px in a {state['clientHeight']} px box, "
        f"{abs(state['fromBottom']):.0f} px from the bottom (scrollTop {state['scrollTop']:.0f}, "
        f"column-reverse {state['reverse']}); followed the stream {lengths}"
    ]


def stop_in_panel(run: Run, panel: Panel) -> list[str]:
    run.chat.enqueue(reply([f"piece{i:03d} " for i in range(300)], chunk_delay=0.08))
    panel.send("Go on and on.", wait=False)
    wait_until(lambda: "piece020" in panel.text(), 20, "twenty pieces in the panel")
    clicked = time.monotonic()
    panel.stop_button.click()
    panel.wait_idle()
    took = time.monotonic() - clicked
    text, status = panel.text(), panel.root.inner_text()
    run.shot("panel-stopped", panel.root)
    expect(took < 5, f"Stop took {took:.1f} s")
    expect("piece020" in text and "piece299" not in text, "partial reply not kept")
    expect(text.count("piece005") == 1, "partial reply shown twice")
    expect("Interrupted here." in text and "Interrupted" in status, "no interrupted note")
    expect(at_bottom(panel.scroll()), "the stopped reply is not in view")
    run.chat.enqueue(reply("Fine, after the stop."))
    panel.send("Still there?")
    expect("Fine, after the stop." in panel.text(), "no reply after the stop")
    return [f"Stop in {took:.1f} s, partial kept, next send works"]


def xss_in_panel(run: Run, panel: Panel) -> list[str]:
    run.chat.enqueue(reply(XSS, chunk_delay=0.005), reply(corpus_reply(), chunk_delay=0.001))
    panel.send("Nasty HTML.")
    panel.send("The corpus.")
    expect("Corpus end." in panel.text() and "The end." in panel.text(), "payload text lost")
    time.sleep(1.5)
    assert run.page is not None
    problems = run.watch.problems(run.page) + dangerous_in(panel.log.locator(".gmi-reply"))
    bubbles = panel.log.locator(".gmi-user *").count()  # the user's text, escaped: no tags
    if bubbles:
        problems.append(f"{bubbles} elements inside the user's bubbles")
    run.shot("panel-xss", panel.root)
    expect(not problems, f"panel: {problems}")
    return ["XSS + corpus inert in HTMLMath"]


def check_panel(run: Run) -> str:
    panel = open_panel(run)
    notes = rich_in_panel(run, panel)
    notes += history_then_follow(run, panel)
    notes += stop_in_panel(run, panel)
    notes += xss_in_panel(run, panel)
    return "; ".join(notes)
