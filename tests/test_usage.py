"""``%gmi usage`` per thread with costs, and the ``token_budget`` that refuses requests."""

from __future__ import annotations

from helpers import DEFAULT_MODEL, one_error_line

from gmi_magics.testing import reply


def _usage_table(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        if line.startswith("Token budget"):
            continue
        name, *cells = line.split()
        rows[name] = cells
    return rows


def test_usage_per_thread_and_total(shell, server):
    server.enqueue(
        reply("a", usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}),
        reply("b", usage={"prompt_tokens": 150, "completion_tokens": 30, "total_tokens": 180}),
        reply("c", usage={"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}),
    )
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi\nQ2")
    shell.run("%%gmi --chat review\nR1")
    result = shell.run("%gmi usage")
    assert result.success, result.error
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["thread", "requests", "tokens", "in"]
    assert _usage_table(result.stdout) == {
        "default": ["2", "250", "50", "n/a"],
        "review": ["1", "40", "5", "n/a"],
        "total": ["3", "290", "55", "n/a"],
    }


def test_usage_shows_cost_with_prices(shell, server):
    shell.config(prices={DEFAULT_MODEL: (0.27, 0.41)})
    big = {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000}
    server.enqueue(reply("a", usage=big))
    shell.run("%%gmi\nQ1")
    rows = _usage_table(shell.run("%gmi usage").stdout)
    assert rows["default"] == ["1", "1,000,000", "500,000", "$0.4750"]
    assert rows["total"] == ["1", "1,000,000", "500,000", "$0.4750"]


def test_usage_cost_uses_the_model_that_answered(shell, server):
    """A cell run with -m on an unpriced model must not be billed at the default's price."""
    shell.config(prices={DEFAULT_MODEL: (0.27, 0.41)})
    big = {"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000}
    server.enqueue(reply("a", usage=big), reply("b", usage=big))
    shell.run("%%gmi\nQ1")
    shell.run("%%gmi -m Qwen/Qwen3-32B\nQ2")
    rows = _usage_table(shell.run("%gmi usage").stdout)
    assert rows["default"][:3] == ["2", "2,000,000", "0"]
    assert rows["default"][3] != "$0.5400", "Qwen tokens were billed at DeepSeek's price"


def test_token_budget_refuses_the_next_request(shell, server):
    shell.config(token_budget=100)
    server.enqueue(
        reply("a", usage={"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110})
    )
    assert shell.run("%%gmi\nQ1").success
    assert "Token budget: 100; 0 left." in shell.run("%gmi usage").stdout
    result = shell.run("%%gmi\nQ2")
    assert not result.success
    assert type(result.error).__name__ == "BudgetExceededError"
    lines = one_error_line(result).splitlines()
    assert lines[0] == "BudgetExceededError: The token budget of 100 is spent (110 used).", lines
    assert len(server.chat_requests) == 1
    assert [t.user for t in shell.conversation.turns] == ["Q1"]


def test_token_budget_not_yet_spent_allows_requests(shell, server):
    shell.config(token_budget=1000)
    server.enqueue(
        reply("a", usage={"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110}),
        reply("b"),
    )
    assert shell.run("%%gmi\nQ1").success
    assert shell.run("%%gmi\nQ2").success
    assert len(server.chat_requests) == 2
