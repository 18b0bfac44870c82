"""Common harness of the real-browser checks: the Jupyter server, Chromium, waiting, results.

One ``jupyter lab`` process on loopback serves all three frontends (JupyterLab at
``/lab``, Notebook 7 at ``/notebooks``, nbclassic at ``/nbclassic``); its kernels talk to
the stand-in chat server that the matrix runs in-process, so each check scripts replies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Locator, Page, Route, sync_playwright

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
LEAK_PORT = 9  # replies try to load things from 127.0.0.1:9; any such request is a leak

# Hook document.title in every frame: record each value ever set (payloads set "XSS…").
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


class CheckFailed(AssertionError):
    """A check saw something wrong (one line, shown as FAIL)."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll ``predicate`` until truthy; every wait is bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notebook(sources: list[str]) -> dict[str, Any]:
    """An nbformat 4 notebook of code cells."""
    cells = [
        {"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "execution_count": None,
         "outputs": [], "source": source}
        for i, source in enumerate(sources)
    ]  # fmt: skip
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    metadata = {"kernelspec": kernelspec, "language_info": {"name": "python"}}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def kernel_env(base_url: str, home: Path) -> dict[str, str]:
    """The environment kernels get: the stand-in server, a fake key, private Jupyter dirs."""
    env = dict(os.environ)
    for name in ("GMI_CLOUD_APIKEY", "GMI_MODEL"):
        env.pop(name, None)
    env.update(
        GMI_BASE_URL=base_url,
        GMI_API_KEY=API_KEY,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
    )
    return env


def write_lab_settings(settings: Path) -> None:
    """No news/update toasts; render every cell (no windowing) in JupyterLab and Notebook 7."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, content in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


@dataclass
class Server:
    """A ``jupyter lab`` process on 127.0.0.1 with a token and private config."""

    root: Path
    base_url: str
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: os.urandom(16).hex())
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
        write_lab_settings(home / "lab-settings")
        jupyter = Path(sys.executable).with_name("jupyter")
        command = [
            str(jupyter if jupyter.exists() else shutil.which("jupyter") or "jupyter"),
            *("lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1"),
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        self.log = work / "jupyter-server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                env=kernel_env(self.base_url, home), start_new_session=True,
            )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: see {self.log}")
            with contextlib.suppress(OSError, ValueError):
                self.get("/api/status")
                return
            time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not start in 90 s: see {self.log}")

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
            url = self.url(f"/api/sessions/{session['id']}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10)


@dataclass
class Watch:
    """Everything a page did that a reply must never cause."""

    dialogs: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    requests: int = 0

    def on_dialog(self, dialog: Any) -> None:
        if dialog.type == "beforeunload":  # the frontend's own "leave the page?" prompt
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

    def problems(self, page: Page) -> list[str]:
        """Titles set by payloads, dialogs, leaked requests (empty when all is well)."""
        found = []
        titles = [t for t in page.evaluate("window.__gmiTitles || []") if t.startswith("XSS")]
        if titles or page.title().startswith("XSS"):
            found.append(f"document.title set to {titles or page.title()}")
        if self.dialogs:
            found.append(f"dialogs: {self.dialogs}")
        if self.leaks:
            found.append(f"requests to 127.0.0.1:{LEAK_PORT}: {self.leaks}")
        return found


DANGEROUS = (
    "script, iframe, img, svg, form, object, embed, input, textarea, video, audio, meta, base, "
    "link, [onerror], [onload], [ontoggle], [onclick], [onmouseover], [onfocus], [style], "
    "a[href^='javascript:' i], a[href^='data:' i], [src^='javascript:' i], [action], [formaction]"
)


# Inside typeset math (MathJax styles its own elements), only what can run or navigate.
DANGEROUS_IN_MATH = (
    "a[href^='javascript:' i], a[href^='data:' i], [href^='javascript:' i], [onerror], "
    "[onload], [onclick], [onmouseover], [onfocus], iframe, object, embed, form, img, "
    "script:not([type^='math/tex'])"
)
MATH_BOXES = ".MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_CHTML, mjx-container"


def dangerous_in(area: Locator) -> list[str]:
    """Elements under ``area`` that could run or load something (outerHTML heads).

    MathJax 2 keeps each formula's TeX in a ``<script type="math/tex">`` (data, never run).
    """
    script = """(nodes, [sel, inMath, boxes]) => nodes
        .flatMap(n => [...n.querySelectorAll(sel)])
        .filter(e => !(e.tagName === 'SCRIPT' && /^math\\/tex/.test(e.type)))
        .filter(e => !e.closest(boxes) || e.matches(inMath))
        .map(e => e.outerHTML.slice(0, 120))"""
    return list(area.evaluate_all(script, [DANGEROUS, DANGEROUS_IN_MATH, MATH_BOXES]))


# Every URL that is not loopback, file:, data: or blob: (there is no network: fail fast).
REMOTE = re.compile(r"^(?!https?://(?:127\.0\.0\.1|localhost)[:/])(?!file:|data:|blob:)")


def refuse(route: Route) -> None:
    route.abort()


@contextlib.contextmanager
def chromium(executable: str, profile: Path, watch: Watch) -> Iterator[BrowserContext]:
    """System Chromium (never a downloaded one) with a fresh profile, watched."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, args=CHROMIUM_ARGS, headless=True,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )  # fmt: skip
        try:
            context.add_init_script(TITLE_HOOK)
            context.on("request", watch.on_request)
            context.route(REMOTE, refuse)
            yield context
        finally:
            context.close()


@dataclass
class Shots:
    """Numbered screenshots in one folder."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, name: str, target: Locator | None = None) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        with contextlib.suppress(Exception):  # a failed screenshot must not hide the result
            if target is not None:
                target.scroll_into_view_if_needed(timeout=5_000)
                target.screenshot(path=str(path), timeout=10_000)
            else:
                page.screenshot(path=str(path), timeout=10_000)
            self.taken.append(path)
        return path
