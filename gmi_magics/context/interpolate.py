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

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gmi_magics.context.latex import after_latex
from gmi_magics.context.markdown_code import CodeMap
from gmi_magics.context.preview import render_preview
from gmi_magics.context.references import REFERENCE_PATTERN, InterpolationError, evaluate, root
from gmi_magics.context.secret_check import SecretValueError, checked_secrets, shows_secret
from gmi_magics.context.unfilled_hints import unfilled_notes
from gmi_magics.context.value_scan import holds_text

__all__ = ["Interpolated", "find_references", "interpolate", "interpolate_with_notes"]


@dataclass(frozen=True)
class Interpolated:
    """The filled-in text and one-line notes for the user (what was cut, and why)."""

    text: str
    notes: list[str] = field(default_factory=list)


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
    filled = REFERENCE_PATTERN.sub(filler.replace, text)
    notes = [*filler.notes, *unfilled_notes(text, namespace, filler.code)]
    return Interpolated(filled, list(dict.fromkeys(notes)))


class _Filler:
    """Fills the references of one text, collecting notes as it goes."""

    def __init__(
        self, text: str, namespace: Mapping[str, object], max_chars: int, secrets: Sequence[str]
    ) -> None:
        self.namespace = namespace
        self.max_chars = max_chars
        self.secrets = checked_secrets(secrets)
        self.code = CodeMap(text)
        self.notes: list[str] = []

    def replace(self, match: re.Match[str]) -> str:
        """The text standing for one ``{reference}`` (or ``{{reference}}``) match."""
        if root(match["escaped"] or match["reference"]) not in self.namespace:
            return match.group()
        expression = _candidate(match)
        if expression is None or self.code.covers(match.start()):
            return match.group()
        if match["escaped"] is not None:
            return f"{{{expression}}}"
        value = self._evaluate(expression)
        rendered = render_preview(value, max_chars=self.max_chars)
        if self.secrets and (
            holds_text(value, self.secrets) or shows_secret(rendered.text, self.secrets)
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


def find_references(text: str) -> list[str]:
    """The expressions ``interpolate`` would try to fill in, first occurrence each."""
    found: dict[str, None] = {}
    code = CodeMap(text)
    for match in REFERENCE_PATTERN.finditer(text):
        expression = _candidate(match)
        if expression is not None and match["escaped"] is None and not code.covers(match.start()):
            found.setdefault(expression)
    return list(found)


def _candidate(match: re.Match[str]) -> str | None:
    """The reference of an escaped or plain match, or None if it is not one."""
    expression = match["escaped"] or match["reference"]
    if keyword.iskeyword(root(expression)):
        return None
    return None if after_latex(match.string, match.start()) else expression
