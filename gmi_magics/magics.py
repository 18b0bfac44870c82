"""``%%gmi`` and ``%gmi``: parse options, hand off to the session, show the result."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode

if TYPE_CHECKING:
    from .session import Session, Settings

SUBCOMMANDS = ("history", "reset", "undo", "models", "config", "last")


def keep_question_marks(lines: list[str]) -> list[str]:
    """Input transformer: ``%gmi why?`` is a question, not IPython's ``?`` help.

    Rewrites a one-line ``%gmi ...?`` cell into an explicit call before IPython's
    help-end transformer sees the trailing question mark.
    """
    if len(lines) != 1 or not lines[0].startswith("%gmi ") or not lines[0].rstrip().endswith("?"):
        return lines
    argument = lines[0][len("%gmi ") :].rstrip("\n")
    return [f"get_ipython().run_line_magic('gmi', {argument!r})\n"]


def _core() -> Any:
    """The plain-Python core, imported on first use so %load_ext stays instant."""
    from . import commands

    return commands


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
        "GMI_API_KEY",
        help="Name of the environment variable holding the API key (never the key).",
    ).tag(config=True)
    system_prompt = Unicode("", help="System prompt for new conversations.").tag(config=True)
    temperature = Float(
        None,
        allow_none=True,
        help="Sampling temperature; None leaves the server default.",
    ).tag(config=True)
    max_tokens = Int(
        None,
        allow_none=True,
        help="Most tokens in one reply; None leaves the server default.",
    ).tag(config=True)
    timeout = Float(600.0, help="Overall deadline of one request, in seconds.").tag(config=True)
    max_retries = Int(
        2,
        help="Retries for 408/409/429/5xx and connection errors before the first byte.",
    ).tag(config=True)
    stream = Bool(
        True, help="Stream replies as they arrive (False waits for the whole reply)."
    ).tag(config=True)
    display = CaselessStrEnum(
        ["auto", "html", "text"],
        "auto",
        help="How replies are shown: html (notebooks), text (terminals), or auto-detect.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: Session | None = None
        self.cell_id: str | None = None

    def remember_cell_id(self, info: Any) -> None:
        """``pre_run_cell`` hook: the frontend's cell id, so re-runs replace turns."""
        self.cell_id = getattr(info, "cell_id", None)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = _core().Session()
        return self._session

    def settings(self) -> Settings:
        """Effective settings: %config traits over environment over defaults."""
        configured = {
            name: getattr(self, name)
            for name in self.trait_names(config=True)
            if getattr(self, name) != self.trait_defaults(name)
        }
        settings: Settings = _core().resolve_settings(configured, os.environ)
        return settings

    def renderer_kind(self) -> str:
        if self.display != "auto":
            return str(self.display)
        return "html" if type(self.shell).__name__ == "ZMQInteractiveShell" else "text"

    @magic_arguments()
    @argument("-m", "--model", help="Model id for this cell.")
    @argument("-t", "--temperature", type=float, help="Sampling temperature (0 is sent as 0).")
    @argument("--max-tokens", type=int, help="Most tokens in the reply.")
    @argument("-s", "--system", help="System prompt (kept for later cells of this chat).")
    @argument("--no-history", action="store_true", help="One-off question, outside the chat.")
    @argument("--no-stream", action="store_true", help="Wait for the whole reply.")
    @argument("-o", "--out", metavar="VAR", help="Store the reply object in VAR.")
    @argument("question", nargs="*", help="(line mode) the question, or a subcommand.")
    @line_cell_magic
    def gmi(self, line: str, cell: str | None = None) -> None:
        """Ask a GMI Cloud model; the reply streams in as rendered markdown.

        Cell mode: the cell is the message.  Line mode: ``%gmi <question>``, or a
        subcommand: history, reset, undo, models, config, last.
        """
        words = line.split()
        if cell is None and words and words[0] in SUBCOMMANDS:
            _core().run_subcommand(self, words[0], line.split(None, 1)[1:])
            return None
        if cell is None and not line.lstrip().startswith("-"):
            _core().ask(self, line, _core().AskOptions(cell_id=self.cell_id))
            return None
        args = parse_argstring(self.gmi, line)
        if cell is not None and args.question:
            raise UsageError(f"Unexpected words after %%gmi: {' '.join(args.question)!r}")
        text = cell if cell is not None else " ".join(args.question)
        reply = _core().ask(self, text, _core().options_from_args(args, self.cell_id))
        if args.out and self.shell is not None:
            self.shell.user_ns[args.out] = reply
        return None
