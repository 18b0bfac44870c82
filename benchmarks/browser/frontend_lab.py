"""JupyterLab 4 (``/lab``)."""

from frontend import Frontend

LAB_OUTPUT = ".jp-OutputArea-output"

FRONTEND = Frontend(
    name="jupyterlab",
    url="/lab/tree/{name}?reset",  # reset: only this notebook open
    root=".jp-NotebookPanel:visible",
    cell=".jp-Notebook .jp-Cell.jp-CodeCell",
    prompt=".jp-InputPrompt",
    editor=".jp-InputArea-editor",
    area=".jp-OutputArea",
    output=LAB_OUTPUT,
    stderr=f"{LAB_OUTPUT}[data-mime-type*='stderr']",
    interrupt="jp-button[data-command='notebook:interrupt-kernel']",
)
