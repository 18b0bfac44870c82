"""Fill ``{expression}`` references in cell text from the user namespace.

A *reference* is ``{`` + a root identifier + any ``.attr`` / ``[key]`` trailers
+ ``}``, with no spaces (except after commas inside brackets). Keys are literals:
ints, floats, quoted strings without braces or backslashes, ``True``/``False``/
``None``, slices such as ``1:3`` or ``::2``, and tuples of these (``[0, 1]``).

Rules:

- A reference is filled in only when its root name is in the namespace; anything
  else (``{}``, ``{ x }``, ``{x: 1}``, ``{a+b}``, ``{f()}``, ``{x[i]}``, JSON,
  comprehensions, undefined roots) is left exactly as written.
- ``{{ref}}`` becomes the literal ``{ref}`` when ``ref``'s root is defined (the
  escape is only needed then); every other ``{{`` or ``}}`` is left alone, so
  nested JSON and dict literals survive.
- LaTeX groups are skipped: a ``{`` directly after ``\\``, ``\\command``, ``^``
  or ``_``, or after the ``}`` closing such a group (``\\frac{a}{b}``).
- Python code in a cell is text like any other: ``f"{x}"`` or a set literal
  ``{x}`` is filled in when ``x`` is defined. ``--no-interpolate`` turns it off.

Evaluation never calls ``eval``: the reference is parsed with ``ast``, checked,
and walked with ``getattr`` and ``[]``. Attributes starting with ``_`` are
refused. Properties and ``__getitem__`` of the user's own objects still run.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Mapping

from gmi_magics.context.preview import preview

__all__ = ["InterpolationError", "evaluate", "find_references", "interpolate"]

_IDENT = r"[^\W\d]\w*"
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_STRING = r"'[^'\\\n{}]*'|\"[^\"\\\n{}]*\""
_BOUND = r"(?:-?[0-9]+|None)?"
_KEY = rf"(?:{_NUMBER}|{_STRING}|True|False|None)"
_ITEM = rf"(?:{_BOUND}:{_BOUND}(?::{_BOUND})?|{_KEY})"
_SUBSCRIPT = rf"\[{_ITEM}(?:, *{_ITEM})*,?\]"
_REFERENCE = rf"{_IDENT}(?:\.{_IDENT}|{_SUBSCRIPT})*"
_PATTERN = re.compile(rf"\{{\{{(?P<escaped>{_REFERENCE})\}}\}}|\{{(?P<reference>{_REFERENCE})\}}")
_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+\*?$")
_ROOT = re.compile(_IDENT)
_MAX_REASON = 200
_MAX_GROUPS = 9  # LaTeX macros take at most nine arguments
_MAX_GROUP_CHARS = 2000  # a LaTeX argument longer than this is not looked through


class InterpolationError(ValueError):
    """A ``{reference}`` whose root exists could not be filled in."""

    hint = "Fix the reference, write {{...}} to keep it literally, or --no-interpolate."

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"Could not fill in {{{expression}}}: {reason}")

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback."""
        return [f"InterpolationError: {self}", self.hint]


def interpolate(text: str, namespace: Mapping[str, object], *, max_chars: int = 2000) -> str:
    """Replace each reference whose root is in ``namespace`` by a preview of it."""

    def replace(match: re.Match[str]) -> str:
        expression = _candidate(match)
        if expression is None or _root(expression) not in namespace:
            return match.group()
        if match["escaped"] is not None:
            return f"{{{expression}}}"
        return preview(evaluate(expression, namespace), max_chars=max_chars)

    return _PATTERN.sub(replace, text)


def find_references(text: str) -> list[str]:
    """The expressions ``interpolate`` would try to fill in, first occurrence each."""
    found: dict[str, None] = {}
    for match in _PATTERN.finditer(text):
        expression = _candidate(match)
        if expression is not None and match["escaped"] is None:
            found.setdefault(expression)
    return list(found)


def evaluate(expression: str, namespace: Mapping[str, object]) -> object:
    """Evaluate a reference by walking its AST; raise ``InterpolationError``."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise InterpolationError(expression, "not a simple reference") from exc
    _check(tree, expression)
    try:
        return _walk(tree, namespace)
    except Exception as exc:
        raise InterpolationError(expression, _reason(exc)) from exc


def _candidate(match: re.Match[str]) -> str | None:
    """The reference of an escaped or plain match, or None if it is not one."""
    expression = match["escaped"] or match["reference"]
    if keyword.iskeyword(_root(expression)):
        return None
    return None if _after_latex(match.string, match.start()) else expression


def _root(expression: str) -> str:
    """The leading identifier of a reference."""
    match = _ROOT.match(expression)
    return match.group() if match else ""


def _after_latex(text: str, position: int) -> bool:
    """True when the ``{`` at ``position`` opens a LaTeX argument."""
    for _ in range(_MAX_GROUPS):  # \frac{a}{b}: follow "}{" back to the command
        previous = text[position - 1] if position else ""
        if previous and previous in "\\^_":
            return True
        if previous != "}":
            start = max(0, position - 64)
            return _COMMAND_BEFORE.search(text, start, position) is not None
        opening = _matching_open(text, position - 1)
        if opening is None:
            return False
        position = opening
    return False


def _matching_open(text: str, close: int) -> int | None:
    """Index of the ``{`` matching the ``}`` at ``close``, looking a bounded way back."""
    depth = 0
    for index in range(close, max(-1, close - _MAX_GROUP_CHARS), -1):
        if text[index] == "}":
            depth += 1
        elif text[index] == "{":
            depth -= 1
            if depth == 0:
                return index
    return None


def _check(node: ast.expr, expression: str) -> None:
    """Allow only a Name followed by attribute and literal-subscript access."""
    if isinstance(node, ast.Name) and not keyword.iskeyword(node.id):
        return
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            reason = f"attribute {node.attr!r} starts with '_' and is not allowed"
            raise InterpolationError(expression, reason)
        _check(node.value, expression)
    elif isinstance(node, ast.Subscript):
        _check_key(node.slice, expression)
        _check(node.value, expression)
    else:
        raise InterpolationError(expression, "not a simple reference")


def _check_key(node: ast.expr, expression: str) -> None:
    """Allow constants, negative numbers, slices and tuples of those as keys."""
    if isinstance(node, ast.Slice):
        parts = [part for part in (node.lower, node.upper, node.step) if part]
    elif isinstance(node, ast.Tuple):
        parts = node.elts
    elif _is_literal(node):
        return
    else:
        raise InterpolationError(expression, "subscripts must be literals or slices")
    for part in parts:
        _check_key(part, expression)


def _is_literal(node: ast.expr) -> bool:
    """A constant, or a minus sign before a numeric constant."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = node.operand
        return isinstance(operand, ast.Constant) and type(operand.value) in (int, float)
    return isinstance(node, ast.Constant)


def _walk(node: ast.expr, namespace: Mapping[str, object]) -> object:
    """Evaluate a checked reference with ``getattr`` and ``[]`` only."""
    if isinstance(node, ast.Name):
        return namespace[node.id]
    if isinstance(node, ast.Attribute):
        return getattr(_walk(node.value, namespace), node.attr)
    assert isinstance(node, ast.Subscript), "checked by _check"
    container: object = _walk(node.value, namespace)
    return container[_key(node.slice)]  # type: ignore[index]


def _key(node: ast.expr) -> object:
    """The literal value of a checked subscript key."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        return -_key(node.operand)  # type: ignore[operator]
    if isinstance(node, ast.Slice):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if part is None else _key(part) for part in parts))
    assert isinstance(node, ast.Tuple), "checked by _check_key"
    return tuple(_key(element) for element in node.elts)


def _reason(exc: Exception) -> str:
    """One line saying why evaluation failed."""
    message = " ".join(str(exc).split())
    if not isinstance(exc, AttributeError):
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if len(message) > _MAX_REASON:
        message = message[: _MAX_REASON - 1] + "…"
    return message
