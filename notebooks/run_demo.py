"""Run a demo notebook headless and write an HTML copy next to it.

    python notebooks/run_demo.py [notebooks/quickstart.ipynb]

With ``GMI_API_KEY`` set, the notebook talks to GMI Cloud (or ``$GMI_BASE_URL``).
Without it, the notebook runs against the offline stand-in server: canned replies.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from gmi_magics.testing import StandInServer

HERE = Path(__file__).resolve().parent
OFFLINE_BANNER = (
    "**Offline demo, canned replies**: GMI_API_KEY was not set, so this notebook ran "
    "against gmi_magics' stand-in server on 127.0.0.1. Set GMI_API_KEY for real answers."
)


def execute(path: Path, *, timeout: int = 300) -> nbformat.NotebookNode:
    """Execute the notebook in a fresh kernel (cell ids are sent, as in Jupyter)."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3").execute(cwd=str(path.parent))
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(HERE / "quickstart.ipynb"))
    parser.add_argument("--out", help="HTML file to write (default: next to the notebook)")
    args = parser.parse_args(argv)
    path = Path(args.notebook).resolve()
    with ExitStack() as stack:
        offline = not (os.environ.get("GMI_API_KEY") or os.environ.get("GMI_CLOUD_APIKEY"))
        if offline:
            server = stack.enter_context(StandInServer())
            os.environ["GMI_BASE_URL"] = server.base_url
            os.environ["GMI_API_KEY"] = "offline-demo-key"
            print(f"OFFLINE DEMO, canned replies: stand-in server at {server.base_url}")
        else:
            print(f"Live demo against {os.environ.get('GMI_BASE_URL', 'GMI Cloud')}")
        notebook = execute(path)
    if offline:
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(OFFLINE_BANNER))
    html, _ = HTMLExporter().from_notebook_node(notebook)
    out = Path(args.out) if args.out else path.with_suffix(".html")
    out.write_text(html, encoding="utf-8")
    print(f"Executed {path.name}: {len(notebook.cells)} cells; HTML copy at {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
