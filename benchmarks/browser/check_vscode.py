"""VS Code check: a saved streamed reply reads as one reply in VS Code's notebook view.

    python benchmarks/browser/check_vscode.py [--out DIR] [--code-server PATH]

VS Code cannot be installed on the build machines, but code-server (VS Code in the
browser, from the npm registry: ``benchmarks/browser/install_code_server.sh``) can, and
its built-in ``ipynb`` extension shows a notebook's saved outputs without the Jupyter
extension.  This executes a notebook (``%load_ext gmi_magics``, a ``%%gmi`` cell whose
long markdown reply streams from the stand-in, so several parts are published), opens
it in code-server in headless Chromium, and measures, inside the output webview, the
space between the reply's parts against the space between two paragraphs of one part,
and that its math is drawn as MathML (VS Code does not typeset ``$…$`` in HTML outputs).
Live streaming needs a kernel (the Jupyter extension), which is not here: the live path
is checked at the protocol level (``tests/test_kernel_protocol.py``).

Prints one line per check, saves screenshots to ``--out``, exits non-zero on a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CODE_SERVER = "/tmp/vscode/node_modules/.bin/code-server"
SECTIONS = 6
SECTION = """## Part N

A paragraph long enough to wrap over a line or two in a narrow output area, so that it is
clear where one part ends and the next begins.

A second paragraph, the space above it is the space between two blocks of one part.

- a bullet with `inline code`
- a bullet with **bold** text

```python
def square(x):
    return x ** 2
```

| name | value |
|---|---|
| alpha | N |

Euler's identity $e^{i\\pi} + 1 = 0$, and a sum:

$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$

The last paragraph of part N.
"""
MEASURE = """() => {
  const parts = [...document.querySelectorAll('.output_container')]
    .map(c => c.querySelector('.gmi-part')).filter(p => p && p.innerText.trim());
  const blocks = p => [...p.children].filter(k => k.tagName !== 'STYLE');
  const gaps = [];
  for (let i = 1; i < parts.length; i++) {
    const a = blocks(parts[i - 1]), b = blocks(parts[i]);
    gaps.push(b[0].getBoundingClientRect().top - a[a.length - 1].getBoundingClientRect().bottom);
  }
  const p = document.querySelector('.gmi-part > p + p');
  const paragraph = p ? p.getBoundingClientRect().top
    - p.previousElementSibling.getBoundingClientRect().bottom : null;
  const maths = [...document.querySelectorAll('.gmi-part math')];
  const drawn = maths.filter(m => m.getBoundingClientRect().width > 0).length;
  const fractions = [...document.querySelectorAll('.gmi-part math mfrac')]
    .map(f => f.getBoundingClientRect().height);
  const font = p ? parseFloat(getComputedStyle(p).fontSize) : null;
  const tex = parts.filter(q => /\\$[^$]*\\\\/.test(q.innerText)).length;
  return {parts: parts.length, gaps, paragraph, maths: maths.length, drawn,
          fraction: fractions.length ? Math.max(...fractions) : null, font, tex};
}"""


def make_notebook(path: Path) -> int:
    """Execute the notebook against the stand-in; the number of text parts of the reply."""
    import nbformat
    from nbclient import NotebookClient

    from gmi_magics.testing import StandInServer, reply

    text = "\n".join(SECTION.replace("N", str(i)) for i in range(1, SECTIONS + 1))
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext gmi_magics"),
        # what a VS Code cell gets (its cell id, which nbclient does not send, picks it)
        nbformat.v4.new_code_cell("%config GMIMagics.math = 'mathml'"),
        nbformat.v4.new_code_cell("%%gmi\nExplain"),
    ]
    with StandInServer() as server:
        server.enqueue(reply(pieces, chunk_delay=4 / len(pieces)))  # 4 s: several parts
        os.environ.update(GMI_BASE_URL=server.base_url, GMI_API_KEY="vscode-check")
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    nbformat.write(notebook, path)
    outputs = notebook.cells[-1].outputs
    return sum("text/plain" in output.get("data", {}) for output in outputs)


class Unavailable(Exception):
    """code-server or its workbench could not be brought up here (not a rendering fault)."""


@contextlib.contextmanager
def code_server(binary: str, folder: Path, port: int) -> Any:
    """code-server on 127.0.0.1 with no auth, its state in a temporary folder."""
    state = Path(tempfile.mkdtemp(prefix="gmi-vscode-"))
    user = state / "data" / "User"
    user.mkdir(parents=True)
    user.joinpath("settings.json").write_text(
        json.dumps(
            {
                "workbench.startupEditor": "none",
                "telemetry.telemetryLevel": "off",
                "workbench.editorAssociations": {"*.ipynb": "jupyter-notebook"},
            }
        )
    )
    config = state / "config.yaml"  # else it writes ~/.config/code-server/config.yaml
    config.write_text(f"bind-addr: 127.0.0.1:{port}\nauth: none\ncert: false\n")
    command = [
        binary, "--config", str(config), "--disable-telemetry", "--disable-workspace-trust",
        "--user-data-dir", str(state / "data"), "--extensions-dir", str(state / "ext"),
        str(folder),
    ]  # fmt: skip
    with open(state / "code-server.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    try:
        for _ in range(120):
            if _answers(f"http://127.0.0.1:{port}/healthz"):
                break
            time.sleep(0.5)
        else:
            raise Unavailable(f"code-server did not answer within 60 s (log: {state})")
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
        return True
    return False


def measure(chromium: str, port: int, folder: Path, name: str, out: Path) -> dict[str, Any]:
    """Open the notebook in code-server; the parts and gaps once the layout is still."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.goto(f"http://127.0.0.1:{port}/?folder={folder}")
            try:
                page.wait_for_selector(".monaco-workbench", timeout=60_000)
            except PlaywrightTimeout as error:
                raise Unavailable("code-server's workbench did not load within 60 s") from error
            result = None
            for attempt in range(3):  # the notebook view registers a while after start-up:
                time.sleep(3 * (attempt + 1))  # opened too early, the file shows as JSON
                row = page.get_by_role("treeitem", name=name, exact=True)
                row.wait_for(timeout=30_000)
                row.dblclick()
                result = _settled(page, seconds=40)
                if result:
                    break
                page.keyboard.press("Control+W")  # close the editor, open it again
            page.screenshot(path=str(out / "vscode_notebook.png"))
            return result or {"parts": 0, "gaps": [], "paragraph": None}
        finally:
            browser.close()


def _settled(page: Any, seconds: float) -> dict[str, Any] | None:
    """The measurements once they stop changing for 2 s (None: no reply part shown)."""
    result, last, still_since = None, None, time.monotonic()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for frame in page.frames:
            with contextlib.suppress(Exception):
                if frame.query_selector(".gmi-part"):
                    result = frame.evaluate(MEASURE)
        if result and result != last:
            last, still_since = result, time.monotonic()
        elif result and time.monotonic() - still_since > 2:
            break
        time.sleep(0.3)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "gmi-vscode-shots"))
    parser.add_argument("--code-server", default=CODE_SERVER)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="gmi-vscode-ws-"))
    texts = make_notebook(folder / "reply.ipynb")
    failed = texts < 2
    print(f"{'FAIL' if failed else 'PASS'} vscode notebook: the reply was saved as {texts} parts")
    try:
        with code_server(args.code_server, folder, args.port):
            found = measure(args.chromium, args.port, folder, "reply.ipynb", out)
    except Unavailable as error:  # the environment, not the reply: say so in one line
        print(f"VS Code check skipped: {error}")
        return 0 if not failed else 1
    shown = found["parts"] == texts
    gaps, paragraph = [round(gap, 1) for gap in found["gaps"]], found["paragraph"]
    print(f"{'PASS' if shown else 'FAIL'} vscode render: {found['parts']} of {texts} parts shown")
    # one reply: a part starts about where the next paragraph of one part would
    joined = bool(gaps) and paragraph is not None and max(gaps) <= paragraph + 8
    print(
        f"{'PASS' if joined else 'FAIL'} vscode contiguous: space between parts {gaps} px, "
        f"between two paragraphs of a part {paragraph and round(paragraph, 1)} px"
    )
    # math drawn by the browser: every formula has a box, a fraction stands over two lines
    # (unknown elements would lie flat on one), and no TeX is left as text
    maths, fraction, font = found.get("maths", 0), found.get("fraction"), found.get("font")
    drawn = maths == 2 * SECTIONS and found.get("drawn") == maths and not found.get("tex")
    drawn = drawn and fraction is not None and font is not None and fraction >= 1.6 * font
    print(
        f"{'PASS' if drawn else 'FAIL'} vscode math: {found.get('drawn')} of {maths} formulas "
        f"drawn as MathML (expected {2 * SECTIONS}), a fraction {fraction and round(fraction)} "
        f"px high at {font} px type, {found.get('tex')} parts with TeX left as text"
    )
    print(f"screenshot: {out / 'vscode_notebook.png'}")
    return 0 if shown and joined and drawn and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
