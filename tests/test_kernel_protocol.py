"""A real kernel over ZMQ: what notebook frontends and ``jupyter console`` receive.

Requests are shaped like JupyterLab's (``cellId`` in the metadata) and like
nbclassic's / ``jupyter console``'s (no metadata, stdin allowed), and the raw iopub
frames are counted, so the bytes bound is measured as a frontend receives them.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_KEY
from kernel_protocol import Execution, KernelSession

from gmi_magics.testing import StandInServer, reply

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from corpus import deltas

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def kernel(_server: StandInServer) -> Iterator[KernelSession]:
    session = KernelSession(_server.base_url, TEST_KEY)
    yield session
    session.close()


def ask(
    kernel: KernelSession,
    server: StandInServer,
    pieces: list[str],
    *,
    cell_id: bool | str,
    delay: float,
) -> Execution:
    server.reset()
    server.enqueue(reply(pieces, chunk_delay=delay))
    execution = kernel.execute("%%gmi\nExplain", cell_id=cell_id)
    assert execution.reply["status"] == "ok", execution.reply
    return execution


def words(text: str) -> list[str]:
    return text.split()


def contains_in_order(haystack: list[str], needle: list[str]) -> bool:
    """Whether ``needle`` occurs as a contiguous run of ``haystack``."""
    size = len(needle)
    return any(haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))


@pytest.mark.parametrize(("tokens", "rate"), [(1_500, 300), (3_000, 3_000), (40, 20)])
def test_bytes_to_the_frontend_stay_within_3x_the_final_output(
    kernel: KernelSession, _server: StandInServer, tokens: int, rate: int
) -> None:
    execution = ask(kernel, _server, deltas(tokens), cell_id=True, delay=1 / rate)
    ratio = execution.sent / execution.final_size
    assert ratio <= 3.0, (execution.sent, execution.final_size)
    # at most 20 repaints a second: the first paints at once, and the live tail's last
    # clearing at the end is not held back, so 20 a second plus those two
    assert execution.repaints <= 20 * execution.seconds + 2, (
        execution.repaints,
        execution.seconds,
    )
    displays = execution.of("display_data")
    assert displays, "the reply was shown"
    # a finished block goes out once, as its own output, and is never repainted after
    order = [
        (m.msg_type, m.content["data"].get("text/html", ""))
        for m in execution.messages
        if m.msg_type in ("display_data", "update_display_data")
    ]
    opening = "Here is a worked answer."
    published = next(
        i for i, (kind, page) in enumerate(order) if kind == "display_data" and opening in page
    )
    assert not any(opening in page for _, page in order[published + 1 :])


VSCODE_CELL = "vscode-notebook-cell:/home/student/lesson.ipynb#W1sZmlsZQ%3D%3D"


@pytest.mark.parametrize(
    "cell_id", [True, VSCODE_CELL, False], ids=["jupyterlab", "vscode", "nbclassic-or-console"]
)
def test_every_client_gets_rendered_html_while_streaming(
    kernel: KernelSession, _server: StandInServer, cell_id: bool | str
) -> None:
    text = "Some **bold** words.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end."
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    execution = ask(kernel, _server, pieces, cell_id=cell_id, delay=0.02)
    live = [m.content["data"] for m in execution.of("display_data", "update_display_data")]
    assert any("<strong>bold</strong>" in d.get("text/html", "") for d in live[:-1])
    assert not execution.of("stream"), "no raw markdown streamed to stdout"
    final = execution.html
    assert "<strong>bold</strong>" in final and "<table>" in final and "The end." in final
    assert "**bold**" not in final
    assert final.count("<style>") == 1


@pytest.mark.parametrize(
    ("cell_id", "mathml"),
    [(VSCODE_CELL, True), (True, False), (False, False)],
    ids=["vscode", "jupyterlab", "nbclassic-or-console"],
)
def test_math_is_mathml_for_vscode_and_tex_for_mathjax_frontends(
    kernel: KernelSession, _server: StandInServer, cell_id: bool | str, mathml: bool
) -> None:
    """VS Code does not typeset HTML outputs; the others run MathJax over ``$…$``."""
    text = "So $e^{i\\pi} + 1 = 0$ holds.\n\n$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$\n\nEnd."
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    execution = ask(kernel, _server, pieces, cell_id=cell_id, delay=0.005)
    final = execution.html
    assert ('<math display="block">' in final) is mathml
    assert ("$e^{i\\pi} + 1 = 0$" in final) is not mathml
    assert "e^{i\\pi} + 1 = 0" in execution.console  # text/plain keeps the TeX


def test_a_console_that_ignores_updates_still_gets_the_whole_reply_as_text(
    kernel: KernelSession, _server: StandInServer
) -> None:
    pieces = deltas(2_000)
    execution = ask(kernel, _server, pieces, cell_id=False, delay=0.0005)
    shown = execution.console
    assert "<div" not in shown and "<span" not in shown
    text = "".join(pieces).strip()
    for block in re.split(r"\n\n+", text):  # every block, exactly once
        assert contains_in_order(words(shown), words(block)), block[:60]
    assert shown.count("Here is a worked answer.") == 1
    assert "DeepSeek" in shown.splitlines()[-1]  # the footer line comes last


def test_text_display_in_a_kernel_sends_a_stream_message_per_interval_not_per_token(
    kernel: KernelSession, _server: StandInServer
) -> None:
    pieces = [f"w{i} " for i in range(150)]
    kernel.execute("%config GMIMagics.display = 'text'")
    try:
        execution = ask(kernel, _server, pieces, cell_id=True, delay=0.004)  # 0.6 s
    finally:
        kernel.execute("%config GMIMagics.display = 'auto'")
    streams = execution.of("stream")
    shown = "".join(m.content["text"] for m in streams)
    assert shown.startswith("".join(pieces).strip())  # all of it, in order
    # ipykernel's own flush timer (0.2 s; its timers can overlap after earlier cells, so
    # up to ten a second) and one flush at the end, however long the stream took: not one
    # per token (that the renderer adds no flushes of its own is tested in test_display)
    assert 2 <= len(streams) <= 10 * execution.seconds + 2, len(streams)
    assert len(streams) < len(pieces) / 4


def test_thinking_and_partial_reply_under_an_error_reach_the_console(
    kernel: KernelSession, _server: StandInServer
) -> None:
    _server.reset()
    _server.enqueue(
        reply(
            ["Partial ", "answer."],
            reasoning=["Let me ", "think."],
            done=False,
            finish_reason=None,
            usage="none",
        )
    )
    execution = kernel.execute("%%gmi\nExplain", cell_id=False)
    shown = execution.console
    assert "Let me think." in shown and "Partial answer." in shown
    assert "Partial answer." in execution.html


def test_cold_start_is_measured(kernel: KernelSession, _server: StandInServer) -> None:
    """First and second question in a fresh kernel: measured and reported, not asserted.

    Asked at once after ``%load_ext`` (the cell waits for the warm-up's imports) and
    after a pause as a person would take (the warm-up has finished).
    """
    report = []
    for pause in (0.0, 2.0):
        fresh = KernelSession(_server.base_url, TEST_KEY)
        try:
            time.sleep(pause)
            times = []
            for _ in range(2):
                _server.reset()
                _server.enqueue(reply("Hello there."))
                execution = fresh.execute("%%gmi\nHi")
                assert "Hello there." in execution.html, execution.outputs()
                times.append(execution.seconds)
        finally:
            fresh.close()
        report.append(
            f"pause {pause:.0f} s: first {times[0] * 1e3:.0f} ms, second {times[1] * 1e3:.0f} ms"
        )
    print("\ncold start after %load_ext: " + "; ".join(report))
