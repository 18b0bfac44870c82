"""What a ``%%gmi`` cell sends (real shell, real HTTP to the stand-in server)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def last_user_text(server: Any) -> str:
    content: str = server.last_request.json["messages"][-1]["content"]
    return content


# -- item: markdown code is sent verbatim ------------------------------------------


def test_fenced_and_inline_code_keep_their_braces(shell: Any, server: Any) -> None:
    shell.ns.update(name="Ada", n=3)
    cell = (
        "Why does this print {name}?\n"
        "```python\n"
        'print(f"{name} has {n} items")\n'
        "```\n"
        "~~~~\n{n}\n~~~~\n"
        "Also `{name}` and ``f'{n}'`` vs {n}."
    )
    result = shell.run("%%gmi\n" + cell)
    assert result.success, result.error
    assert last_user_text(server) == (
        "Why does this print Ada?\n"
        "```python\n"
        'print(f"{name} has {n} items")\n'
        "```\n"
        "~~~~\n{n}\n~~~~\n"
        "Also `{name}` and ``f'{n}'`` vs 3."
    )


def test_unclosed_fence_keeps_braces_to_the_end(shell: Any, server: Any) -> None:
    shell.ns.update(name="Ada")
    result = shell.run("%%gmi\nFix {name}'s code:\n  ```py\nx = {name}\n")
    assert result.success, result.error
    assert last_user_text(server) == "Fix Ada's code:\n  ```py\nx = {name}"


# -- item: a value cut to fit its budget is announced --------------------------------


def test_cut_values_are_announced_in_one_line_each(shell: Any, server: Any) -> None:
    shell.ns["df"] = pd.DataFrame(np.zeros((10_000, 40)))
    shell.ns["log"] = "x" * 120_311
    result = shell.run("%%gmi\nCompare {df} with {log}")
    assert result.success, result.error
    sent = last_user_text(server)
    assert "… 9,990 more rows" in sent
    seen = result.everything
    assert "{df}: sent a preview (10 of 10,000 rows, 20 of 40 columns)" in seen
    assert "{log}: cut to 1,966 of 120,311 characters" in seen


def test_whole_values_are_not_announced(shell: Any, server: Any) -> None:
    shell.ns["small"] = pd.DataFrame({"a": [1, 2]})
    result = shell.run("%%gmi\nLook at {small}")
    assert result.success, result.error
    assert "sent a preview" not in result.everything
    assert "cut to" not in result.everything


# -- item: {call} / {operator} on an existing name says why it was not filled ---------


def test_unfilled_expression_on_existing_name_is_explained(shell: Any, server: Any) -> None:
    shell.ns["df"] = pd.DataFrame({"a": [1, 2]})
    result = shell.run("%%gmi\nSummarise {df.head()}")
    assert result.success, result.error
    assert last_user_text(server) == "Summarise {df.head()}"
    assert (
        "{df.head()} was sent as written: calls are not evaluated; "
        "assign it first (`df_head = df.head()`) and use {df_head}"
    ) in result.everything
