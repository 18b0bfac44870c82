"""Interrupts (a real SIGINT, a tool raising KeyboardInterrupt): partial turns, history."""

from __future__ import annotations

import signal
import threading
import time

from helpers import (
    assert_next_cell_works,
    assert_no_traceback,
    assert_recovers,
    error_lines,
    seed,
)

from gmi_magics.testing import DONE, hang, reply, sse


def _handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "process_request" in t.name}


def test_sigint_mid_stream_keeps_an_interrupted_turn(shell, server):
    before = seed(shell, server)
    pieces = [f"piece{i} " for i in range(20)]
    server.enqueue(reply(pieces, chunk_delay=0.1))
    existing = _handler_threads()
    main_id = threading.main_thread().ident
    assert main_id is not None
    timer = threading.Timer(0.35, lambda: signal.pthread_kill(main_id, signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        result = shell.run("%%gmi\nCount slowly")
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 1.5  # stopped, not streamed to the end
    assert_no_traceback(result)

    # the partial reply stays visible, marked as interrupted
    final = result.outputs[-1]
    assert "piece0" in final["text/html"] and "piece0" in final["text/plain"]
    assert "piece19" not in result.everything
    assert "interrupt" in final["text/plain"].lower()

    # the server saw the connection closed: its handler finishes long before the
    # 2 s the stream would take
    deadline = time.monotonic() + 1.0
    while _handler_threads() - existing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [t for t in _handler_threads() - existing if t.is_alive()]

    # the partial turn is in history, marked interrupted
    turns = shell.conversation.turns
    assert len(turns) == len(before) + 1
    assert turns[:-1] == before
    last = turns[-1]
    assert last.user == "Count slowly"
    assert last.reply.interrupted is True
    assert last.reply.text.startswith("piece0")
    assert "piece19" not in last.reply.text

    shown = shell.run("%gmi history")
    assert shown.success
    assert "interrupted" in shown.plain.lower()
    assert "piece0" in shown.plain

    undone = shell.run("%gmi undo")
    assert undone.success
    assert "Count slowly" in undone.stdout
    assert shell.conversation.turns == before

    assert_next_cell_works(shell, server, before)


def test_sigint_before_the_first_byte_leaves_history_alone(shell, server):
    """Nothing had arrived, so there is no partial reply to keep: history stays as it
    was (an empty interrupted turn would send ``{"role": "assistant", "content": ""}``
    with every later request)."""
    before = seed(shell, server)
    server.enqueue(sse(*hang(2).items, DONE))  # keep-alives only, no text for 2 s
    main_id = threading.main_thread().ident
    assert main_id is not None
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main_id, signal.SIGINT))
    timer.start()
    try:
        started = time.monotonic()
        result = shell.run("%%gmi\nNever answered")
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 1.5
    assert_no_traceback(result)
    assert_recovers(shell, server, before)


def test_an_interrupt_fails_the_cell_with_one_line_and_keeps_the_partial_turn(shell, server):
    shell.run("def slow_tool(x: str) -> str:\n    raise KeyboardInterrupt\n")
    call = {"index": 0, "id": "c1", "type": "function"}
    call["function"] = {"name": "slow_tool", "arguments": '{"x": "a"}'}
    server.enqueue(reply("Let me check.", tool_calls=[call], finish_reason="tool_calls"))
    result = shell.run("%%gmi --tools slow_tool\nGo")
    assert not result.success, "an interrupt must stop Run All, like any interrupt"
    assert type(result.error).__name__ == "StoppedError"
    assert "Traceback" not in result.stdout + result.stderr
    assert "Interrupted" in error_lines(result)[0]
    turns = shell.conversation.turns
    assert len(turns) == 1 and turns[0].interrupted and turns[0].reply.text == "Let me check."
