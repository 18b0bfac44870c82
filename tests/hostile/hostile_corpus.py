"""Hostile model output: markdown shapes, borrowed CSS classes, control sequences.

``markdown_shape(name, size)`` builds about ``size`` characters of one shape; every
shape must render (to HTML, in a cell and in ``%gmi history``) in time linear in size.
"""

from __future__ import annotations

from collections.abc import Callable


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: unit * max(1, size // len(unit))


def _nested_list(size: int, step: int = 2) -> str:
    lines, used, depth = [], 0, 0
    while used < size:
        line = " " * (step * depth) + f"- level {depth}\n"
        lines.append(line)
        used += len(line)
        depth += 1
    return "".join(lines)


def _nested_quote_list(size: int) -> str:
    lines, used, depth = [], 0, 0
    while used < size:
        line = "> " + "    " * depth + "- x\n"
        lines.append(line)
        used += len(line)
        depth += 1
    return "".join(lines)


def _table(size: int) -> str:
    head = "| a | b | c |\n|---|---|---|\n"
    row = "| [x](http://a.example) | `y` | *z* |\n"
    return head + row * max(1, (size - len(head)) // len(row))


def _long_line(size: int) -> str:
    return ("word " * (size // 5)).strip()


REPEATED_UNITS = [
    "1. ",
    "+ ",
    "- ",
    "* ",
    "> ",
    ">",
    "1) ",
    "- 1. ",
    "> 1. ",
    "1. > ",
    "- > ",
    "[",
    "[a",
    "](",
    "[a](",
    "[a](b",
    "![",
    "![a",
    "[a][",
    "[^",
    "[a]: ",
    "[]",
    "<",
    "<a ",
    "<a href=",
    "<b>",
    "<div>\n",
    "<http://",
    "<!",
    "<?",
    "&",
    "&#",
    "*",
    "_",
    "*a",
    "_a",
    "**a",
    "__a",
    "*a **b ",
    "~~",
    "`",
    "``",
    "`a",
    "a`",
    "|",
    "| a ",
    "|\n",
    "a|b\n",
    "\\",
    "\\[",
    "\\(",
    "$",
    "$$",
    "$a",
    "$$\n",
    "```\n",
    "~~~\n",
    "```python\n",
    "# a\n",
    "#",
    "=\n",
    "a\n=\n",
    "a\n-\n",
    "    ",
    "\t",
    " \n",
    "  \n",
    "\n",
    "---\n",
    "***\n",
    ":",
    "http://",
    "a\u0301",
]
MARKDOWN_SHAPES: dict[str, Callable[[int], str]] = {
    **{f"repeat {unit!r}": _repeat(unit) for unit in REPEATED_UNITS},
    "nested list by 2": _nested_list,
    "nested list by 4": lambda size: _nested_list(size, 4),
    "nested list in a quote": _nested_quote_list,
    "unclosed fence then links": lambda size: "```\n" + "[a" * (size // 2),
    "huge table": _table,
    "long line": _long_line,
    "emphasis chain": lambda size: "".join(f"{'*' * (i % 3 + 1)}a{i} " for i in range(size // 5)),
    "brackets nested": lambda size: "[" * (size // 2) + "]" * (size // 2),
    "parens after link": lambda size: "[a](" + "(" * (size - 4),
    "links with unbalanced parens": _repeat("[a]((a)"),
}


def markdown_shape(name: str, size: int) -> str:
    """About ``size`` characters of the named hostile shape."""
    return MARKDOWN_SHAPES[name](size)


# Class names of notebook frontends and CSS frameworks: a reply that borrows them can
# float fake dialogs over other cells (JupyterLab's jp-HoverBox + jp-Dialog-*).
FRONTEND_CLASSES: list[str] = [
    *("jp-HoverBox", "jp-Dialog", "jp-Dialog-content", "jp-Dialog-header", "jp-Dialog-body"),
    *("jp-Dialog-footer", "jp-Dialog-button", "jp-mod-accept", "jp-mod-reject", "jp-mod-styled"),
    *("jp-OutputArea-output", "jp-RenderedHTMLCommon", "jp-Notebook", "jp-Cell", "jp-InputArea"),
    *("jp-Toolbar", "jp-mod-error", "jp-RenderedText", "jp-ThemedContainer", "jp-LabShell"),
    *("lm-Widget", "lm-Menu", "lm-mod-hidden", "lm-Panel", "p-Widget", "p-Menu", "p-mod-hidden"),
    *("CodeMirror", "CodeMirror-line", "cm-editor", "cm-content", "cm-tooltip"),
    *("MathJax", "MathJax_Display", "MathJax_Preview", "mjx-container"),
    *("widget-html", "widget-button", "widget-text", "jupyter-widgets", "widget-inline-hbox"),
    *("output_area", "output_subarea", "output_html", "output_stderr", "output_error"),
    *("output_prompt", "prompt", "input_prompt", "rendered_html", "text_cell_render"),
    *("btn", "btn-primary", "btn-danger", "modal", "modal-dialog", "modal-backdrop", "fade"),
    *("show", "in", "alert", "alert-danger", "navbar", "dropdown-menu", "container-fluid"),
    *("fixed", "inset-0", "z-50", "absolute", "top-0", "left-0", "w-screen", "h-screen"),
    *("bg-black", "opacity-75", "hidden", "sr-only", "visually-hidden", "d-none"),
    *("ui-dialog", "ui-widget-overlay", "vscode-dark", "colab-df-container", "ansi-red-fg"),
    *("gmi-error", "gmi-footer", "gmi-note", "gmi-reply", "gmi-thinking", "gmi-tool"),
]


# Terminal control sequences and invisible reordering: none may reach a terminal.
CONTROL_SEQUENCES: dict[str, str] = {
    "clear screen": "\x1b[2J\x1b[H",
    "colour": "\x1b[31;1mred\x1b[0m",
    "alternate screen": "\x1b[?1049h",
    "reset terminal": "\x1bc",
    "window title (OSC, BEL)": "\x1b]0;pwned\x07",
    "window title (OSC, ST)": "\x1b]2;pwned\x1b\\",
    "clipboard write (OSC 52)": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "hyperlink (OSC 8)": "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI": "\x9b31m",
    "C1 OSC": "\x9d0;pwned\x9c",
    "carriage return overwrite": "safe command\rrm -rf ~",
    "backspaces": "rm -rf ~\b\b\b\b\b\b\b\bls",
    "bell": "\x07\x07",
    "NUL and DEL": "a\x00b\x7fc",
    "vertical tab and form feed": "a\x0bb\x0cc",
    "bidi override RLO": "access\u202e// check admin",
    "bidi embeddings": "\u202a\u202b\u202c\u202d",
    "bidi isolates": "\u2066\u2067\u2068\u2069",
}
FORBIDDEN_IN_TERMINAL = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
FORBIDDEN_IN_TERMINAL += [chr(c) for c in range(0x7F, 0xA0)]
FORBIDDEN_IN_TERMINAL += [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
