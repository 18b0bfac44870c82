"""Parse, check and evaluate one ``{reference}``: a name, then ``.attr`` and
literal ``[key]`` trailers, walked with ``getattr`` and ``[]`` (never ``eval``)."""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Mapping

__all__ = ["REFERENCE_PATTERN", "InterpolationError", "check_key", "evaluate", "is_literal", "root"]

_IDENT = r"[^\W\d]\w*"
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_STRING = r"'[^'\\\n{}]*'|\"[^\"\\\n{}]*\""
_BOUND = r"(?:-?[0-9]+|None)?"
_KEY = rf"(?:{_NUMBER}|{_STRING}|True|False|None)"
_ITEM = rf"(?:{_BOUND}:{_BOUND}(?::{_BOUND})?|{_KEY})"
_SUBSCRIPT = rf"\[{_ITEM}(?:, *{_ITEM})*,?\]"
_REFERENCE = rf"{_IDENT}(?:\.{_IDENT}|{_SUBSCRIPT})*"
REFERENCE_PATTERN = re.compile(
    rf"\{{\{{(?P<escaped>{_REFERENCE})\}}\}}|\{{(?P<reference>{_REFERENCE})\}}"
)
_ROOT = re.compile(_IDENT)
_MAX_REASON = 200


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


def root(expression: str) -> str:
    """The leading identifier of a reference."""
    match = _ROOT.match(expression)
    return match.group() if match else ""


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
        check_key(node.slice, expression)
        _check(node.value, expression)
    else:
        raise InterpolationError(expression, "not a simple reference")


def check_key(node: ast.expr, expression: str) -> None:
    """Allow constants, negative numbers, slices and tuples of those as keys."""
    if isinstance(node, ast.Slice):
        parts = [part for part in (node.lower, node.upper, node.step) if part]
    elif isinstance(node, ast.Tuple):
        parts = node.elts
    elif is_literal(node):
        return
    else:
        raise InterpolationError(expression, "subscripts must be literals or slices")
    for part in parts:
        check_key(part, expression)


def is_literal(node: ast.expr) -> bool:
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
    assert isinstance(node, ast.Tuple), "checked by check_key"
    return tuple(_key(element) for element in node.elts)


def _reason(exc: Exception) -> str:
    """One line saying why evaluation failed."""
    message = " ".join(str(exc).split())
    if not isinstance(exc, AttributeError):
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if len(message) > _MAX_REASON:
        message = message[: _MAX_REASON - 1] + "…"
    return message
