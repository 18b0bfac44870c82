"""An ipywidgets chat panel over a ``Conversation``: replies stream off the main thread.

Imported only when a panel is shown (``%gmi panel``), so ipywidgets stays off the
``%load_ext`` path.  Model text reaches the page only through ``reply_html`` (sanitized);
the user's own text and error messages through ``html.escape``.

Stop sets an event that the worker checks on each received delta.  While the request
waits for its first byte the worker is blocked inside httpx, which cannot be woken
cleanly from another thread, so Stop takes effect when the next delta arrives (keep-alive
comments carry no delta); whatever had arrived by then is kept as an interrupted turn.
The panel and ``%%gmi`` cells share the thread's history: avoid running a cell on the
same chat while the panel is streaming.

The transcript box scrolls with ``flex-direction: column-reverse`` (its one child holds the
transcript and the live reply), so it starts at, and stays at, the bottom as replies grow,
in every frontend, with no JavaScript; ``HTMLMath`` has the frontend's MathJax typeset math.
"""

from __future__ import annotations

import html
import logging
import shlex
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..chat.conversation import Conversation, ReplyInterrupted, Turn
from ..chat.live import LiveReply
from ..chat.notes import reply_notes
from ..chat.options import RequestOptions
from ..chat.params import deep_merge, params_from_pairs
from ..errors import ConfigurationError, GMIError, StoppedError
from ..text import printable
from ..types import Delta, Reply
from .markup import earlier_rounds, footer_text, reply_html, stylesheet
from .render import HtmlRenderer

_USER_BUBBLE = (
    '<div class="gmi-user" style="margin:0.6em 0 0.3em auto;max-width:85%;width:fit-content;'
    'padding:0.4em 0.7em;border-radius:8px;background:#8882;white-space:pre-wrap">{}</div>'
)
_display: Callable[..., Any] = display  # IPython's display() is untyped
_log = logging.getLogger(__name__)
# column-reverse: the box's scroll origin is its bottom, so it follows the newest reply
_SCROLL = {"max_height": "32em", "overflow": "auto", "flex_flow": "column-reverse"}
_PANEL_CLASS = "gmi-panel"
# What notebook frontends give rendered output but not widget HTML (scoped to the panel).
_PANEL_CSS = """
.gmi-panel-log .widget-htmlmath-content { flex: 1 1 auto; min-width: 0; }
.gmi-panel .gmi-reply a { color: var(--jp-content-link-color, #1976d2);
  text-decoration: underline; }
.gmi-panel .gmi-reply blockquote { margin: 0.5em 0; padding: 0.1em 0.8em;
  border-left: 4px solid #8886; opacity: 0.85; }
.gmi-panel .gmi-reply code { font-family: var(--jp-code-font-family, monospace);
  font-size: 0.92em; }
.gmi-panel .gmi-reply :not(pre) > code { background: #8882; padding: 0.05em 0.3em;
  border-radius: 3px; }
.gmi-panel .gmi-reply p, .gmi-panel .gmi-reply ul, .gmi-panel .gmi-reply ol { margin: 0.4em 0; }
.gmi-panel .gmi-reply h1, .gmi-panel .gmi-reply h2, .gmi-panel .gmi-reply h3 {
  margin: 0.6em 0 0.3em; }
"""


class StopRequested(KeyboardInterrupt):
    """Raised inside ``on_delta`` after Stop; ``Conversation.send`` keeps the partial turn."""


def user_html(text: str) -> str:
    """The user's message as an escaped, right-aligned bubble."""
    return _USER_BUBBLE.format(html.escape(text))


def _style() -> str:
    return f"<style>{stylesheet()}</style>"


def _panel_style() -> str:
    """The reply stylesheet plus the panel's own rules (links, quotes, inline code)."""
    return f"<style>{stylesheet()}{_PANEL_CSS}</style>"


def _unstyled(page: str) -> str:
    """``reply_html`` output without its stylesheet (the panel includes it once)."""
    return page.replace(_style(), "", 1)


def turn_html(turn: Turn) -> str:
    """A finished turn: user bubble, then the sanitized reply with notes and footer."""
    reply = turn.reply
    notes = reply_notes(reply, None)
    if turn.interrupted:
        notes.append("Interrupted here.")
    page = reply_html(
        reply.text,
        reasoning=reply.reasoning,
        footer=footer_text(reply),
        notes=notes,
        rounds=earlier_rounds(turn.extra),  # every tool round's thinking, in order
    )
    return user_html(turn.shown_user()) + _unstyled(page)


def error_line(error: BaseException) -> str:
    """One line for the status bar: ``AuthenticationError: HTTP 401 …`` (never a traceback)."""
    message = printable(error.message if isinstance(error, GMIError) else str(error))
    name = type(error).__name__
    return f"{name}: {message}" if message else name


class ChatPanel:
    """Transcript, message box, Send/Stop buttons and a status line over ``conversation``.

    ``before_send`` runs in the worker before each request: it may raise a ``GMIError``
    (shown in the status line, nothing sent) and returns the request's options.
    Replies stream through the same ``LiveReply`` + ``HtmlRenderer`` as cells.
    """

    def __init__(
        self,
        conversation: Conversation,
        *,
        stream: bool = True,
        min_interval: float = 0.1,
        before_send: Callable[[], RequestOptions] | None = None,
    ) -> None:
        self.conversation = conversation
        self.stream = stream
        self.min_interval = min_interval
        self.before_send = before_send
        self.last_error: BaseException | None = None  # what the status line last reported
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.busy = False  # a reply is in flight (guarded by ``_lock``)
        self._rendered: dict[int, tuple[Reply, str]] = {}  # id(reply) -> (reply, html)
        self._user = ""
        self._live = LiveReply(HtmlRenderer(sink=self._show_live))
        self._build()
        self.refresh()

    def _build(self) -> None:
        title = f"<b>{html.escape(printable(self.conversation.name))}</b> chat"
        self.transcript = widgets.HTMLMath()  # the frontend's MathJax typesets $…$
        self.live = widgets.HTMLMath()  # the user's message and the reply being streamed
        self.input = widgets.Textarea(
            placeholder="Message…", rows=3, layout=widgets.Layout(width="100%")
        )
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.stop_button = widgets.Button(description="Stop", disabled=True)
        self.status = widgets.HTML()
        self.send_button.on_click(lambda _: self.send())
        self.stop_button.on_click(lambda _: self.stop())
        content = widgets.VBox(
            [self.transcript, self.live], layout=widgets.Layout(flex="0 0 auto", width="100%")
        )
        self.log = widgets.Box([content], layout=widgets.Layout(**_SCROLL))
        self.log.add_class("gmi-panel-log")
        self.params = widgets.Text(
            placeholder="parameters: top_p=0.9 seed=7 chat_template_kwargs.thinking=true",
            layout=widgets.Layout(width="100%"),
        )
        buttons = widgets.HBox([self.send_button, self.stop_button, self.status])
        self.widget = widgets.VBox(
            [widgets.HTML(title), self.log, self.input, self.params, buttons]
        )
        self.widget.add_class(_PANEL_CLASS)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        _display(self.widget)

    def refresh(self) -> None:
        """Repaint the transcript from the conversation's turns (each rendered once)."""
        old, self._rendered = self._rendered, {}
        for turn in self.conversation.turns:  # keyed by the (frozen) reply's identity
            cached = old.get(id(turn.reply))
            if cached is None or cached[0] is not turn.reply:
                cached = (turn.reply, turn_html(turn))
            self._rendered[id(turn.reply)] = cached
        parts = [page for _, page in self._rendered.values()]
        self.transcript.value = _panel_style() + "".join(parts) if parts else ""

    def _set_status(self, text: str, *, error: bool = False, hint: str = "") -> None:
        color = "#d32f2f" if error else "inherit"
        line = f'<span style="color:{color}">{html.escape(text)}</span>'
        if hint:
            line += f' <span style="opacity:0.7">Hint: {html.escape(hint)}</span>'
        self.status.value = line

    def send(self) -> bool:
        """Send the message box's text in a background thread; False when nothing was sent."""
        text = self.input.value
        with self._lock:
            if self.busy or not text.strip():
                return False
            self.busy, self.input.value = True, ""
            self._stop.clear()
            self._user = text
            self.live.value = _panel_style() + user_html(text)
            self.send_button.disabled, self.stop_button.disabled = True, False
            self._set_status("Streaming…")
            self._worker = threading.Thread(
                target=self._run, args=(text,), name="gmi-chat-panel", daemon=True
            )
            self._worker.start()
        return True

    def stop(self) -> None:
        """Ask the worker to stop at the next received delta."""
        with self._lock:
            if self.busy and not self._stop.is_set():
                self._stop.set()
                self._set_status("Stopping…")

    def wait(self, timeout: float | None = None) -> bool:
        """Join the worker; True when it has finished (or none was started)."""
        if self._worker is not None:
            self._worker.join(timeout)
        return self._worker is None or not self._worker.is_alive()

    def _run(self, text: str) -> None:
        """The worker: send and show the outcome; no exception leaves this thread."""
        status: dict[str, Any] = {"text": ""}
        try:
            status["text"] = self._exchange(text)
        except BaseException as error:  # GMIError, or a bug: report it, never lose it
            status.update(text=error_line(error), error=True, hint=getattr(error, "hint", ""))
            self._failed(error, text)
        finally:
            with self._lock:
                self._set_status(**status)
                self.send_button.disabled, self.stop_button.disabled = False, True
                self.busy = False

    def _exchange(self, text: str) -> str:
        """Send ``text``; move a kept turn into the transcript; return the status text."""
        options = self.before_send() if self.before_send else RequestOptions(stream=self.stream)
        options = options.updated(params=deep_merge(options.params, self._typed_params()))
        renderer = HtmlRenderer(min_interval=self.min_interval, sink=self._show_live)
        self._live = LiveReply(renderer)
        try:
            self.conversation.send(text, options, on_delta=self._on_delta, on_tool=self._live.tool)
        except ReplyInterrupted as interrupt:
            if interrupt.reply.metadata.get("turn") is None:  # nothing had arrived
                self._live.finish(interrupt.reply, ["Interrupted: nothing was kept."])
                return StoppedError(kept=False).message
            status = StoppedError(kept=True).message
        else:
            status = ""
        self.live.value = ""
        self.refresh()
        return status

    def _typed_params(self) -> dict[str, Any]:
        """The parameters field: ``KEY=VALUE`` pairs, as ``-p`` reads them."""
        try:
            return params_from_pairs(shlex.split(self.params.value))
        except ValueError as error:  # ParamError, or unbalanced quotes
            raise ConfigurationError(f"Parameters: {error}") from None

    def _failed(self, error: BaseException, text: str) -> None:
        """Leave any partial reply in the live area and give the text back to the box."""
        self.last_error = error
        if not isinstance(error, GMIError):  # a bug keeps its traceback, in the log
            _log.error("chat panel worker failed", exc_info=error)
        partial = error.partial if isinstance(error, GMIError) else None
        self._live.finish(partial or Reply(), ["Not added to the conversation."])
        if not self.input.value:
            self.input.value = text

    def _on_delta(self, delta: Delta) -> None:
        """Pass a delta to the live reply; raise once Stop was pressed."""
        if self._stop.is_set():
            raise StopRequested
        self._live.update(delta)

    def _show_live(self, bundle: dict[str, str], _metadata: Any = None) -> None:
        self.live.value = _panel_style() + user_html(self._user) + _unstyled(bundle["text/html"])


def show_panel(conversation: Conversation, **options: Any) -> ChatPanel:
    """Build a ``ChatPanel`` over ``conversation``, display it, and return it."""
    panel = ChatPanel(conversation, **options)
    _display(panel)
    return panel
