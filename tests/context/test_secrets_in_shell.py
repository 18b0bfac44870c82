"""The API key is never interpolated into a message (real shell, real HTTP)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from conftest import TEST_KEY


@dataclass
class Client:
    base_url: str
    api_key: str


def _one_line(result: Any) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr).strip()


@pytest.mark.parametrize(
    ("setup", "reference"),
    [
        ({"token": TEST_KEY}, "{token}"),
        ({"headers": {"Authorization": f"Bearer {TEST_KEY}"}}, "{headers}"),
        ({"keys": ["a", TEST_KEY]}, "{keys}"),
        ({"client": Client("https://x", TEST_KEY)}, "{client}"),
        ({"client": Client("https://x", TEST_KEY)}, "{client.api_key}"),
        ({"frame": pd.DataFrame({"k": ["-"] * 50 + [TEST_KEY]})}, "{frame}"),
    ],
)
def test_a_value_holding_the_key_stops_the_cell(
    shell: Any, server: Any, setup: dict[str, object], reference: str
) -> None:
    shell.ns.update(setup)
    result = shell.run(f"%%gmi\nWhy does {reference} fail?")
    assert not result.success
    line = _one_line(result)
    assert len(line.splitlines()) == 1, line
    assert f"{reference} holds your API key; it was not sent" in line
    assert server.chat_requests == []


def test_line_mode_refuses_too(shell: Any, server: Any) -> None:
    shell.ns["token"] = TEST_KEY
    result = shell.run("%gmi What is {token}?")
    assert not result.success
    assert "{token} holds your API key; it was not sent" in _one_line(result)
    assert server.chat_requests == []


def test_other_values_are_still_sent(shell: Any, server: Any) -> None:
    shell.ns["client"] = Client("https://x", "not-the-key-at-all")
    result = shell.run("%%gmi\nCheck {client}")
    assert result.success, result.error
    sent = server.last_request.json["messages"][-1]["content"]
    assert "not-the-key-at-all" in sent
