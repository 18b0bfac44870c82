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
- LaTeX groups are skipped: a ``{`` directly after ``\\``, ``\\command`` (spaces
  allowed), ``^`` or ``_``, or after the ``}`` or ``]`` closing such a group
  (``\\frac{a}{b}``, ``\\sqrt[n]{x}``).
- Markdown code is sent verbatim: fenced blocks (three or more backticks or
  tildes, indented up to three spaces, with any info string; an unclosed fence
  runs to the end) and inline code spans of any number of backticks.
- Python code outside markdown code is text like any other: ``f"{x}"`` or a set
  literal ``{x}`` is filled in when ``x`` is defined. ``--no-interpolate`` turns
  it off.

Evaluation never calls ``eval``: the reference is parsed with ``ast``, checked,
and walked with ``getattr`` and ``[]``. Attributes starting with ``_`` are
refused. Properties and ``__getitem__`` of the user's own objects still run.
"""

from __future__ import annotations

import ast
import bisect
import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gmi_magics.context.preview import holds_text, render_preview

__all__ = [
    "Interpolated",
    "InterpolationError",
    "SecretValueError",
    "code_spans",
    "evaluate",
    "find_references",
    "interpolate",
    "interpolate_with_notes",
]

_IDENT = r"[^\W\d]\w*"
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_STRING = r"'[^'\\\n{}]*'|\"[^\"\\\n{}]*\""
_BOUND = r"(?:-?[0-9]+|None)?"
_KEY = rf"(?:{_NUMBER}|{_STRING}|True|False|None)"
_ITEM = rf"(?:{_BOUND}:{_BOUND}(?::{_BOUND})?|{_KEY})"
_SUBSCRIPT = rf"\[{_ITEM}(?:, *{_ITEM})*,?\]"
_REFERENCE = rf"{_IDENT}(?:\.{_IDENT}|{_SUBSCRIPT})*"
_PATTERN = re.compile(rf"\{{\{{(?P<escaped>{_REFERENCE})\}}\}}|\{{(?P<reference>{_REFERENCE})\}}")
_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+\*?[ \t]*$")  # \frac{ or \frac {
_ROOT = re.compile(_IDENT)
_MAX_REASON = 200
_MAX_GROUPS = 9  # LaTeX macros take at most nine arguments
_MAX_GROUP_CHARS = 2000  # a LaTeX argument longer than this is not looked through
_BRACED = re.compile(r"(?<!\{)\{(?P<inner>[^{}\n]{1,300})\}(?!\})")
_CODE_BEFORE = re.compile(r"(?:[=(\[,)$]|\b(?:return|yield|lambda|print))[ \t]*$")
_QUOTE = re.compile(r"(?:(?<!\w)(?P<prefix>[fF][rR]?|[rR][fF]))?(?P<quote>\"\"\"|'''|\"|')")
_LOOK_BACK = 500  # characters of the line before a brace searched for code context
_MAX_SHOWN = 80  # longest expression quoted in full in a note
_MIN_SECRET = 8  # shorter "secrets" are ignored: they would match ordinary text
_SECRET_PIECE = 16  # a preview showing this many characters of a secret shows it
_OPERATORS = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t]*(?=\n)")


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


@dataclass(frozen=True)
class Interpolated:
    """The filled-in text and one-line notes for the user (what was cut, and why)."""

    text: str
    notes: list[str] = field(default_factory=list)


class SecretValueError(InterpolationError):
    """A ``{reference}`` whose value holds a secret (the API key): never sent."""

    hint = "Nothing was sent. Leave the key out of the message."

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.reason = "holds your API key"
        ValueError.__init__(self, f"{{{expression}}} holds your API key; it was not sent")


def interpolate(
    text: str,
    namespace: Mapping[str, object],
    *,
    max_chars: int = 2000,
    secrets: Sequence[str] = (),
) -> str:
    """Replace each reference whose root is in ``namespace`` by a preview of it."""
    return interpolate_with_notes(text, namespace, max_chars=max_chars, secrets=secrets).text


def interpolate_with_notes(
    text: str,
    namespace: Mapping[str, object],
    *,
    max_chars: int = 2000,
    secrets: Sequence[str] = (),
) -> Interpolated:
    """``interpolate``, plus a note per value cut to fit ``max_chars`` and per
    ``{expression}`` left as written that the user probably meant to fill in.

    A value holding one of ``secrets`` (e.g. the API key; shorter than 8
    characters are ignored) raises ``SecretValueError`` before anything is sent.
    """
    filler = _Filler(text, namespace, max_chars, secrets)
    filled = _PATTERN.sub(filler.replace, text)
    notes = [*filler.notes, *_unfilled_notes(text, namespace, filler.code)]
    return Interpolated(filled, list(dict.fromkeys(notes)))


class _Filler:
    """Fills the references of one text, collecting notes as it goes."""

    def __init__(
        self, text: str, namespace: Mapping[str, object], max_chars: int, secrets: Sequence[str]
    ) -> None:
        self.namespace = namespace
        self.max_chars = max_chars
        self.secrets = [s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET]
        self.code = _CodeMap(text)
        self.notes: list[str] = []

    def replace(self, match: re.Match[str]) -> str:
        """The text standing for one ``{reference}`` (or ``{{reference}}``) match."""
        if _root(match["escaped"] or match["reference"]) not in self.namespace:
            return match.group()
        expression = _candidate(match)
        if expression is None or self.code.covers(match.start()):
            return match.group()
        if match["escaped"] is not None:
            return f"{{{expression}}}"
        value = self._evaluate(expression)
        rendered = render_preview(value, max_chars=self.max_chars)
        if self.secrets and (
            holds_text(value, self.secrets) or _shows_secret(rendered.text, self.secrets)
        ):
            raise SecretValueError(expression)
        if rendered.cut:
            self.notes.append(f"{{{expression}}}: {rendered.cut}")
        return rendered.text

    def _evaluate(self, expression: str) -> object:
        """``evaluate``, with any secret kept out of the error message."""
        try:
            return evaluate(expression, self.namespace)
        except InterpolationError as error:
            if any(secret in error.reason for secret in self.secrets):
                raise InterpolationError(
                    expression, "the error message names your API key"
                ) from None
            raise


def _shows_secret(text: str, secrets: Sequence[str]) -> bool:
    """True when ``text`` shows a secret, or a piece of one long enough to matter."""
    for secret in secrets:
        size = min(len(secret), _SECRET_PIECE)
        if any(secret[i : i + size] in text for i in range(len(secret) - size + 1)):
            return True
    return False


def find_references(text: str) -> list[str]:
    """The expressions ``interpolate`` would try to fill in, first occurrence each."""
    found: dict[str, None] = {}
    code = _CodeMap(text)
    for match in _PATTERN.finditer(text):
        expression = _candidate(match)
        if expression is not None and match["escaped"] is None and not code.covers(match.start()):
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


def _unfilled_notes(text: str, namespace: Mapping[str, object], code: _CodeMap) -> list[str]:
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
    if _PATTERN.fullmatch(match.group()) or _after_latex(text, start):
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
    if any(isinstance(node, _OPERATORS) and not _is_literal(node) for node in nodes):
        return "operators are not evaluated"
    subscripts = [node for node in nodes if isinstance(node, ast.Subscript)]
    if any(not _is_constant_key(node.slice) for node in subscripts):
        return "only constant subscripts are filled in"
    return ""


def _is_constant_key(node: ast.expr) -> bool:
    """True for keys ``_check_key`` accepts."""
    try:
        _check_key(node, "")
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


def code_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each markdown code block and inline code span, in order."""
    spans: list[tuple[int, int]] = []
    gap = 0
    for start, end in _fenced_blocks(text):
        spans.extend(_inline_spans(text, gap, start))
        spans.append((start, end))
        gap = end
    spans.extend(_inline_spans(text, gap, len(text)))
    return spans


class _CodeMap:
    """Answers "is this position inside markdown code?" for one text."""

    def __init__(self, text: str) -> None:
        spans = code_spans(text) if "`" in text or "~~~" in text else []
        self._starts = [start for start, _ in spans]
        self._ends = [end for _, end in spans]

    def covers(self, position: int) -> bool:
        """True when ``position`` lies inside a code block or span."""
        index = bisect.bisect_right(self._starts, position) - 1
        return index >= 0 and position < self._ends[index]


def _fenced_blocks(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks per CommonMark: the closing fence is the same character,
    at least as long, with nothing after it; an unclosed fence runs to the end."""
    blocks: list[tuple[int, int]] = []
    opening: tuple[str, int, int] | None = None  # fence character, length, start
    position = 0
    for line in text.split("\n"):
        fence = _FENCE_LINE.fullmatch(line)
        if fence is None:
            pass
        elif opening is None:
            if not (fence[1][0] == "`" and "`" in fence[2]):  # `-fence info has no `
                opening = (fence[1][0], len(fence[1]), position)
        elif fence[1][0] == opening[0] and len(fence[1]) >= opening[1] and not fence[2].strip():
            blocks.append((opening[2], position + len(line)))
            opening = None
        position += len(line) + 1
    if opening is not None:
        blocks.append((opening[2], len(text)))
    return blocks


def _inline_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Inline code spans in ``text[start:end]``: a run of N backticks up to the next
    run of exactly N, within one paragraph (no blank line between)."""
    runs = [(run.start(), run.end()) for run in _BACKTICKS.finditer(text, start, end)]
    if len(runs) < 2:
        return []
    blanks = [blank.start() for blank in _BLANK_LINE.finditer(text, start, end)]
    by_length: dict[int, list[int]] = {}
    for index, (run_start, run_end) in enumerate(runs):
        by_length.setdefault(run_end - run_start, []).append(index)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        run_start, run_end = runs[index]
        same = by_length[run_end - run_start]
        later = bisect.bisect_right(same, index)
        if later < len(same):
            close_start, close_end = runs[same[later]]
            blank = bisect.bisect_left(blanks, run_end)
            if blank == len(blanks) or blanks[blank] >= close_start:
                spans.append((run_start, close_end))
                index = same[later]
        index += 1
    return spans


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
    """True when the ``{`` at ``position`` opens a LaTeX argument: right after ``\\``,
    ``^``, ``_`` or a ``\\command`` (spaces allowed), or after a ``{...}`` or
    ``[...]`` group that itself follows one (``\\frac{a}{b}``, ``\\sqrt[n]{x}``)."""
    for _ in range(_MAX_GROUPS):  # follow "}{" and "]{" back to the command
        previous = text[position - 1] if position else ""
        if previous and previous in "\\^_":
            return True
        if previous not in ("}", "]"):
            start = max(0, position - 64)
            return _COMMAND_BEFORE.search(text, start, position) is not None
        opening = _matching_open(text, position - 1)
        if opening is None:
            return False
        position = opening
    return False


def _matching_open(text: str, close: int) -> int | None:
    """Index of the ``{`` or ``[`` matching the ``}`` or ``]`` at ``close``, looking a
    bounded way back."""
    closer = text[close]
    opener = "{" if closer == "}" else "["
    low = max(0, close - _MAX_GROUP_CHARS)
    depth, index = 1, close
    while True:
        opening = text.rfind(opener, low, index)
        closing = text.rfind(closer, low, index)
        if opening < 0:
            return None
        if closing > opening:
            depth, index = depth + 1, closing
            continue
        depth, index = depth - 1, opening
        if depth == 0:
            return opening


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
