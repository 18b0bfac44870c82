"""`jupyter console` ignores display updates: there the reply must stream as plain text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_KEY

CONSOLE = shutil.which("jupyter-console", path=str(Path(sys.executable).parent))


@pytest.mark.timeout(120)
@pytest.mark.skipif(CONSOLE is None, reason="jupyter_console is in the test extra")
def test_jupyter_console_shows_the_reply_as_text(server) -> None:
    # the trailing cells give late output from a busy kernel time to arrive before exit
    cells = (
        "%load_ext gmi_magics\n%gmi Hello from the console\n"
        "import time; time.sleep(1)\nprint('END-OF-CELLS')\n"
    )
    env = {**os.environ, "GMI_BASE_URL": server.base_url, "GMI_API_KEY": TEST_KEY}
    result = subprocess.run(
        [str(CONSOLE), "--simple-prompt", "--kernel=python3"],
        input=cells + "exit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=100,
    )
    assert "END-OF-CELLS" in result.stdout, result.stdout + result.stderr
    assert "> Hello from the console" in result.stdout, result.stdout + result.stderr
    assert "| 2 | 4 |" in result.stdout  # the markdown source, not a <Markdown object>
    assert "deepseek-ai/DeepSeek-V3.2-Exp" in result.stdout  # the footer line
    assert "<div" not in result.stdout and "object>" not in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr
