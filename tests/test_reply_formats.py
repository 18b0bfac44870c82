"""Reply formats (``-f code|json|text``) and the code blocks of a reply."""

from __future__ import annotations

from helpers import last_user_text, one_error_line

from gmi_magics.testing import reply
from gmi_magics.types import CodeBlock

CODE_REPLY = (
    "Plot it like this:\n\n"
    "```python\nimport matplotlib.pyplot as plt\nplt.plot(df.x)\n```\n\n"
    "Install first:\n\n```bash\npip install matplotlib\n```\n\n"
    "```py\nplt.show()\n```\n"
)


def test_code_format_puts_the_python_blocks_into_the_next_cell(shell, server):
    shell.ip.rl_next_input = None
    server.enqueue(reply(CODE_REPLY))
    result = shell.run("%%gmi -f code -o r\nPlot df.x")
    assert result.success, result.error
    assert shell.ip.rl_next_input == "import matplotlib.pyplot as plt\nplt.plot(df.x)\n\nplt.show()"
    assert "```" not in shell.ip.rl_next_input
    assert shell.ns["r"].code_blocks == [
        CodeBlock("python", "import matplotlib.pyplot as plt\nplt.plot(df.x)"),
        CodeBlock("bash", "pip install matplotlib"),
        CodeBlock("py", "plt.show()"),
    ]


def test_code_blocks_list_each_fence_with_its_language(shell, server):
    server.enqueue(reply("```SQL\nselect 1\n```\n\ntext\n\n~~~\nplain\n~~~\n"))
    assert shell.run("%%gmi -o r\nQ").success
    blocks = shell.ns["r"].code_blocks
    assert blocks == [CodeBlock("sql", "select 1"), CodeBlock("", "plain")]
    assert shell.ns["r"].code == "plain"


def test_json_format_asks_for_json_and_stores_the_object(shell, server):
    server.enqueue(reply('{"rows": 3, "columns": ["a", "b"]}'))
    result = shell.run("%%gmi -f json -o summary\nSummarise the data as JSON.")
    assert result.success, result.error
    body = server.last_request.json
    assert body["response_format"] == {"type": "json_object"}
    assert shell.ns["summary"] == {"rows": 3, "columns": ["a", "b"]}


def test_json_format_accepts_a_fenced_reply(shell, server):
    server.enqueue(reply('```json\n{"ok": true, "n": [1, 2]}\n```'))
    result = shell.run("%%gmi -f json -o summary\nSummarise")
    assert result.success, result.error
    assert shell.ns["summary"] == {"ok": True, "n": [1, 2]}
    assert "json" in last_user_text(server).lower(), "the model is told to answer in JSON"


def test_invalid_json_is_one_clear_error_and_the_turn_is_kept(shell, server):
    shell.ns.pop("summary", None)
    server.enqueue(reply("Sure! Here is a summary: rows=3"))
    result = shell.run("%%gmi -f json -o summary\nSummarise as JSON")
    assert not result.success
    assert type(result.error).__name__ == "ReplyFormatError"
    lines = one_error_line(result).splitlines()
    assert lines[0].startswith("ReplyFormatError: The reply is not valid JSON"), lines
    assert len(lines) <= 2 and all("Traceback" not in line for line in lines), lines
    assert "summary" not in shell.ns
    turns = shell.conversation.turns
    assert len(turns) == 1
    assert turns[0].reply.text == "Sure! Here is a summary: rows=3"


def test_text_format_prints_plain_text(shell, server):
    server.enqueue(reply("# Title\n\n**bold** and `code`"))
    result = shell.run("%%gmi -f text\nQ")
    assert result.success, result.error
    assert result.outputs == []
    assert "# Title\n\n**bold** and `code`" in result.stdout
    assert "<" not in result.stdout
