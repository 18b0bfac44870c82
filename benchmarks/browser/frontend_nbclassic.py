"""nbclassic (``/nbclassic``): the classic Notebook 6 page (CodeMirror 5, MathJax 2)."""

from frontend import Frontend

FRONTEND = Frontend(
    name="nbclassic",
    url="/nbclassic/notebooks/{name}",
    root="#notebook",
    cell=".cell.code_cell",
    prompt=".input_prompt",
    editor=".CodeMirror",
    area=".output_wrapper .output",
    output=".output_area .output_subarea",
    stderr=".output_stderr, .output_error",  # a stream to stderr, or an error output
    interrupt="button[data-jupyter-action='jupyter-notebook:interrupt-kernel']",
)
