"""The notebook as a static page: executed with nbclient, exported by nbconvert (lab template).

nbconvert's page loads MathJax 2 from a CDN; with no network here, the check points
``mathjax_url`` at the MathJax 2 copy that nbclassic ships (same version line) and checks
that the default export still asks for MathJax.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbclassic
import nbformat
from cell_checks import rich_reply_notes
from content import MUTATION_XSS, RICH, XSS, corpus_reply
from harness import Shots, Watch, dangerous_in, expect, kernel_env, notebook, wait_until
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from playwright.sync_api import Page

from gmi_magics.testing import StandInServer, reply

SOURCES = [
    "%load_ext gmi_magics",
    "%%gmi\nShow every markdown feature you know.",
    "%%gmi\nThink first, then answer.",
    "%%gmi\nReply with some nasty HTML.",
    "%%gmi\nNow some parser confusion.",
    "%%gmi\nAnd the whole corpus.",
    "%gmi history",
]
Result = tuple[str, bool, str]
One = Callable[[str, Callable[[], str], Callable[[], None]], Result]


def local_mathjax() -> str:
    path = Path(nbclassic.__file__).parent / "static" / "components" / "MathJax" / "MathJax.js"
    return path.as_uri() + "?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def execute(chat: StandInServer, work: Path) -> Any:
    """Run the notebook in a real kernel against the stand-in server."""
    chat.enqueue(
        reply(RICH, chunk_delay=0.005),
        reply("The answer is **42**.", reasoning="Let me think step by step."),
        reply(XSS, chunk_delay=0.002),
        reply(MUTATION_XSS),
        reply(corpus_reply()),
    )
    nb = nbformat.reads(json.dumps(notebook(SOURCES)), as_version=4)
    home = work / "nbconvert-jupyter"
    client = NotebookClient(nb, timeout=120, kernel_name="python3")
    client.execute(env=kernel_env(chat.base_url, home), cwd=str(work))
    return nb


def export(nb: Any, out: Path) -> tuple[Path, str]:
    """The page with local MathJax, and the default page's HTML (to see it asks for MathJax)."""
    default_html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    exporter = HTMLExporter(template_name="lab", mathjax_url=local_mathjax())
    page_html, _ = exporter.from_notebook_node(nb)
    page = out / "nbconvert-page.html"
    page.write_text(page_html, encoding="utf-8")
    return page, default_html


def check_render(page: Page, default_html: str) -> str:
    expect("mathjax" in default_html.lower(), "the default export does not load MathJax")
    cells = page.locator(".jp-Cell.jp-CodeCell")
    area = cells.nth(1).locator(".jp-OutputArea").first
    notes = rich_reply_notes(area, "the page")
    thinking = cells.nth(2).locator("details.gmi-thinking")
    expect(thinking.count() == 1 and thinking.get_attribute("open") is None, "Thinking open")
    expect("The answer is 42." in cells.nth(2).inner_text(), "the answer is missing")
    return "; ".join(notes) + "; Thinking collapsed"


def check_security(page: Page, watch: Watch) -> str:
    cells = page.locator(".jp-Cell.jp-CodeCell")
    expect("The end." in cells.nth(3).inner_text(), "the XSS reply lost its end")
    expect("Corpus end." in cells.nth(5).inner_text(), "the corpus reply lost its end")
    history = cells.nth(6).inner_text()
    expect("1. You" in history and "Corpus end." in history, "history looks wrong")
    time.sleep(1.5)
    problems = watch.problems(page) + dangerous_in(page.locator(".jp-OutputArea-output"))
    expect(not problems, "; ".join(problems))
    return f"{len(SOURCES) - 1} outputs inert (XSS, mutation, corpus, history)"


def checks(
    page: Page, chat: StandInServer, watch: Watch, shots: Shots, work: Path, one: One
) -> list[Result]:
    """Build the page (as one check), then its rendering and its security."""
    built: dict[str, Any] = {}

    def build() -> str:
        started = time.monotonic()
        nb = execute(chat, work)
        path, built["default"] = export(nb, shots.folder)
        page.goto(path.as_uri())
        wait_until(lambda: page.locator(".jp-Cell").count() >= len(SOURCES), 30, "the cells")
        built["ok"] = True
        shots.take(page, "nbconvert-page")
        return f"{path.name}: executed and exported in {time.monotonic() - started:.0f} s"

    fail = lambda: None  # noqa: E731
    results = [one("nbconvert build", build, fail)]
    chat.reset()
    if not built.get("ok"):
        return results
    results.append(one("nbconvert rendering", lambda: check_render(page, built["default"]), fail))
    results.append(one("nbconvert security", lambda: check_security(page, watch), fail))
    cell = page.locator(".jp-Cell.jp-CodeCell").nth(1)
    shots.take(page, "nbconvert-rich", cell)
    return results
