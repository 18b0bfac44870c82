"""A notebook frontend as a person uses it: open a notebook, run cells, read the outputs.

Each frontend module (``frontend_lab``, ``frontend_notebook7``, ``frontend_nbclassic``)
gives a ``Frontend``: the URL of a notebook and the CSS selectors of its page.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from harness import CheckFailed, Server, Shots, Watch, wait_until
from playwright.sync_api import BrowserContext, Locator, Page

from gmi_magics.testing import StandInServer

PROMPT_DONE = re.compile(r"\[(\d+)\]:?$")


@dataclass(frozen=True)
class Frontend:
    """Where a frontend puts things."""

    name: str
    url: str  # "{name}" is the notebook's file name
    root: str  # the open notebook
    cell: str  # a code cell, under root
    prompt: str  # the input prompt, under a cell ("[3]:", "In [3]:")
    editor: str  # the cell's editor, clicked before Shift+Enter
    area: str  # the cell's whole output area
    output: str  # one output, under the area
    stderr: str  # an output written to stderr
    interrupt: str  # the toolbar's interrupt button
    ready: str = ""  # present once the kernel is connected (optional)

    def open(self, page: Page, server: Server, name: str, cells: int) -> Notebook:
        page.goto(server.url(self.url.format(name=name)))
        notebook = Notebook(page, self, server, name)
        notebook.cells.first.wait_for(timeout=60_000)
        wait_until(lambda: notebook.cells.count() >= cells, 30, "all cells")
        wait_until(lambda: server.kernel_state(name) == "idle", 60, "the kernel to be idle")
        time.sleep(1.0)  # the page's kernel connection settles
        return notebook


class Notebook:
    """One open notebook page."""

    def __init__(self, page: Page, frontend: Frontend, server: Server, name: str) -> None:
        self.page, self.frontend, self.server, self.name = page, frontend, server, name

    @property
    def root(self) -> Locator:
        return self.page.locator(self.frontend.root).first

    @property
    def cells(self) -> Locator:
        return self.root.locator(self.frontend.cell)

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(self.frontend.prompt).first.inner_text().strip()

    def run(self, index: int, *, wait: bool = True, timeout: float = 60) -> Locator:
        """Click into the cell's editor and press Shift+Enter, as a person would."""
        before = self.prompt(index)
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(self.frontend.editor).first.click()
        self.page.keyboard.press("Shift+Enter")
        wait_until(lambda: self.prompt(index) != before, 10, f"cell {index} to start")
        if wait:
            self.wait_done(index, timeout)
        return cell

    def wait_done(self, index: int, timeout: float = 60) -> str:
        def done() -> str | None:
            text = self.prompt(index)
            return text if PROMPT_DONE.search(text) else None

        return str(wait_until(done, timeout, f"cell {index} to finish"))

    def area(self, index: int) -> Locator:
        """The cell's output area as a whole (every output of the reply in it)."""
        return self.cell(index).locator(self.frontend.area).first

    def text(self, index: int) -> str:
        area = self.area(index)
        return area.inner_text() if area.count() else ""

    def outputs(self, index: int) -> Locator:
        return self.cell(index).locator(self.frontend.output)

    def stderr(self, index: int) -> str:
        errors = self.cell(index).locator(self.frontend.stderr)
        return errors.last.inner_text().strip() if errors.count() else ""

    def interrupt(self) -> None:
        self.page.locator(self.frontend.interrupt).first.click()

    def save_and_reload(self) -> None:
        """Save (Ctrl+S), reload the page, wait for the saved outputs to render again."""
        self.cell(0).locator(self.frontend.editor).first.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        time.sleep(1.5)
        self.page.reload()
        try:
            self.root.locator(".gmi-footer").first.wait_for(timeout=60_000)
        except Exception as error:
            raise CheckFailed(f"no reply shown after reloading: {error}") from None
        time.sleep(2.0)


@dataclass
class Run:
    """What a check needs: the browser, the frontend, both servers, the watchers."""

    browser: BrowserContext
    frontend: Frontend
    server: Server
    chat: StandInServer
    watch: Watch
    shots: Shots
    page: Page | None = None

    def open(self, kind: str, cells: int) -> Notebook:
        """Open ``<frontend>-<kind>.ipynb`` in a fresh tab (closing the last one)."""
        old, self.page = self.page, self.browser.new_page()
        self.page.on("dialog", self.watch.on_dialog)
        self.page.set_default_timeout(30_000)
        if old is not None:
            old.close()
        return self.frontend.open(self.page, self.server, self.notebook(kind), cells)

    def notebook(self, kind: str) -> str:
        return f"{self.frontend.name}-{kind}.ipynb"

    def shot(self, name: str, target: Locator | None = None) -> None:
        assert self.page is not None
        self.shots.take(self.page, f"{self.frontend.name}-{name}", target)
