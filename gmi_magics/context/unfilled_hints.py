"""Notes for ``{expression}`` braces sent as written that the user probably meant to
fill in (``{df.head()}``, ``{a + b}``), with a suggested name to assign first."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from gmi_magics.context.latex import after_latex
from gmi_magics.context.markdown_code import CodeMap
from gmi_magics.context.references import (
    REFERENCE_PATTERN,
    InterpolationError,
    check_key,
    is_literal,
)

__all__ = ["unfilled_notes"]

_BRACED = re.compile(r"(?<!\{)\{(?P<inner>[^{}\n]{1,300})\}(?!\})")
_CODE_BEFORE = re.compile(r"(?:[=(\[,)$]|\b(?:return|yield|lambda|print))[ \t]*$")
_QUOTE = re.compile(r"(?:(?<!\w)(?P<prefix>[fF][rR]?|[rR][fF]))?(?P<quote>\"\"\"|'''|\"|')")
_LOOK_BACK = 500  # characters of the line before a brace searched for code context
_MAX_SHOWN = 80  # longest expression quoted in full in a note
_OPERATORS = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)


def unfilled_notes(text: str, namespace: Mapping[str, object], code: CodeMap) -> list[str]:
    """A note per ``{expression}`` that calls or computes on an existing name: such
    braces are sent as written, and the user probably expected a value."""
    notes: dict[str, str] = {}
    for match in _BRACED.finditer(text):
        inner = match["inner"].strip()
        if inner in notes or code.covers(match.start()) or _in_code_context(text, match):
            continue
        note = _unfilled_note(inner, namespace)
        if note:
            notes[inner] = note
    return [note for note in notes.values() if note]


def _in_code_context(text: str, match: re.Match[str]) -> bool:
    """Braces that are LaTeX, a simple reference, or look like a literal in code."""
    start = match.start()
    if REFERENCE_PATTERN.fullmatch(match.group()) or after_latex(text, start):
        return True
    line_start = max(text.rfind("\n", 0, start) + 1, start - _LOOK_BACK)
    before = text[line_start:start]
    return bool(_CODE_BEFORE.search(before)) or _inside_fstring(before)


def _inside_fstring(before: str) -> bool:
    """True when ``before`` (the line up to a brace) ends inside an open f-string."""
    open_quote, is_f = "", False
    for quote in _QUOTE.finditer(before):
        if not open_quote:
            open_quote, is_f = quote["quote"], bool(quote["prefix"])
        elif quote["quote"] == open_quote:
            open_quote = ""
    return bool(open_quote) and is_f


def _unfilled_note(expression: str, namespace: Mapping[str, object]) -> str:
    """The note for one braced expression, or "" when it is not worth one."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return ""
    if not isinstance(tree, (ast.Call, ast.Attribute, ast.Subscript, *_OPERATORS)):
        return ""  # literals, comprehensions, names, lambdas, conditionals
    reason = _why_not_filled(tree)
    if not reason or not _uses_existing_name(tree, namespace):
        return ""
    name = _suggested_name(tree, namespace)
    shown = _shorten(expression)
    return (
        f"{{{shown}}} was sent as written: {reason}; "
        f"assign it first (`{name} = {shown}`) and use {{{name}}}"
    )


def _why_not_filled(tree: ast.expr) -> str:
    """What in the expression interpolation does not do, most telling first."""
    nodes = list(ast.walk(tree))
    if any(isinstance(node, ast.Call) for node in nodes):
        return "calls are not evaluated"
    if any(isinstance(node, _OPERATORS) and not is_literal(node) for node in nodes):
        return "operators are not evaluated"
    subscripts = [node for node in nodes if isinstance(node, ast.Subscript)]
    if any(not _is_constant_key(node.slice) for node in subscripts):
        return "only constant subscripts are filled in"
    return ""


def _is_constant_key(node: ast.expr) -> bool:
    """True for keys ``check_key`` accepts."""
    try:
        check_key(node, "")
    except InterpolationError:
        return False
    return True


def _uses_existing_name(tree: ast.expr, namespace: Mapping[str, object]) -> bool:
    """True when a name the expression reads (not one it binds) is in the namespace."""
    names = [node for node in ast.walk(tree) if isinstance(node, ast.Name)]
    bound = {node.id for node in names if not isinstance(node.ctx, ast.Load)}
    bound |= {arg.arg for node in ast.walk(tree) for arg in _lambda_args(node)}
    read = {node.id for node in names if isinstance(node.ctx, ast.Load)}
    return any(name in namespace for name in read - bound)


def _lambda_args(node: ast.AST) -> list[ast.arg]:
    """The parameters a lambda binds (none for other nodes)."""
    if not isinstance(node, ast.Lambda):
        return []
    arguments = node.args
    return [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]


def _suggested_name(tree: ast.expr, namespace: Mapping[str, object]) -> str:
    """A variable name for the value: ``df_head`` for ``df.head()``, else ``value``."""
    derived = ""
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Attribute):
        root = next((n.id for n in ast.walk(tree.func.value) if isinstance(n, ast.Name)), "")
        derived = f"{root}_{tree.func.attr}".strip("_")
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        first = tree.args[0] if tree.args else None
        argument = first.id if isinstance(first, ast.Name) else "value"
        derived = f"{tree.func.id}_{argument}"
    for name in (derived, "value", "result"):
        if name.isidentifier() and name not in namespace:
            return name
    return "value_1"


def _shorten(expression: str) -> str:
    """The expression, cut in the middle when it is too long to quote."""
    if len(expression) <= _MAX_SHOWN:
        return expression
    half = _MAX_SHOWN // 2
    return f"{expression[:half]}…{expression[-half:]}"
