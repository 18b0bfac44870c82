"""Opt-in check of ``%%gmi`` in a real JupyterLab driven by headless Chromium.

    python benchmarks/browser/check_jupyterlab.py [--chromium /usr/bin/chromium] [--keep]

Not run by CI. Needs, in the Python that runs it: ``jupyterlab``, ``playwright`` (the
Python package only: it drives the system Chromium, no browser download) and
``gmi_magics`` (``pip install -e .``). For example::

    python -m venv /tmp/labenv
    /tmp/labenv/bin/pip install jupyterlab playwright -e .
    /tmp/labenv/bin/python benchmarks/browser/check_jupyterlab.py

It starts the stand-in chat server in this process (so each check scripts its replies),
starts ``jupyter lab`` on a free loopback port with a token and a temporary notebook
directory (the kernel inherits ``GMI_BASE_URL``/``GMI_API_KEY``), drives Chromium through
six checks, prints PASS/FAIL per check and the screenshot paths, and tears everything
down. Exit status 0 when every check passed. ``--only 1,3`` runs some of them.

1. streaming: the reply grows visibly with a ``▌`` cursor, then ends with the footer;
2. rendering: heading, list, table, highlighted code, MathJax math; a collapsed Thinking;
3. security: XSS payloads in a reply, a tool block and ``%gmi history`` run nothing, load
   nothing and open no dialog (also after reloading the saved notebook);
4. interrupt: the stop button keeps the partial reply, footer says interrupted, one-line
   ``StoppedError``, and the next cell works;
5. re-run: running one ``%%gmi`` cell twice leaves one turn in ``%gmi history``;
6. raw-text tags: prose that names ``<script>``/``<style>`` keeps the rest of the reply.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:
    from playwright.sync_api import BrowserContext, Locator, Page, sync_playwright
except ImportError:  # pragma: no cover - opt-in tool
    sys.exit("playwright is not installed here: pip install playwright (no browser download)")

from gmi_magics.testing import StandInServer, reply

API_KEY = "some-test-key-1234567890abcdef"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
PROMPT_DONE = re.compile(r"^\[(\d+)\]:?$")
LEAK_PORT = 9

# Hook document.title in every frame: record each value ever set.
TITLE_HOOK = """
(() => {
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'title');
  const top = (() => { try { return window.top; } catch (e) { return window; } })();
  Object.defineProperty(Document.prototype, 'title', {
    configurable: true,
    get() { return d.get.call(this); },
    set(v) {
      try { (top.__gmiTitles = top.__gmiTitles || []).push(String(v)); } catch (e) {}
      (window.__gmiTitles = window.__gmiTitles || []).push(String(v));
      d.set.call(this, v);
    },
  });
})();
"""


# --- notebooks ---------------------------------------------------------------------------


def notebook(sources: list[str]) -> dict[str, Any]:
    cells = [
        {
            "cell_type": "code",
            "id": f"cell-{i}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


TOOL_SOURCE = '''def lookup(name: str) -> str:
    """Look a person up.

    Args:
        name: Who to look up.
    """
    return "<img src=x onerror=\\"document.title='XSS-tool-output'\\"> found " + name'''

NOTEBOOKS: dict[str, list[str]] = {
    "stream.ipynb": ["%load_ext gmi_magics", "%%gmi\nTell me a slow story."],
    "render.ipynb": [
        "%load_ext gmi_magics",
        "%%gmi\nShow every markdown feature you know.",
        "%%gmi\nThink first, then answer.",
    ],
    "security.ipynb": [
        "%load_ext gmi_magics",
        TOOL_SOURCE,
        "%%gmi\nReply with some nasty HTML.",
        "%%gmi --tools lookup\nLook up bob.",
        "%%gmi\nNow some parser confusion.",
        "%gmi history",
    ],
    "interrupt.ipynb": [
        "%load_ext gmi_magics",
        "%%gmi\nA very long reply, please.",
        "%%gmi\nAre you still there?",
    ],
    "rerun.ipynb": ["%load_ext gmi_magics", "%%gmi\nWhat is 2+2?", "%gmi history"],
    "rawtext.ipynb": [
        "%load_ext gmi_magics",
        "%%gmi\nHow do I add JS and CSS to a page?",
        "%%gmi\nThanks!",
        "%gmi history",
    ],
}

STORY = ["## A slow story\n\n"] + [
    f"word{i:02d}{'.' if i % 10 == 9 else ''}{chr(10) * 2 if i % 10 == 9 else ' '}"
    for i in range(59)
]
RICH = """# Heading one

Some **bold** text and a list:

- first item
- second item
  - nested item

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

The end.
"""
MUTATION_XSS = """A parser-confusion payload follows.

<math><mtext><table><mglyph><style><img src=x onerror="document.title='XSS8'">

<noscript><p title="</noscript><img src=x onerror=document.title='XSS10'>">
"""
RAW_TEXT_TAGS = """Put JavaScript in a <script> element and CSS in a <style> element.

This sentence must survive.
"""


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_jupyter() -> str:
    beside = Path(sys.executable).with_name("jupyter")
    found = str(beside) if beside.exists() else shutil.which("jupyter")
    if not found:
        sys.exit("jupyter is not installed here: pip install jupyterlab")
    return found


@dataclass
class Lab:
    """A ``jupyter lab`` process on loopback with a token and a private config."""

    root: Path
    base_url: str
    port: int
    token: str
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url(path), timeout=5) as response:
            return json.loads(response.read())

    def start(self, work: Path) -> None:
        home = work / "jupyter"
        settings = home / "lab-settings"
        write_settings(settings)
        env = dict(os.environ)
        env.update(
            GMI_BASE_URL=self.base_url,
            GMI_API_KEY=API_KEY,
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            IPYTHONDIR=str(home / "ipython"),
        )
        for name in ("GMI_CLOUD_APIKEY", "GMI_MODEL"):
            env.pop(name, None)
        self.log = work / "jupyter-lab.log"
        command = [
            find_jupyter(),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: see {self.log}")
            with contextlib.suppress(OSError, ValueError):
                self.get("/api/status")
                return
            time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not start in 60 s: see {self.log}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def kernel_state(self, path: str) -> str | None:
        for session in self.get("/api/sessions"):
            if session.get("path") == path:
                return str((session.get("kernel") or {}).get("execution_state"))
        return None

    def shutdown_kernels(self) -> None:
        for session in self.get("/api/sessions"):
            request = urllib.request.Request(
                self.url(f"/api/sessions/{session['id']}"), method="DELETE"
            )
            with contextlib.suppress(OSError):
                urllib.request.urlopen(request, timeout=10).close()


def write_settings(settings: Path) -> None:
    """User settings: no news/update toasts; render every cell (no windowing)."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
            "windowingMode": "none",
        },
    }
    for name, content in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


# --- the browser side ------------------------------------------------------------------


@dataclass
class Watch:
    """Everything the page did that a reply must never cause."""

    dialogs: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    requests: int = 0

    def on_dialog(self, dialog: Any) -> None:
        if dialog.type == "beforeunload":  # JupyterLab's own "leave the page?" prompt
            with contextlib.suppress(Exception):
                dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(Exception):
            dialog.dismiss()

    def on_request(self, request: Any) -> None:
        self.requests += 1
        parts = urlsplit(request.url)
        if parts.hostname == "127.0.0.1" and parts.port == LEAK_PORT:
            self.leaks.append(request.url)


class CheckFailed(AssertionError):
    pass


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


class Notebook:
    """One open notebook page in JupyterLab."""

    def __init__(self, page: Page, lab: Lab, name: str) -> None:
        self.page, self.lab, self.name = page, lab, name
        page.goto(lab.url(f"/lab/tree/{name}?reset"))  # reset: only this notebook open
        self.cells.first.wait_for(timeout=60_000)
        expected = len(NOTEBOOKS[name])
        wait_until(lambda: self.cells.count() >= expected, 30, "all cells")
        wait_until(lambda: lab.kernel_state(name) == "idle", 60, "the kernel to be idle")
        time.sleep(0.5)

    @property
    def cells(self) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-Cell")

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:visible")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputPrompt").first.inner_text().strip()

    def run(self, index: int, *, wait: bool = True, timeout: float = 60) -> Locator:
        """Click into the cell's editor and press Shift+Enter (as a person would)."""
        before = self.prompt(index)
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor").first.click()
        self.page.keyboard.press("Shift+Enter")
        wait_until(lambda: self.prompt(index) != before, 10, f"cell {index} to start")
        if wait:
            self.wait_done(index, timeout)
        return cell

    def wait_done(self, index: int, timeout: float = 60) -> str:
        return str(
            wait_until(
                lambda: PROMPT_DONE.match(self.prompt(index)) and self.prompt(index),
                timeout,
                f"cell {index} to finish",
            )
        )

    def reply(self, index: int) -> Locator:
        """The cell's ``.gmi-reply`` outputs (the last one is the live/final display)."""
        return self.cell(index).locator(".jp-OutputArea-output .gmi-reply")

    def outputs_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").first.inner_text()


@dataclass
class Context:
    browser: BrowserContext
    page: Page
    lab: Lab
    server: StandInServer
    shots: Path
    watch: Watch
    taken: list[Path] = field(default_factory=list)

    def shot(self, name: str, target: Locator | None = None) -> Path:
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        if target is not None:
            target.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path))
        self.taken.append(path)
        return path

    def open(self, name: str) -> Notebook:
        """Open the notebook in a fresh tab (closing the last one)."""
        old, self.page = self.page, self.browser.new_page()
        self.page.on("dialog", self.watch.on_dialog)
        self.page.set_default_timeout(30_000)
        old.close()
        return Notebook(self.page, self.lab, name)


# --- the checks ------------------------------------------------------------------------


def check_streaming(ctx: Context) -> str:
    nb = ctx.open("stream.ipynb")
    nb.run(0)
    ctx.server.enqueue(reply(STORY, chunk_delay=0.1))
    nb.run(1, wait=False)
    replies = nb.reply(1)
    wait_until(
        lambda: "word" in (replies.last.inner_text() if replies.count() else ""),
        20,
        "the first words",
    )
    samples: list[tuple[int, bool]] = []
    for i in range(3):
        last = replies.last
        text = last.inner_text()
        cursor = last.locator(".gmi-cursor").count() > 0
        samples.append((len(text), cursor))
        ctx.shot(f"stream-{i + 1}", nb.cell(1))
        time.sleep(1.4)
    nb.wait_done(1, 30)
    final = replies.last
    wait_until(lambda: final.locator(".gmi-footer").count() > 0, 10, "the footer")
    ctx.shot("stream-final", nb.cell(1))
    ctx.shot("stream-final-page")
    lengths = [n for n, _ in samples]
    expect(
        all(b > a for a, b in itertools.pairwise(lengths)),
        f"text did not grow between samples: {lengths}",
    )
    expect(all(c for _, c in samples), f"no ▌ cursor while streaming: {samples}")
    expect(final.locator(".gmi-cursor").count() == 0, "cursor still shown after the reply")
    expect(replies.count() == 1, f"{replies.count()} reply displays, expected 1 (repainted)")
    text = final.inner_text()
    expect("word58" in text, "the final text lacks the last word")
    expect(final.locator("h2").count() == 1, "the heading is not rendered as <h2>")
    footer = final.locator(".gmi-footer").inner_text()
    expect("tokens" in footer, f"footer looks wrong: {footer!r}")
    return f"lengths {lengths} with cursor, final {len(text)} chars; footer {footer!r}"


def check_rendering(ctx: Context) -> str:
    nb = ctx.open("render.ipynb")
    nb.run(0)
    ctx.server.enqueue(reply(RICH, chunk_delay=0.01))
    nb.run(1)
    out = nb.reply(1).last
    notes = []
    expect(out.locator("h1").count() == 1, "no <h1> for the heading")
    expect(out.locator("ul li").count() >= 3, "list not rendered")
    if out.locator("ul ul li").count() != 1:
        notes.append("NOTE: the 2-space-indented nested list item is not nested")
    expect(out.locator("table td").count() == 4, "table not rendered")
    code = out.locator(".codehilite pre")
    expect(code.count() == 1, "no highlighted code block")
    colours = code.evaluate(
        """pre => {
            const base = getComputedStyle(pre).color;
            const spans = [...pre.querySelectorAll('span')];
            return {base, colours: [...new Set(spans.map(s => getComputedStyle(s).color))]};
        }"""
    )
    distinct = [c for c in colours["colours"] if c != colours["base"]]
    expect(len(distinct) >= 2, f"code has no syntax colours: {colours}")
    notes.append(f"{len(distinct)} token colours")
    mjx = out.locator("mjx-container")
    wait_until(lambda: mjx.count() >= 2, 20, "MathJax to typeset ($a_1 + b_1$ and $$...$$)")
    display_math = out.locator('mjx-container[display="true"]').count()
    expect(display_math == 1, f"display math not typeset as a block ({display_math})")
    raw = out.inner_text()
    expect("$$" not in raw and "\\frac" not in raw, "raw TeX still visible after typesetting")
    notes.append(f"{mjx.count()} MathJax containers ({display_math} display)")
    ctx.shot("render-rich", nb.cell(1))

    ctx.server.enqueue(
        reply("The answer is **42**.", reasoning="Let me think step by step about this.")
    )
    nb.run(2)
    out2 = nb.reply(2).last
    thinking = out2.locator("details.gmi-thinking")
    expect(thinking.count() == 1, "no Thinking block")
    expect(thinking.get_attribute("open") is None, "Thinking block is not collapsed")
    summary = thinking.locator("summary").inner_text().strip()
    expect(summary == "Thinking", f"summary is {summary!r}")
    expect(not thinking.locator("p").first.is_visible(), "reasoning text visible while collapsed")
    ctx.shot("render-thinking", nb.cell(2))
    thinking.locator("summary").click()
    expect(thinking.locator("p").first.is_visible(), "reasoning not shown when expanded")
    ctx.shot("render-thinking-open", nb.cell(2))
    return "; ".join(notes) + "; Thinking collapsed, expands on click"


def security_state(ctx: Context, nb: Notebook, cells: list[int]) -> list[str]:
    problems = []
    titles = ctx.page.evaluate("window.__gmiTitles || []")
    bad = [t for t in titles if t.startswith("XSS")]
    if bad or ctx.page.title().startswith("XSS"):
        problems.append(f"document.title set to {bad or ctx.page.title()}")
    if ctx.watch.dialogs:
        problems.append(f"dialogs: {ctx.watch.dialogs}")
    if ctx.watch.leaks:
        problems.append(f"requests to 127.0.0.1:{LEAK_PORT}: {ctx.watch.leaks}")
    dangerous = (
        "script, iframe, img, svg, form, object, embed, [onerror], [onload], [ontoggle], "
        "[style], a[href^='javascript:' i], [src^='javascript:' i], [action]"
    )
    for index in cells:
        found = (
            nb.cell(index)
            .locator(".jp-OutputArea-output")
            .evaluate_all(
                "(nodes, sel) => nodes.flatMap(n => [...n.querySelectorAll(sel)])"
                ".map(e => e.outerHTML.slice(0, 120))",
                dangerous,
            )
        )
        if found:
            problems.append(f"cell {index} output has {found}")
    return problems


def check_security(ctx: Context) -> str:
    nb = ctx.open("security.ipynb")
    nb.run(0)
    nb.run(1)
    ctx.server.enqueue(reply(XSS, chunk_delay=0.01))
    nb.run(2)
    wait_until(lambda: nb.reply(2).last.locator(".gmi-footer").count(), 10, "the footer")
    text = nb.reply(2).last.inner_text()
    expect("The end." in text, "the text between the payloads is missing")
    expect(
        nb.reply(2).last.locator("a[href='http://127.0.0.1:9/leak.png']").count() == 1,
        "the markdown image is not shown as a link",
    )
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {
            "name": "lookup",
            "arguments": json.dumps({"name": "<svg onload=\"document.title='XSS-tool-arg'\">"}),
        },
    }
    ctx.server.enqueue(
        reply(tool_calls=[call], finish_reason="tool_calls"),
        reply("Found <img src=x onerror=\"document.title='XSS-after-tool'\"> **bob**."),
    )
    nb.run(3)
    tool_block = nb.reply(3).last.locator("details.gmi-tool")
    expect(tool_block.count() == 1, "no tool-call block")
    summary = tool_block.locator("summary").inner_text()
    expect("lookup(" in summary, f"tool summary is {summary!r}")
    tool_block.locator("summary").click()  # expand: the escaped output must stay text
    tool_text = tool_block.locator("pre").inner_text()
    expect("<img src=x" in tool_text, f"tool output not shown as text: {tool_text!r}")
    ctx.shot("security-reply", nb.cell(2))
    ctx.shot("security-tool", nb.cell(3))
    ctx.server.enqueue(reply(MUTATION_XSS))
    nb.run(4)
    ctx.shot("security-mutation", nb.cell(4))
    nb.run(5)
    history = nb.cell(5).locator(".jp-OutputArea-output .gmi-reply").last
    history_text = history.inner_text()
    expect(
        "1. You" in history_text and "2. Assistant" in history_text,
        f"history looks wrong: {history_text[:200]!r}",
    )
    expect("called lookup(" in history_text, "history lacks the tool call line")
    nb.cell(5).scroll_into_view_if_needed()
    ctx.shot("security-history", nb.cell(5))
    time.sleep(1.5)  # let any late onerror/onload/iframe fire
    problems = security_state(ctx, nb, [2, 3, 4, 5])
    expect(not problems, "; ".join(problems))
    # Reload: the saved notebook's outputs are rendered again (now untrusted).
    ctx.page.keyboard.press("Control+s")
    time.sleep(1.0)
    ctx.page.reload()
    ctx.page.locator(".jp-Notebook .gmi-reply").first.wait_for(timeout=60_000)
    time.sleep(2.0)
    ctx.shot("security-after-reload")
    problems = security_state(ctx, nb, [2, 3, 4, 5])
    expect(not problems, "after reload: " + "; ".join(problems))
    expect(ctx.watch.requests > 0, "the request listener saw no requests at all")
    return (
        f"no XSS title, no dialog, no request to :{LEAK_PORT} "
        f"({ctx.watch.requests} requests watched), no dangerous elements; also after reload"
    )


def check_interrupt(ctx: Context) -> str:
    nb = ctx.open("interrupt.ipynb")
    nb.run(0)
    pieces = [f"chunk{i:03d} " for i in range(300)]
    ctx.server.enqueue(reply(pieces, chunk_delay=0.1))
    nb.run(1, wait=False)
    replies = nb.reply(1)
    wait_until(
        lambda: replies.count() and "chunk020" in replies.last.inner_text(), 20, "twenty chunks"
    )
    ctx.shot("interrupt-before", nb.cell(1))
    stop = nb.panel.locator("jp-button[data-command='notebook:interrupt-kernel']").or_(
        nb.panel.locator("[data-jp-item-name='interrupt'] button")
    )
    clicked = time.monotonic()
    stop.first.click()
    nb.wait_done(1, 15)
    took = time.monotonic() - clicked
    final = replies.last
    wait_until(lambda: final.locator(".gmi-footer").count() > 0, 5, "the footer")
    text = final.inner_text()
    footer = final.locator(".gmi-footer").inner_text()
    errors = nb.cell(1).locator(".jp-OutputArea-output[data-mime-type*='stderr']")
    error_text = errors.last.inner_text().strip() if errors.count() else ""
    ctx.shot("interrupt-after", nb.cell(1))
    expect(took < 5, f"the cell took {took:.1f} s to stop")
    expect("chunk020" in text and "chunk299" not in text, "partial text not kept")
    expect(final.locator(".gmi-cursor").count() == 0, "cursor still shown after the interrupt")
    expect("interrupted" in footer, f"footer does not say interrupted: {footer!r}")
    expect(error_text.startswith("StoppedError"), f"error output is {error_text!r}")
    expect(len(error_text.splitlines()) == 1, f"error is not one line: {error_text!r}")
    expect(replies.count() == 1, f"{replies.count()} reply displays")
    ctx.server.enqueue(reply("Yes, still here.", chunk_delay=0.01))
    nb.run(2)
    after = nb.reply(2).last
    expect("still here" in after.inner_text(), "the next cell did not show its reply")
    expect(after.locator(".gmi-footer").count() == 1, "the next cell has no footer")
    nb_errors = nb.cell(2).locator(".jp-OutputArea-output[data-mime-type*='stderr']").count()
    expect(nb_errors == 0, "the next cell shows an error")
    sent = ctx.server.last_request.json or {}
    history = [m.get("content") for m in sent.get("messages", [])]
    expect(any("chunk020" in str(c) for c in history), "partial reply not in the next request")
    ctx.shot("interrupt-next", nb.cell(2))
    chunks = len(re.findall(r"chunk\d{3}", text))
    return (
        f"stopped in {took:.1f} s with {chunks} chunks kept; footer {footer!r}; "
        f"error {error_text!r}; next cell OK (partial turn sent as history)"
    )


def check_rerun(ctx: Context) -> str:
    nb = ctx.open("rerun.ipynb")
    nb.run(0)
    ctx.server.enqueue(reply("Four."), reply("Four, again."))
    nb.run(1)
    first = nb.prompt(1)
    nb.run(1)
    expect(nb.prompt(1) != first, "the second run did not happen")
    second_request = ctx.server.last_request.json or {}
    roles = [m.get("role") for m in second_request.get("messages", [])]
    nb.run(2)
    history = nb.cell(2).locator(".gmi-reply").last.inner_text()
    ctx.shot("rerun-history", nb.cell(2))
    expect("Four, again." in history, "history lacks the second reply")
    expect("Four." not in history.replace("Four, again.", ""), "history keeps the first reply")
    expect(history.count("What is 2+2?") == 1, "history has the question more than once")
    expect("2. You" not in history, "history has two turns")
    expect(roles == ["user"], f"the re-run sent the old turn as history: roles {roles}")
    return f"one turn in history; re-run request roles {roles}"


def check_raw_text_tags(ctx: Context) -> str:
    nb = ctx.open("rawtext.ipynb")
    nb.run(0)
    ctx.server.enqueue(reply(RAW_TEXT_TAGS))
    nb.run(1)
    out = nb.reply(1).last
    ctx.shot("rawtext", nb.cell(1))
    text = out.inner_text()
    ctx.server.enqueue(reply("You are welcome."))
    nb.run(2)
    nb.run(3)
    history = nb.cell(3).locator(".gmi-reply").last.inner_text()
    ctx.shot("rawtext-history", nb.cell(3))
    lost = []
    if "must survive" not in text:
        lost.append(f"the reply shows only {text.splitlines()[0]!r}")
    if "You are welcome." not in history:
        lost.append("%gmi history lost every later turn")
    expect(not lost, "text after '<script>' in prose is dropped: " + "; ".join(lost))
    return "prose naming <script>/<style> keeps the rest of the reply and of the history"


CHECKS: list[tuple[str, Callable[[Context], str]]] = [
    ("1 streaming", check_streaming),
    ("2 rendering", check_rendering),
    ("3 security", check_security),
    ("4 interrupt", check_interrupt),
    ("5 re-run", check_rerun),
    ("6 raw-text-tags", check_raw_text_tags),
]


# --- main ------------------------------------------------------------------------------


@contextlib.contextmanager
def browser(chromium: str, profile: Path, watch: Watch) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile; every request of every tab goes through ``watch``."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        try:
            context.add_init_script(TITLE_HOOK)
            context.on("request", watch.on_request)
            yield context
        finally:
            context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (notebooks, log)")
    parser.add_argument("--only", help="comma-separated check numbers, e.g. 1,3")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gmi-lab-"))
    shots = Path(tempfile.mkdtemp(prefix="gmi-lab-shots-"))
    root = work / "notebooks"
    root.mkdir()
    for name, sources in NOTEBOOKS.items():
        (root / name).write_text(json.dumps(notebook(sources), indent=1))
    selected = set(args.only.split(",")) if args.only else None
    results: list[tuple[str, bool, str]] = []
    server = StandInServer().start()
    lab = Lab(root, server.base_url, free_port(), os.urandom(16).hex())
    try:
        lab.start(work)
        version = metadata.version("jupyterlab")
        print(f"jupyterlab {version} on 127.0.0.1:{lab.port}, stand-in on {server.base_url}")
        watch = Watch()
        with browser(args.chromium, work / "profile", watch) as context:
            page = context.pages[0] if context.pages else context.new_page()
            ctx = Context(context, page, lab, server, shots, watch)
            for name, check in CHECKS:
                if selected and name.split()[0] not in selected:
                    continue
                started = time.monotonic()
                try:
                    detail = check(ctx)
                    ok = server.pending == 0 or f"{server.pending} scripted replies unused"
                    results.append((name, ok is True, detail if ok is True else str(ok)))
                except Exception as exc:  # report and go on with the next check
                    ctx.shot(f"failed-{name.split()[0]}")
                    detail = f"{type(exc).__name__}: {exc}"
                    if not isinstance(exc, CheckFailed):
                        detail += "\n" + traceback.format_exc(limit=3)
                    results.append((name, False, detail))
                finally:
                    server.reset()
                    with contextlib.suppress(Exception):
                        lab.shutdown_kernels()
                status = "PASS" if results[-1][1] else "FAIL"
                took = time.monotonic() - started
                print(f"{status} {name} ({took:.0f} s): {results[-1][2]}", flush=True)
        print("screenshots:")
        for path in ctx.taken:
            print(f"  {path}")
    finally:
        lab.stop()
        server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(ok for _, ok, _ in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
