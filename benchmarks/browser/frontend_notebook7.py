"""Notebook 7 (``/notebooks``): JupyterLab's notebook widgets in a one-document page."""

from dataclasses import replace

from frontend_lab import FRONTEND as LAB

FRONTEND = replace(LAB, name="notebook7", url="/notebooks/{name}", root=".jp-NotebookPanel")
