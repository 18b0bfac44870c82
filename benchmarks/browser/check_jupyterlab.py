"""Kept for old instructions: the JupyterLab column of ``run_matrix.py``.

    python benchmarks/browser/check_jupyterlab.py [run_matrix options]

is ``run_matrix.py --only jupyterlab``; see ``run_matrix.py`` for the whole matrix
(JupyterLab 4, Notebook 7, nbclassic, nbconvert's page).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_matrix import main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "jupyterlab", *sys.argv[1:]]))
