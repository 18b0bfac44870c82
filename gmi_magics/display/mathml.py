"""TeX math in a reply as the page shows it: TeX for MathJax, or MathML.

JupyterLab, Notebook 7 and nbclassic run MathJax over HTML outputs, so math stays
``$…$`` text there. VS Code does not typeset HTML outputs (by design), but its
webview, like every current browser, draws MathML itself: there math is converted
(``latex2mathml``). The TeX comes from the model, and the converter copies some of
it through (``\\text{<script>}``, ``\\href``, ``\\style``), so its output is cleaned
down to presentation MathML: no attribute that links, styles or colours, no element
that leaves math. What cannot be converted, or is too big, stays escaped TeX.

Only the standard library is imported here; nh3 and latex2mathml on first use.
"""

from __future__ import annotations

import functools
import html
import re
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import nh3

MathMarkup = Literal["tex", "mathml"]
MAX_TEX_CHARS = 2_000  # longer math stays TeX (conversion time grows with it)
MAX_BRACE_DEPTH = 40  # deeper nesting stays TeX (the converter recurses per level)

MATHML_TAGS = frozenset(
    {
        *("math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mpadded", "mphantom"),
        *("msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder"),
        *("munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd"),
        *("mstyle", "menclose", "semantics"),
    }
)
_OPERATOR = {"stretchy", "fence", "separator", "lspace", "rspace", "form", "largeop"}
MATHML_ATTRIBUTES = {
    "math": {"display"},
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mtext": {"mathvariant"},
    "mo": _OPERATOR | {"movablelimits", "symmetric", "minsize", "maxsize", "accent"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mfrac": {"linethickness"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "munderover": {"accent", "accentunder"},
    "mspace": {"width", "height", "depth"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "mtable": {"columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines"},
    "mtr": {"columnalign", "rowalign"},
    "mtd": {"columnalign", "rowalign", "columnspan", "rowspan"},
    "menclose": {"notation"},
}
_DELIMITERS = (("$$", "$$", True), ("\\[", "\\]", True), ("\\(", "\\)", False), ("$", "$", False))
_markup: MathMarkup = "tex"


def set_math_markup(markup: MathMarkup) -> None:
    """How math is written into pages from now on (the magic sets it per cell)."""
    global _markup
    _markup = markup


def math_html(source: str) -> str:
    """One math span (delimiters included) as HTML, in the current markup."""
    if _markup == "mathml":
        converted = tex_to_mathml(source)
        if converted is not None:
            return converted
    return html.escape(source)


@functools.lru_cache(maxsize=1_024)  # a streaming tail repaints the same math again
def tex_to_mathml(source: str) -> str | None:
    """``$x^2$``, ``$$…$$``, ``\\(…\\)`` or ``\\[…\\]`` as clean MathML; None if it
    cannot be converted (unknown delimiters, too long, too deep, a converter error)."""
    split = _split(source)
    if split is None:
        return None
    tex, display = split
    if not tex.strip() or len(tex) > MAX_TEX_CHARS or _brace_depth(tex) > MAX_BRACE_DEPTH:
        return None
    try:
        from latex2mathml.converter import convert

        hidden = _TEXT_ARGUMENT.sub(_hide_angles, tex)
        converted = convert(hidden, display="block" if display else "inline")
    except (Exception, RecursionError):  # hostile or merely unusual TeX: show it as TeX
        return None
    converted = converted.replace(_LT, "&lt;").replace(_GT, "&gt;")
    cleaned = clean_mathml(converted)
    if cleaned is None or _text_of(cleaned) != _text_of(converted):
        return None  # cleaning would change what it says (markup in \text{…}): keep the TeX
    return cleaned


def clean_mathml(markup: str) -> str | None:
    """``markup`` reduced to the presentation-MathML allow-list (None: nothing left)."""
    cleaned = _cleaner().clean(markup)
    return cleaned if cleaned.startswith("<math") and cleaned.endswith("</math>") else None


# Text-mode arguments are copied into the MathML as they are: their angle brackets are
# hidden from the converter and come back as entities, so ``\text{a<b>c}`` says a<b>c.
_TEXT_ARGUMENT = re.compile(
    r"\\(?:text(?:rm|it|bf|sf|tt|normal)?|mbox|hbox|operatorname)\s*\{[^{}]*\}"
)
_LT, _GT = "\ue000", "\ue001"  # private-use characters: not in any reply's math
_TAG = re.compile(r"<[^>]*>")


def _hide_angles(match: re.Match[str]) -> str:
    return match.group(0).replace("<", _LT).replace(">", _GT)


def _text_of(markup: str) -> str:
    """What ``markup`` says, without its tags (to see whether cleaning took words away)."""
    return html.unescape(_TAG.sub("", markup))


@functools.cache
def _cleaner() -> nh3.Cleaner:
    import nh3  # on first use

    return nh3.Cleaner(
        tags=set(MATHML_TAGS),
        attributes={tag: set(names) for tag, names in MATHML_ATTRIBUTES.items()},
        url_schemes=set(),
        strip_comments=True,
        link_rel=None,
    )


def _split(source: str) -> tuple[str, bool] | None:
    for opening, closing, display in _DELIMITERS:
        fits = len(source) >= len(opening) + len(closing)
        if fits and source.startswith(opening) and source.endswith(closing):
            return source[len(opening) : len(source) - len(closing)], display
    return None


_BRACES = re.compile(r"(?<!\\)[{}]")


def _brace_depth(tex: str) -> int:
    depth = deepest = 0
    for match in _BRACES.finditer(tex):
        depth += 1 if match.group(0) == "{" else -1
        deepest = max(deepest, depth)
    return deepest
