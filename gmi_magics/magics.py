"""``%%gmi`` and ``%gmi``: parse options, hand off to the session, show the result."""

from __future__ import annotations

import argparse
import copy
import io
import logging
import os
import shlex
import sys
import threading
import time
import tokenize
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split  # type: ignore[attr-defined]
from traitlets import Bool, CaselessStrEnum, Dict, Float, Int, List, Unicode

from .settings import (
    DEFAULT_CACHE_DIR,
    DEFAULT_KEY_ENV,
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_TOOL_ROUNDS,
    DEFAULT_TIMEOUT,
    ENV_NAMES,
    Settings,
    resolve_settings,
)

if TYPE_CHECKING:
    from .display.mathml import MathMarkup
    from .session import Session

_log = logging.getLogger(__name__)
WARM_UP_DELAY = 0.05  # seconds
PARSED_LINES_KEPT = 64  # option lines whose parse is kept (a notebook repeats a few)
VSCODE_CELL_SCHEME = "vscode-notebook-cell:"  # VS Code sends its cell's URI as the cell id
SUBCOMMANDS = (
    *("history", "reset", "undo", "retry", "models", "config", "last", "chats", "system"),
    *("save", "load", "export", "usage", "explain", "tools", "panel", "alias", "persona"),
    "personas",
)  # and "ask", which always asks


def keep_question_marks(lines: list[str]) -> list[str]:
    """Input transformer: ``%gmi why?`` is a question, not IPython's ``?`` help.

    Rewrites each ``%gmi ...?`` line that starts a statement into an explicit call
    before IPython's help-end transformer sees the trailing question mark; lines
    inside a string literal or an open bracket are left alone.
    """
    if not lines or lines[0].startswith("%%"):
        return lines  # a cell magic's body is its own business
    if not any(_is_question_line(line) for line in lines):
        return lines
    out: list[str] = []
    for line in lines:
        starts = _starts_statement([*out, "pass\n"]) if _is_question_line(line) else False
        out.append(_explicit_call(line) if starts else line)
    return out


def _is_question_line(line: str) -> bool:
    return line.startswith("%gmi ") and line.rstrip().endswith("?")


def _starts_statement(lines: list[str]) -> bool:
    """Whether the last line of ``lines`` starts a new statement (Python tokenizer)."""
    source = "".join(_neutral(line) for line in lines)
    try:
        for _ in tokenize.generate_tokens(io.StringIO(source).readline):
            pass
    except (tokenize.TokenError, SyntaxError):
        return False  # inside a string or a bracket: not ours to touch
    return True


def _neutral(line: str) -> str:
    """Magic and shell lines as ``pass`` so the tokenizer sees plain Python."""
    if line.lstrip().startswith(("%", "!")):
        return line[: len(line) - len(line.lstrip())] + "pass\n"
    return line if line.endswith("\n") else line + "\n"


def _explicit_call(line: str) -> str:
    argument = line[len("%gmi ") :].rstrip("\n")
    return f"get_ipython().run_line_magic('gmi', {argument!r})\n"


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] in "'\"" else value


def _optional(trait: type[Int[Any, Any]] | type[Float[Any, Any]], help_text: str) -> Any:
    """A setting that may be ``None`` (the server's, or the model's, default)."""
    return trait(None, allow_none=True, help=help_text).tag(config=True)


def _mapping(help_text: str) -> Any:
    """A setting that is a dict, empty by default."""
    return Dict({}, help=help_text).tag(config=True)


@cache
def _core() -> SimpleNamespace:
    """The heavy core (httpx, markdown, …), imported on first use so %load_ext stays instant."""
    from .cell import run_cell
    from .session import Session
    from .subcommands import is_subcommand, run_subcommand

    return SimpleNamespace(
        run_cell=run_cell,
        Session=Session,
        is_subcommand=is_subcommand,
        run_subcommand=run_subcommand,
    )


def start_warm_up(magics: GMIMagics) -> threading.Thread:
    """Import the core and open the client in a daemon thread, so the first question
    costs what the next does (imports, TLS context: ~0.3-0.7 s otherwise).

    Both this thread and a cell that starts at once enter through ``_core()``, so
    they take Python's per-module import locks in the same order; the session's
    client is built under its lock.
    """
    thread = threading.Thread(target=_warm_up, args=(magics,), name="gmi-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up(magics: GMIMagics) -> None:
    time.sleep(WARM_UP_DELAY)  # let %load_ext return and the frontend settle first
    try:
        _core()
        from .display.markup import markdown_to_html

        markdown_to_html("# warm\n\n| a |\n|---|\n| 1 |\n\n```python\nx = 1\n```\n")
        from .display.mathml import tex_to_mathml

        tex_to_mathml("$x^2$")  # the converter's symbol table (~90 ms), for VS Code's cells
        magics.session.client(magics.settings())
    except Exception:  # warming is an optimisation: the first cell will report any problem
        _log.debug("warm-up failed", exc_info=True)


def use_math_markup(markup: MathMarkup) -> None:
    """How rendered pages write math from now on; the renderer is imported only once
    that differs from its ``tex`` default (so ``%load_ext`` stays light)."""
    if markup == "tex" and f"{__package__}.display.mathml" not in sys.modules:
        return  # not imported yet, so still at its default
    from .display.mathml import set_math_markup

    set_math_markup(markup)


def reply_bundle(reply: Any) -> dict[str, str]:
    """IPython's display of a ``Reply`` (``-o`` values): sanitized HTML and plain text."""
    from .display.markup import reply_bundle as bundle

    return bundle(reply)


@magics_class
class GMIMagics(Magics):
    """Chat with GMI Cloud models from IPython."""

    model = Unicode(
        "",
        help="Model id to use; empty means $GMI_MODEL, else deepseek-ai/DeepSeek-V3.2-Exp.",
    ).tag(config=True)
    base_url = Unicode(
        "",
        help="API base URL; empty means $GMI_BASE_URL, else https://api.gmi-serving.com/v1.",
    ).tag(config=True)
    api_key_env = Unicode(
        DEFAULT_KEY_ENV,
        help="Name of the environment variable holding the API key (never the key).",
    ).tag(config=True)
    system_prompt = Unicode("", help="System prompt for new conversations.").tag(config=True)
    temperature = _optional(Float, "Sampling temperature; None leaves the server default.")
    max_tokens = _optional(Int, "Most tokens in one reply; None leaves the server default.")
    timeout = Float(DEFAULT_TIMEOUT, help="Overall deadline of one request, in seconds.").tag(
        config=True
    )
    max_retries = Int(
        DEFAULT_MAX_RETRIES,
        help="Retries for 408/409/429/5xx and connection errors before the first byte.",
    ).tag(config=True)
    stream = Bool(
        True, help="Stream replies as they arrive (False waits for the whole reply)."
    ).tag(config=True)
    display = CaselessStrEnum(
        ["auto", "html", "text"],
        "auto",
        help="How replies are shown: html (rendered in notebooks, text in jupyter console), "
        "text (streamed plain text), or auto (html in a kernel, text in terminal IPython).",
    ).tag(config=True)
    math = CaselessStrEnum(
        ["auto", "tex", "mathml"],
        "auto",
        help="How math in replies reaches the page: tex ($…$, typeset by the frontend's "
        "MathJax: JupyterLab, Notebook, nbclassic), mathml (drawn by the browser itself), or "
        "auto (mathml in VS Code, whose HTML outputs have no MathJax; tex elsewhere).",
    ).tag(config=True)
    rerun = CaselessStrEnum(
        ["replace", "append"],
        "replace",
        help="Re-running a cell replaces its earlier turn (by cell id), or appends a new one.",
    ).tag(config=True)
    max_context_tokens = _optional(
        Int, "Token budget of one request; oldest turns are left out to fit. None: per model."
    )
    token_budget = _optional(
        Int, "Tokens (in + out) this kernel may spend; later requests are refused. None: no cap."
    )
    prices = _mapping(
        "Per-million-token prices (in, out) by model, e.g. {'org/model': (0.27, 0.41)}.",
    )
    params = _mapping(
        'Default request parameters by model, "*" for every model, e.g. '
        '{"*": {"top_p": 0.9}, "Qwen/Qwen3-32B": {"seed": 7}}; a cell\'s -p wins.',
    )
    aliases = _mapping(
        "Short names for model ids, e.g. {'fast': 'Qwen/Qwen3-32B'}; -m fast then works "
        "everywhere a model is named (see %gmi alias).",
    )
    personas = _mapping(
        "Named system prompts, added to the built-in ones (tutor, reviewer, pandas, "
        "newcomer); --persona NAME uses one (see %gmi persona).",
    )
    tools = List(
        Unicode(),
        [],
        help="Names of user-namespace functions offered to the model as tools in every cell.",
    ).tag(config=True)
    max_tool_rounds = Int(
        DEFAULT_MAX_TOOL_ROUNDS,
        help="Most request rounds of tool calls in one cell before stopping.",
    ).tag(config=True)
    cache = CaselessStrEnum(
        ["off", "record", "replay", "auto"],
        "off",
        help="Record API replies to cache_dir, replay them offline, or both (auto).",
    ).tag(config=True)
    cache_dir = Unicode(
        DEFAULT_CACHE_DIR, help="Folder of recorded replies (no keys are ever written there)."
    ).tag(config=True)
    max_reply_bytes = Int(
        DEFAULT_MAX_REPLY_BYTES,
        help="Most bytes of one reply (text + reasoning + tool arguments; JSON bodies after "
        "decompression); a longer reply stops with one line, its partial text kept.",
    ).tag(config=True)
    warm_up = Bool(
        True,
        help="After %load_ext, import the core (httpx, markdown, …) in a background thread so "
        "the first question is as fast as the next.",
    ).tag(config=True)
    confirm_tools = Bool(False, help="Ask before running each tool call the model makes.").tag(
        config=True
    )
    context_cells = Int(
        0,
        help="Executed cells (code and a compact form of their outputs) sent before each "
        "question, as with --context N; 0 sends nothing about other cells.",
    ).tag(config=True)
    max_image_side = Int(
        2048,
        help="Longest side, in pixels, of an image sent with --image (larger ones are scaled).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: Session | None = None
        self._session_lock = threading.Lock()
        self.cell_id: str | None = None
        self._asks_in_cell = 0
        self._defaults: dict[str, Any] | None = None
        self._parsed: dict[str, argparse.Namespace] = {}
        self._resolved: tuple[dict[str, Any], tuple[str | None, ...], Settings] | None = None

    def remember_cell_id(self, info: Any) -> None:
        """``pre_run_cell`` hook: the frontend's cell id, so re-runs replace turns (and
        VS Code, which sends its cell's URI, gets math it can show)."""
        self.cell_id = getattr(info, "cell_id", None)
        self._asks_in_cell = 0
        self.apply_math_markup()

    def math_markup(self) -> MathMarkup:
        """``mathml`` for VS Code's cells (``vscode-notebook-cell:…`` ids) under ``auto``."""
        if self.math != "auto":
            return "mathml" if self.math == "mathml" else "tex"
        return "mathml" if (self.cell_id or "").startswith(VSCODE_CELL_SCHEME) else "tex"

    def apply_math_markup(self) -> None:
        """Pages rendered from now on write math as this cell's frontend shows it."""
        use_math_markup(self.math_markup())

    def next_turn_key(self) -> str | None:
        """Identifies a turn by cell id and position, so two asks in one cell stay two."""
        if self.cell_id is None:
            return None
        self._asks_in_cell += 1
        suffix = f"#{self._asks_in_cell}" if self._asks_in_cell > 1 else ""
        return self.cell_id + suffix

    @property
    def session(self) -> Session:
        with self._session_lock:  # the warm-up thread may ask at the same time
            if self._session is None:
                self._session = _core().Session()
            return self._session

    def settings(self) -> Settings:
        """Effective settings: %config traits over environment over defaults.

        Resolved again only when a trait (even a dict changed in place) or one of the
        settings' environment variables changed: it is asked for on every cell.
        """
        if self._defaults is None:
            self._defaults = {n: self.trait_defaults(n) for n in self.trait_names(config=True)}
        configured = {
            name: value
            for name, default in self._defaults.items()
            if (value := getattr(self, name)) != default
        }
        env = tuple(os.environ.get(name) for name in ENV_NAMES.values())
        resolved = self._resolved
        if resolved is not None and resolved[0] == configured and resolved[1] == env:
            return resolved[2]
        settings = resolve_settings(configured, os.environ)
        self._resolved = (copy.deepcopy(configured), env, settings)
        return settings

    def renderer_kind(self) -> str:
        """``html`` in a kernel (every client), ``text`` in terminal IPython.

        No guess about the client is needed: a kernel's reply goes out as parts sent
        once with HTML and plain text, so notebook frontends render it while it
        streams and ``jupyter console``, which ignores display updates, prints it.
        """
        if self.display != "auto":
            return str(self.display)
        if type(self.shell).__name__ != "ZMQInteractiveShell":
            return "text"  # terminal IPython
        return "html"

    def _line(self, line: str) -> tuple[Any, str]:
        """``%gmi …``: a subcommand (run here; ``None`` back), or options and a question.

        A line ending in ``?`` is a question, and so is anything after ``ask``;
        a subcommand only when the line fits its grammar exactly.
        """
        stripped = line.strip()
        name, _, rest = stripped.partition(" ")
        if name == "ask":
            return self._parse(""), rest.strip()
        namespace = self.shell.user_ns if self.shell is not None else {}
        question = stripped.endswith("?")
        if not question and name in SUBCOMMANDS and _core().is_subcommand(name, rest, namespace):
            _core().run_subcommand(self, name, rest)
            return None, ""
        if not stripped.startswith("-"):
            return self._parse(""), stripped
        args = self._parse(line)
        return args, " ".join(args.question)

    def _parse(self, line: str) -> Any:
        """Parse options; quoted values lose their quotes, apostrophes in words stay.

        A notebook repeats the same option lines, so parses are kept (argparse takes
        ~0.1 ms of every cell otherwise); each call gets its own copy.
        """
        parsed = self._parsed.get(line)
        if parsed is None:
            parsed = self._parsed[line] = self._parse_fresh(line)
            if len(self._parsed) > PARSED_LINES_KEPT:
                del self._parsed[next(iter(self._parsed))]
        return argparse.Namespace(
            **{k: list(v) if isinstance(v, list) else v for k, v in vars(parsed).items()}
        )

    def _parse_fresh(self, line: str) -> Any:
        try:
            argv = shlex.split(line)  # -p key='{"a": 1}' stays one word, quotes removed
        except ValueError:
            argv = arg_split(line)  # an apostrophe in a word: -s Don't
        args = self.gmi.parser.parse_args(argv)
        for name, value in vars(args).items():
            if isinstance(value, str):
                setattr(args, name, _unquoted(value))
            elif name == "param":
                setattr(args, name, [_unquoted(item) for item in value])
        return args

    @no_var_expand  # {name} is ours to fill in (safely), not IPython's
    @magic_arguments()
    @argument("-m", "--model", help="Model id for this cell.")
    @argument("-t", "--temperature", type=float, help="Sampling temperature (0 is sent as 0).")
    @argument("--max-tokens", type=int, help="Most tokens in the reply.")
    @argument("-s", "--system", help="System prompt (kept for later cells of this chat).")
    @argument("--no-history", action="store_true", help="One-off question, outside the chat.")
    @argument("--no-stream", action="store_true", help="Wait for the whole reply.")
    @argument("-o", "--out", metavar="VAR", help="Store the reply object in VAR.")
    @argument("--chat", metavar="NAME", default="default", help="Named conversation thread.")
    @argument(
        "-f",
        "--format",
        choices=["markdown", "code", "json", "text"],
        default="markdown",
        help="code: the reply's code goes into the next cell; json: JSON output, parsed into "
        "-o; text: plain text.",
    )
    @argument("--no-interpolate", action="store_true", help="Send {braces} exactly as written.")
    @argument("--max-history", type=int, metavar="N", help="Send at most N earlier turns.")
    @argument("--error", action="store_true", help="Include the last exception and its cell.")
    @argument("--tools", metavar="F,G", help="Functions (by name) the model may call.")
    @argument("--confirm", action="store_true", help="Ask before each tool call.")
    @argument(
        "--over",
        metavar="NAME",
        help="Batch: send the cell once per element of NAME (list, Series, DataFrame column); "
        "{item} is the element, {row.col} its row. Results go to -o, not the chat.",
    )
    @argument("--max-active", type=int, default=8, metavar="N", help="Batch: requests at once.")
    @argument("--rpm", type=float, help="Batch: most requests per minute.")
    @argument("--tpm", type=float, help="Batch: most tokens per minute.")
    @argument("--checkpoint", metavar="FILE", help="Batch: resumable JSONL of finished items.")
    @argument(
        "--on-error",
        choices=["return", "raise", "stop"],
        default="return",
        help="Batch: keep failed items as errors (return), stop at the first (raise), "
        "or finish the requests in flight and stop (stop).",
    )
    @argument(
        "--into-columns",
        nargs="?",
        const="",
        default=None,
        metavar="PREFIX",
        help="Batch with -f json over a DataFrame column: add the JSON keys as new columns.",
    )
    @argument("--dry-run", action="store_true", help="Batch: show the estimate, send nothing.")
    @argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A request parameter, repeatable; VALUE is JSON when it parses, dotted keys nest "
        "(-p top_p=0.9 -p seed=7 -p chat_template_kwargs.thinking=true).",
    )
    @argument("--think", action="store_true", help="Switch the model's thinking on.")
    @argument("--no-think", action="store_true", help="Switch the model's thinking off.")
    @argument("--persona", metavar="NAME", help="Use a named system prompt (%%gmi personas).")
    @argument(
        "--image",
        action="append",
        default=[],
        metavar="NAME",
        help="Send an image along (repeatable, or NAME,NAME): a matplotlib Figure or Axes, a "
        "PIL or IPython Image, PNG/JPEG/WebP bytes, or a path to an image file.",
    )
    @argument(
        "--context",
        type=int,
        metavar="N",
        help="Send the last N executed cells (code and outputs) before the question.",
    )
    @argument("question", nargs="*", help="(line mode) the question, or a subcommand.")
    @line_cell_magic
    def gmi(self, line: str, cell: str | None = None) -> None:
        """Ask a GMI Cloud model; the reply streams in as rendered markdown.

        Cell mode: the cell is the message.  Line mode: ``%gmi <question>``, or
        ``%gmi <subcommand>``: history, reset, undo, retry, models, config, last,
        chats, system, save, load, export, usage, explain, tools, panel (each
        takes ``--chat NAME``), alias, persona, personas — when the line fits it
        exactly; a line ending in ``?`` is always a question, and
        ``%gmi ask <anything>`` always asks.
        ``{name}`` in the message is replaced by the value of ``name`` from the
        notebook (``--no-interpolate`` turns this off).
        """
        self.apply_math_markup()  # %config math may have changed in this cell
        if cell is None:
            args, text = self._line(line)
            if args is None:
                return None
        else:
            args, text = self._parse(line), cell
            if args.question:
                raise UsageError(f"Unexpected words after %%gmi: {' '.join(args.question)!r}")
        if getattr(args, "over", None):  # a batch: one request per element, outside the chat
            from .batch_cell import run_batch_cell  # the batch machinery only when used

            run_batch_cell(self, args, text)
        else:
            _core().run_cell(self, args, text)
        return None
