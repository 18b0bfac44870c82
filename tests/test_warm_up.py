"""%load_ext warms the core in a background thread; a cell started at once is safe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import TEST_KEY

from gmi_magics.testing import reply

CHILD = """
import json, sys, threading, time
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
ip = InteractiveShell.instance()
started = time.perf_counter()
ip.run_line_magic("load_ext", "gmi_magics")
load = time.perf_counter() - started
warming = [t.name for t in threading.enumerate() if t.name == "gmi-warm-up"]
ip.run_line_magic("config", "GMIMagics.display = 'text'")
with capture_output() as out:
    result = ip.run_cell("%%gmi\\nHello at once")
print(json.dumps({"ok": result.success, "error": repr(result.error_in_exec),
                  "text": out.stdout, "warming": warming, "load": load,
                  "httpx": "httpx" in sys.modules}))
"""


def _child(server, extra_env=None):
    env = {**os.environ, "GMI_BASE_URL": server.base_url, "GMI_API_KEY": TEST_KEY}
    env.update(extra_env or {})
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert TEST_KEY not in out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("attempt", range(3))
def test_a_cell_right_after_load_ext_works_while_warming(server, attempt):
    report = _child(server)
    assert report["ok"], report["error"]
    assert report["warming"] == ["gmi-warm-up"] or report["httpx"]
    assert report["text"].strip(), "the reply was shown"


def test_warm_up_imports_the_core_in_the_background(shell, server):
    from gmi_magics.magics import start_warm_up

    thread = start_warm_up(shell.magics)
    thread.join(30)
    assert not thread.is_alive()
    assert {"httpx", "httpcore", "markdown", "nh3", "gmi_magics.cell"} <= set(sys.modules)
    client = shell.magics.session._client
    assert client is not None, "the client (TLS context, pool) is ready for the first cell"
    server.enqueue(reply("hi"))
    assert shell.run("%%gmi\nQ").success
    assert shell.magics.session._client is client


# (pygments is not here: IPython itself imports it)
HEAVY = (
    *("httpx", "httpcore", "h11", "orjson", "markdown", "nh3", "ipywidgets", "tqdm"),
    "latex2mathml",
)
LOAD_ONLY = f"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "gmi_magics")
print(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))
"""


def test_load_ext_itself_imports_nothing_heavy():
    """The heavy libraries come with the warm-up thread (50 ms later) or the first cell."""
    out = subprocess.run(
        [sys.executable, "-c", LOAD_ONLY], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
