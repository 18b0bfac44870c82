"""``%%gmi --context N``: the last N executed cells as a delimited block, only on request."""

from __future__ import annotations

import pytest

from gmi_magics.context.notebook import ExecutedCell, context_block, is_gmi_cell, recent_cells

pd = pytest.importorskip("pandas")


def run(shell, cell: str):
    """Run a cell the way a notebook does: stored in In/Out, numbered."""
    return shell.run(cell, store_history=True)


def sent_text(server) -> str:
    content = server.last_request.json["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def test_nothing_about_other_cells_is_sent_by_default(shell, server):
    run(shell, "secret_thing = 'ZEBRA-42'\nsecret_thing")
    assert run(shell, "%%gmi\nWhat did I do?").success
    text = sent_text(server)
    assert text == "What did I do?"
    assert "ZEBRA-42" not in server.last_request.body.decode()


def test_context_sends_code_outputs_and_dataframe_previews(shell, server):
    shell.ns["pd"] = pd
    run(shell, "frame = pd.DataFrame({'a': range(100), 'b': ['x'] * 100})")
    run(shell, "%gmi history")  # a gmi cell: skipped, not counted
    run(shell, "frame.describe().loc['mean']")
    run(shell, "frame")
    result = run(shell, "%%gmi --context 2\nWhy is b constant?")
    assert result.success, result.error
    text = sent_text(server)
    assert text.startswith("<notebook_context>") and text.endswith("Why is b constant?")
    block = text.split("</notebook_context>")[0]
    assert "frame.describe()" in block and "### In [" in block
    assert "| a " in block or "a  " in block  # the DataFrame preview
    assert "%gmi history" not in block and "pd.DataFrame(" not in block  # 2 cells only
    last = run(shell, "%gmi last")
    assert "frame.describe()" in last.stdout  # %gmi last shows exactly what was included


def test_the_context_cells_trait_and_explicit_zero(shell, server):
    run(shell, "marker_value = 'OKAPI-7'")
    shell.config(context_cells=1)
    assert run(shell, "%%gmi\nAnd?").success
    assert "OKAPI-7" in sent_text(server)
    assert run(shell, "%%gmi --no-history --context 0\nAnd?").success
    assert "OKAPI-7" not in server.last_request.body.decode()


def test_the_last_error_comes_with_its_cell(shell, server):
    run(shell, "def broken():\n    return 1 / 0")
    failed = run(shell, "broken()")
    assert not failed.success
    assert run(shell, "%%gmi --context 2\nWhy?").success
    text = sent_text(server)
    assert "ZeroDivisionError: division by zero" in text and "return 1 / 0" in text


def test_a_figure_value_is_attached_as_an_image(shell, server):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    run(shell, "import matplotlib.pyplot as plt\nplt.figure(figsize=(2, 1), dpi=100)")
    run(shell, "plt.plot([1, 1, 1])")
    try:
        assert run(shell, "%%gmi --context 1\nFlat?").success
    finally:
        shell.ns["plt"].close("all")
    content = server.last_request.json["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url"]
    assert "(attached as an image)" in content[0]["text"]
    assert "I see 1 image (PNG 200×100)." in shell.conversation.turns[-1].reply.text


def test_a_cell_showing_the_key_is_left_out(shell, server):
    import os

    run(shell, f"key = {os.environ['GMI_API_KEY']!r}")  # the code shows it
    result = run(shell, "%%gmi --context 1\nWhat?")
    assert result.success
    assert "left out of the context: it shows your API key" in result.stdout
    assert os.environ["GMI_API_KEY"] not in server.last_request.body.decode()


def test_negative_context_is_a_usage_error(shell, server):
    result = run(shell, "%%gmi --context -1\nWhat?")
    assert not result.success and "--context takes a number" in str(result.error)


def test_recent_cells_skip_gmi_cells_and_the_running_cell():
    inputs = ["", "a = 1", "%%gmi\nhi", "%gmi history", "", "b = 2", "%%gmi --context 9\nnow"]
    cells = recent_cells(inputs, {5: 2}, 9, before=6)
    assert [(c.number, c.source, c.has_output) for c in cells] == [
        (1, "a = 1", False),
        (5, "b = 2", True),
    ]
    assert is_gmi_cell("%gmi reset\n%gmi history") and not is_gmi_cell("%gmi reset\nx = 1")


def test_block_fences_survive_backticks_in_code():
    cell = ExecutedCell(3, "s = '```'\ns", True, "```")
    block = context_block([cell], image_of=lambda value: None)
    assert "````python\ns = '```'" in block.text
    assert block.text.startswith("<notebook_context>") and block.text.endswith(
        "</notebook_context>"
    )
