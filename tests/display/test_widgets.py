"""The ipywidgets chat panel, driven programmatically against the stand-in server.

Widgets are created in a plain InteractiveShell: with no kernel, ipywidgets 8 gets a
``comm.DummyComm``, so every widget works (values, ``Button.click()``) without a frontend.
"""

from __future__ import annotations

import time
from html.parser import HTMLParser
from typing import Any

import pytest
from helpers import enqueue_xss_stream
from IPython.utils.capture import capture_output

from gmi_magics import subcommands
from gmi_magics.chat.options import RequestOptions
from gmi_magics.display import widgets as widgets_module
from gmi_magics.display.widgets import ChatPanel, StopRequested, error_line, show_panel
from gmi_magics.errors import BudgetExceededError
from gmi_magics.testing import DONE, KEEPALIVE, chunk, delay, reply, sse, status
from gmi_magics.tools.registry import ToolRegistry

ALLOWED_TAGS = {"a", "b", "code", "details", "div", "em", "p", "pre", "span", "strong", "style"}
ALLOWED_TAGS |= {"summary", "ul", "ol", "li"}


class _Inert(HTMLParser):
    """Collects every tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(page: str) -> None:
    parser = _Inert()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert (value or "").startswith(("http:", "https:", "mailto:")), value
    for raw in ("<script", "<img", "<svg"):  # escaped text (&lt;a href=…) is inert
        assert raw not in page.lower(), raw


def finish(panel: ChatPanel) -> None:
    assert panel.wait(10), "the worker did not finish"


def send(panel: ChatPanel, text: str) -> None:
    panel.input.value = text
    panel.send_button.click()
    finish(panel)


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def assert_idle(panel: ChatPanel) -> None:
    assert not panel.busy
    assert not panel.send_button.disabled
    assert panel.stop_button.disabled


def test_send_streams_a_reply_into_the_transcript(shell, server):
    server.enqueue(reply(["The **answer** ", "is 42."], model="m-1"))
    panel = ChatPanel(shell.conversation)
    assert panel.transcript.value == "" and panel.stop_button.disabled

    send(panel, "Hello")

    assert server.last_request.json["messages"][-1] == {"role": "user", "content": "Hello"}
    assert server.last_request.json["stream"] is True
    [turn] = shell.conversation.turns
    assert (turn.user, turn.reply.text) == ("Hello", "The **answer** is 42.")
    assert not turn.interrupted
    page = panel.transcript.value
    assert "Hello" in page and "<strong>answer</strong> is 42." in page
    assert "m-1" in page, "the footer names the model"
    assert panel.live.value == "" and panel.input.value == ""
    assert "Streaming" not in panel.status.value
    assert panel.last_error is None
    assert_idle(panel)


def test_existing_turns_are_shown_and_history_is_sent(shell, server):
    server.enqueue(reply("First answer"))
    assert shell.run("%%gmi\nFirst question").success
    panel = ChatPanel(shell.conversation)
    assert "First question" in panel.transcript.value
    assert "First answer" in panel.transcript.value

    server.enqueue(reply("Second answer"))
    send(panel, "Second <question> & more")

    roles = [(m["role"], m["content"]) for m in server.last_request.json["messages"]]
    assert roles[-3:] == [
        ("user", "First question"),
        ("assistant", "First answer"),
        ("user", "Second <question> & more"),
    ]
    page = panel.transcript.value
    assert "Second &lt;question&gt; &amp; more" in page, "user text is escaped"
    assert page.index("First answer") < page.index("Second answer")
    assert page.count("<style>") == 1, "the stylesheet is included once"


@pytest.mark.parametrize("where", ["content", "reasoning"])
def test_xss_from_the_server_is_never_shown_unsanitized_in_the_panel(shell, server, where):
    enqueue_xss_stream(server, where)
    panel = ChatPanel(shell.conversation, min_interval=0.0)
    seen: list[str] = []
    panel.live.observe(lambda change: seen.append(change["new"]), "value")

    send(panel, "<img src=x onerror=alert('me')>")

    assert len(seen) > 3, "live repaints happened"
    for page in [*seen, panel.transcript.value]:
        assert_inert(page)
    assert "Hello" in panel.transcript.value and "done" in panel.transcript.value


def test_repaints_are_throttled(shell, server):
    server.enqueue(reply([f"w{i} " for i in range(50)]))
    panel = ChatPanel(shell.conversation, min_interval=60)
    seen: list[str] = []
    panel.live.observe(lambda change: seen.append(change["new"]), "value")
    send(panel, "Count")
    # the user bubble, the live renderer's start and first delta at once, then nothing
    # until the reply moved into the transcript
    assert len(seen) == 4, len(seen)
    assert "gmi-cursor" in seen[2] and "w0" in seen[2] and seen[3] == ""
    assert "w49" in panel.transcript.value


def test_stop_keeps_the_partial_reply_as_an_interrupted_turn(shell, server):
    server.enqueue(reply([f"word{i} " for i in range(50)], chunk_delay=0.05))
    panel = ChatPanel(shell.conversation, min_interval=0.0)
    panel.input.value = "Count slowly"
    panel.send_button.click()
    assert panel.busy and panel.send_button.disabled and not panel.stop_button.disabled
    assert "Streaming" in panel.status.value
    wait_for(lambda: "word2" in panel.live.value)

    panel.input.value = "Not now"
    panel.send_button.click()  # busy: ignored
    assert panel.input.value == "Not now"
    panel.stop_button.click()
    finish(panel)

    [turn] = shell.conversation.turns
    assert turn.interrupted and turn.reply.text.startswith("word0 word1 word2")
    assert "word49" not in turn.reply.text
    assert "Interrupted here." in panel.transcript.value
    assert "interrupted" in panel.transcript.value.split("gmi-footer")[-1]
    assert "Interrupted" in panel.status.value and "kept" in panel.status.value
    assert len(server.chat_requests) == 1
    assert_idle(panel)

    server.enqueue(reply("Fine."))
    send(panel, "Next")
    assert [t.user for t in shell.conversation.turns] == ["Count slowly", "Next"]
    sent = server.last_request.json["messages"]
    assert sent[-2]["content"] == turn.reply.text, "the partial reply is in the history"
    assert "Fine." in panel.transcript.value and panel.status.value.count("Interrupted") == 0


def test_stop_before_the_first_byte_takes_effect_at_the_first_delta(shell, server):
    server.enqueue(
        sse(KEEPALIVE, delay(0.3), chunk(""), chunk("late"), chunk(finish_reason="stop"), DONE)
    )
    panel = ChatPanel(shell.conversation)
    panel.input.value = "Wait"
    panel.send_button.click()
    panel.stop_button.click()
    assert "Stopping" in panel.status.value
    finish(panel)
    assert shell.conversation.turns == []
    assert "nothing was added" in panel.status.value
    assert "nothing was kept" in panel.live.value and "late" not in panel.live.value
    assert_idle(panel)


def test_tool_calls_run_and_show(shell, server):
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    call = {"index": 0, "id": "call_1", "type": "function"}
    call["function"] = {"name": "add", "arguments": '{"a": 1, "b": 2}'}
    server.enqueue(reply("", tool_calls=[call], finish_reason="tool_calls"), reply("It is 3."))
    shell.conversation.tools = ToolRegistry([add])
    panel = ChatPanel(shell.conversation, min_interval=0.0)
    seen: list[str] = []
    panel.live.observe(lambda change: seen.append(change["new"]), "value")
    send(panel, "1+2?")
    assert any("gmi-tool" in page and "add(" in page for page in seen)
    [turn] = shell.conversation.turns
    assert turn.extra[-1]["content"] == "3"
    assert "It is 3." in panel.transcript.value


def test_error_shows_one_line_and_keeps_history(shell, server):
    server.enqueue(reply("Kept"))
    panel = ChatPanel(shell.conversation)
    send(panel, "First")
    before = list(shell.conversation.turns)

    server.enqueue(status(401, {"error": {"message": "Invalid API key"}}))
    send(panel, "Second")

    assert shell.conversation.turns == before
    assert "AuthenticationError" in panel.status.value
    assert "Invalid API key" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert "Not added to the conversation." in panel.live.value
    assert panel.input.value == "Second", "the message is given back"
    assert type(panel.last_error).__name__ == "AuthenticationError"
    assert_idle(panel)


def test_broken_stream_leaves_partial_text_visible_but_not_kept(shell, server):
    server.enqueue(reply(["Partial ", "text"], finish_reason=None, done=False))
    panel = ChatPanel(shell.conversation)
    send(panel, "Go")
    assert shell.conversation.turns == []
    assert "StreamError" in panel.status.value
    assert "Partial text" in panel.live.value and "Not added" in panel.live.value
    assert panel.transcript.value == ""


def test_bugs_are_reported_not_lost(shell, server, monkeypatch, caplog):
    panel = ChatPanel(shell.conversation)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(shell.conversation, "send", broken)
    send(panel, "Hi")
    assert "RuntimeError: boom second line" in panel.status.value
    assert isinstance(panel.last_error, RuntimeError)
    assert "chat panel worker failed" in caplog.text, "the traceback goes to the log"
    assert_idle(panel)


@pytest.mark.parametrize("text", ["", "   \n "])
def test_empty_input_sends_nothing(shell, server, text):
    panel = ChatPanel(shell.conversation)
    panel.input.value = text
    panel.send_button.click()
    assert panel.wait(1)
    assert server.chat_requests == []
    assert panel.live.value == "" and panel.status.value == ""
    assert_idle(panel)


def test_no_stream_option(shell, server):
    server.enqueue(reply("Whole"))
    panel = ChatPanel(shell.conversation, stream=False)
    send(panel, "Q")
    assert server.last_request.json["stream"] is False
    assert "Whole" in panel.transcript.value


def test_before_send_adds_options_or_refuses(shell, server):
    calls: list[str] = []

    def before_send() -> RequestOptions:
        calls.append("checked")
        if len(calls) > 1:
            raise BudgetExceededError("The token budget of 10 is spent.", hint="Ask.")
        return RequestOptions(params={"temperature": 0.25})

    server.enqueue(reply("Warm"))
    panel = ChatPanel(shell.conversation, before_send=before_send)
    send(panel, "One")
    assert server.last_request.json["temperature"] == 0.25
    send(panel, "Two")
    assert len(server.chat_requests) == 1 and len(shell.conversation.turns) == 1
    assert "BudgetExceededError: The token budget of 10 is spent." in panel.status.value
    assert "Hint: Ask." in panel.status.value
    assert panel.input.value == "Two"


@pytest.mark.skipif("panel" not in subcommands.SUBCOMMANDS, reason="%gmi panel not wired in yet")
def test_gmi_panel_subcommand(shell, server, monkeypatch):
    shown: list[ChatPanel] = []

    def spy(*args: Any, **kwargs: Any) -> ChatPanel:
        shown.append(show_panel(*args, **kwargs))
        return shown[-1]

    monkeypatch.setattr(widgets_module, "show_panel", spy)
    shell.config(temperature=0.5, token_budget=1_000_000)
    result = shell.run("%gmi panel --chat side")
    assert result.success, result.error
    assert "application/vnd.jupyter.widget-view+json" in result.outputs[-1]
    [panel] = shown
    server.enqueue(reply("Side answer"))
    send(panel, "Side question")
    assert "Side answer" in panel.transcript.value
    assert server.last_request.json["temperature"] == 0.5
    assert [t.user for t in shell.magics.session.threads["side"].turns] == ["Side question"]
    assert shell.conversation.turns == [], "the default thread is untouched"


def test_show_panel_displays_the_widget(shell):
    with capture_output() as captured:
        panel = show_panel(shell.conversation)
    [output] = captured.outputs
    view = output.data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == panel.widget.model_id
    assert panel._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"] == view


def test_stop_requested_is_a_keyboard_interrupt():
    assert issubclass(StopRequested, KeyboardInterrupt)
    assert error_line(ValueError()) == "ValueError"


def test_changing_a_setting_while_the_panel_streams_keeps_its_reply(shell, server):
    server.enqueue(reply([f"word{i} " for i in range(30)], chunk_delay=0.03), reply("cell"))
    panel = ChatPanel(shell.conversation, min_interval=0.0)
    panel.input.value = "Count slowly"
    panel.send_button.click()
    wait_for(lambda: "word2" in panel.live.value)
    shell.config(timeout=321.0)  # a new client for the next request; the old one is in use
    assert shell.run("%%gmi --chat other\nMeanwhile").success
    finish(panel)
    assert panel.last_error is None, panel.last_error
    [turn] = shell.conversation.turns
    assert turn.reply.text.strip().endswith("word29")


def test_parameters_field_sends_typed_params(shell, server):
    server.enqueue(reply("ok"))
    panel = ChatPanel(shell.conversation)
    panel.params.value = "top_p=0.5 seed=7 chat_template_kwargs.thinking=true stop='[\"x\"]'"
    send(panel, "Q")
    body = server.last_request.json
    assert body["top_p"] == 0.5 and body["seed"] == 7
    assert body["chat_template_kwargs"] == {"thinking": True} and body["stop"] == ["x"]
    panel.params.value = "oops"
    send(panel, "Again")
    assert "KEY=VALUE" in panel.status.value and len(server.chat_requests) == 1


def test_panel_transcript_keeps_every_tool_rounds_thinking(shell, server):
    shell.run("def lookup(city: str) -> str:\n    return 'sunny in ' + city\n")
    call = {"index": 0, "id": "c1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": "Oslo"}'}}  # fmt: skip
    server.enqueue(
        reply(reasoning="First I need the weather.", tool_calls=[call], finish_reason="tool_calls"),
        reply("Sunny.", reasoning="The lookup says sunny."),
    )
    assert shell.run("%%gmi --tools lookup\nWeather?").success
    panel = ChatPanel(shell.conversation)
    page = panel.transcript.value
    assert page.index("First I need the weather.") < page.index("The lookup says sunny.")


def test_transcript_follows_the_newest_reply_and_typesets_math(shell, server):
    """The scroll box is column-reverse (sticks to the bottom); math reaches MathJax intact."""
    import ipywidgets

    server.enqueue(reply("Euler: $e^{i\\pi} + 1 = 0$ and $$\\frac{a}{b}$$ done"))
    panel = ChatPanel(shell.conversation)
    assert isinstance(panel.transcript, ipywidgets.HTMLMath)
    assert isinstance(panel.live, ipywidgets.HTMLMath)
    assert panel.log.layout.flex_flow == "column-reverse" and panel.log.layout.overflow == "auto"
    [content] = panel.log.children
    assert content.children == (panel.transcript, panel.live), "reading order inside the box"
    assert "gmi-panel" in panel.widget._dom_classes
    send(panel, "Math?")
    page = panel.transcript.value
    assert "$e^{i\\pi} + 1 = 0$" in page and "$$\\frac{a}{b}$$" in page


def test_panel_styles_links_quotes_and_inline_code_only_inside_the_panel(shell, server):
    server.enqueue(reply("See [docs](https://example.com).\n\n> quoted\n\nRun `pip`."))
    panel = ChatPanel(shell.conversation)
    send(panel, "Style?")
    page = panel.transcript.value
    assert '<a href="https://example.com" rel="noopener noreferrer">docs</a>' in page
    assert "<blockquote>" in page and "<code>pip</code>" in page
    css = page[page.index("<style>") : page.index("</style>")]
    for rule in (".gmi-panel .gmi-reply a ", ".gmi-panel .gmi-reply blockquote", "> code"):
        assert rule in css, rule
    rules = [line for line in css.splitlines() if line.startswith((".", ":"))]
    extra = [r for r in rules if "gmi-panel" not in r and not r.startswith(".gmi-reply")]
    assert extra == [], "panel rules must not style cells' outputs"


def test_live_area_shows_the_whole_reply_so_far_not_only_its_tail(shell, server):
    """Whatever the renderer sends the sink, the panel's live area holds every block."""
    blocks = [f"## Part {i}\n\nParagraph {i} text.\n\n" for i in range(8)]
    pieces = [*blocks, "tailword ", "still ", "streaming"]
    server.enqueue(reply(pieces, chunk_delay=0.05))
    panel = ChatPanel(shell.conversation, min_interval=0.0)
    seen: list[str] = []
    panel.live.observe(lambda change: seen.append(change["new"]), "value")
    send(panel, "Long one")
    late = [page for page in seen if "tailword" in page]
    assert late, "a repaint while the tail streamed"
    for i in range(8):
        assert f"Part {i}</h2>" in late[0] and f"Paragraph {i} text." in late[0], i
    assert "Hello" not in late[0] and "Long one" in late[0], "the user bubble stays on top"
    assert all(page.count("<style>") <= 1 for page in seen)
