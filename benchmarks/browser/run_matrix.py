"""Real-browser checks of gmi_magics: JupyterLab 4, Notebook 7, nbclassic, nbconvert's page.

    python benchmarks/browser/run_matrix.py [--out DIR] [--only jupyterlab,nbconvert]
        [--checks streaming,panel] [--chromium /usr/bin/chromium] [--keep]

Needs, in the Python that runs it: ``jupyterlab notebook nbclassic nbconvert playwright``
(the Python package only: it drives the system Chromium, never a downloaded browser) and
``gmi_magics`` (``pip install -e .``). One ``jupyter lab`` server on 127.0.0.1 serves the
three frontends; the stand-in chat server runs in this process so each check scripts its
replies. Prints one line per frontend and check, saves screenshots to ``--out``, and exits
non-zero when any check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import playwright  # noqa: F401
except ImportError:  # pragma: no cover - opt-in tool
    sys.exit("playwright is not installed here: pip install playwright (no browser download)")

import frontend_lab
import frontend_nbclassic
import frontend_notebook7
import page_nbconvert
from cell_checks import CELL_CHECKS
from content import NOTEBOOKS
from frontend import Frontend, Run
from harness import CheckFailed, Server, Shots, Watch, chromium, notebook
from panel_checks import check_panel

from gmi_magics.testing import StandInServer

FRONTENDS: list[Frontend] = [
    frontend_lab.FRONTEND,
    frontend_notebook7.FRONTEND,
    frontend_nbclassic.FRONTEND,
]
CHECKS: list[tuple[str, Callable[[Run], str]]] = [*CELL_CHECKS, ("panel", check_panel)]
Result = tuple[str, bool, str]


def one(name: str, check: Callable[[], str], on_fail: Callable[[], None]) -> Result:
    """Run one check; print ``PASS|FAIL name (N s): detail`` at once."""
    started = time.monotonic()
    try:
        detail, ok = check(), True
    except Exception as exc:  # report it and go on with the next check
        ok, detail = False, f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, CheckFailed):
            detail += "\n" + traceback.format_exc(limit=4)
        with contextlib.suppress(Exception):
            on_fail()
    took = time.monotonic() - started
    print(f"{'PASS' if ok else 'FAIL'} {name} ({took:.0f} s): {detail}", flush=True)
    return name, ok, detail


def frontend_checks(run: Run, selected: set[str] | None) -> list[Result]:
    results = []
    for name, check in CHECKS:
        if selected and name not in selected:
            continue

        def attempt(check: Callable[[Run], str] = check) -> str:
            detail = check(run)
            if run.chat.pending:
                raise CheckFailed(f"{run.chat.pending} scripted replies unused")
            return detail

        label = f"{run.frontend.name} {name}"
        results.append(one(label, attempt, lambda name=name: run.shot(f"failed-{name}")))
        run.chat.reset()
        with contextlib.suppress(Exception):
            run.server.shutdown_kernels()
    return results


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="screenshot folder (default: a new /tmp dir)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", help="frontends: jupyterlab,notebook7,nbclassic,nbconvert")
    parser.add_argument("--checks", help="checks: " + ",".join(name for name, _ in CHECKS))
    parser.add_argument("--keep", action="store_true", help="keep the notebooks and logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    only = set(args.only.split(",")) if args.only else None
    selected = set(args.checks.split(",")) if args.checks else None
    out = args.out or Path(tempfile.mkdtemp(prefix="gmi-browser-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gmi-browser-"))
    root = work / "notebooks"
    root.mkdir()
    frontends = [f for f in FRONTENDS if not only or f.name in only]
    for fe in frontends:
        for kind, sources in NOTEBOOKS.items():
            (root / f"{fe.name}-{kind}.ipynb").write_text(json.dumps(notebook(sources)))
    chat = StandInServer().start()
    server = Server(root, chat.base_url)
    watch, shots = Watch(), Shots(out)
    results: list[Result] = []
    started = time.monotonic()
    try:
        if frontends:
            server.start(work)
            versions = ", ".join(
                f"{p} {metadata.version(p)}" for p in ("jupyterlab", "notebook", "nbclassic")
            )
            print(f"{versions}; server 127.0.0.1:{server.port}, stand-in {chat.base_url}")
        with chromium(args.chromium, work / "profile", watch) as browser:
            for fe in frontends:
                run = Run(browser, fe, server, chat, watch, shots)
                results += frontend_checks(run, selected)
                watch.dialogs.clear()
                watch.leaks.clear()
            if not only or "nbconvert" in only:
                page = browser.new_page()
                page.on("dialog", watch.on_dialog)
                results += page_nbconvert.checks(page, chat, watch, shots, work, one)
    finally:
        server.stop()
        chat.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(ok for _, ok, _ in results)
    print(f"screenshots: {out} ({len(shots.taken)} files); {time.monotonic() - started:.0f} s")
    print(f"browser: {passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
