"""What a ``%%gmi`` cell sends (real shell, real HTTP to the stand-in server)."""

from __future__ import annotations

from typing import Any


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
