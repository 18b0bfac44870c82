"""A stand-in server whose answer depends on the prompt, with arrival times.

Batch requests arrive in any order, so tests script by content (``rule``), never by
queue position.  Used by tests/chat/test_batch*.py and tests/test_batch_magic.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gmi_magics.testing import RecordedRequest, StandInServer
from gmi_magics.wire.client import GMIClient

Rule = Callable[[str], Any]


class RuleServer(StandInServer):
    """``rule(prompt)`` returns a script, or ``None`` for the canned reply."""

    def __init__(self, rule: Rule | None = None) -> None:
        super().__init__()
        self.rule: Rule = rule or (lambda prompt: None)
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, prompt)
        self._times_lock = threading.Lock()

    def _next_chat_script(self, record: RecordedRequest) -> Any:
        prompt = last_prompt(record.json)
        with self._times_lock:
            self.arrivals.append((time.monotonic(), prompt))
        script = self.rule(prompt)
        return script if script is not None else super()._next_chat_script(record)

    @property
    def prompts(self) -> list[str]:
        with self._times_lock:
            return [prompt for _, prompt in self.arrivals]


def last_prompt(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not messages:
        return ""
    content = messages[-1].get("content")
    return content if isinstance(content, str) else ""


# fixtures of the batch tests (imported by name into tests/chat/test_batch*.py)


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuleServer]:
    with RuleServer() as server:
        monkeypatch.setenv("GMI_BASE_URL", server.base_url)
        yield server


@pytest.fixture
def client(rules: RuleServer) -> Iterator[GMIClient]:
    with GMIClient(base_url=rules.base_url) as made:
        yield made
