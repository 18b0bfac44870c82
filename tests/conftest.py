"""Shared fixtures: the stand-in server on loopback and a real IPython shell.

The whole suite runs with a distinctive API key; ``no_key_leak`` fails any test
whose real stdout/stderr shows it, and ``Shell.run`` checks every captured output.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

import gmi_magics
from gmi_magics.testing import StandInServer

TEST_KEY = "gmi-TESTKEY-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture(scope="session", autouse=True)
def _test_environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("GMI_API_KEY", "GMI_CLOUD_APIKEY", "GMI_MODEL")}
    os.environ["GMI_API_KEY"] = TEST_KEY
    os.environ.pop("GMI_CLOUD_APIKEY", None)
    os.environ.pop("GMI_MODEL", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def no_key_leak(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    out, err = capfd.readouterr()
    assert TEST_KEY not in out and TEST_KEY not in err, "the API key leaked to stdout/stderr"


@pytest.fixture(scope="session")
def _server() -> Iterator[StandInServer]:
    with StandInServer() as server:
        yield server


@pytest.fixture
def server(_server: StandInServer, monkeypatch: pytest.MonkeyPatch) -> StandInServer:
    _server.reset()
    monkeypatch.setenv("GMI_BASE_URL", _server.base_url)
    monkeypatch.setenv("GMI_API_KEY", TEST_KEY)
    return _server


@dataclass
class Result:
    """What the user saw from one cell."""

    stdout: str
    stderr: str
    outputs: list[dict[str, Any]] = field(default_factory=list)  # every display and update
    success: bool = True
    error: BaseException | None = None
    final: list[dict[str, Any]] = field(default_factory=list)  # the outputs, updates applied

    @property
    def html(self) -> str:
        return "\n".join(o.get("text/html", "") for o in self.outputs)

    @property
    def plain(self) -> str:
        return "\n".join(o.get("text/plain", "") for o in self.outputs)

    @property
    def last_html(self) -> str:
        """The HTML the cell shows at the end (updates applied): what a saved notebook keeps."""
        return "".join(o.get("text/html", "") for o in self.final)

    @property
    def everything(self) -> str:
        return "\n".join([self.stdout, self.stderr, self.html, self.plain])


def final_outputs(captured: list[Any]) -> list[dict[str, Any]]:
    """The data of each output as a frontend shows it at the end: updates applied by id."""
    shown: list[tuple[Any, dict[str, Any]]] = []
    for output in captured:
        display_id = (output.transient or {}).get("display_id")
        if output.update:
            shown = [(i, dict(output.data) if i == display_id else d) for i, d in shown]
        else:
            shown.append((display_id, dict(output.data)))
    return [data for _, data in shown]


class Shell:
    """A real InteractiveShell with gmi_magics loaded, and helpers to run cells."""

    def __init__(self, ip: InteractiveShell) -> None:
        self.ip = ip

    def run(self, cell: str, **kwargs: Any) -> Result:
        with capture_output() as captured:
            outcome = self.ip.run_cell(cell, **kwargs)
        result = Result(
            stdout=captured.stdout,
            stderr=captured.stderr,
            outputs=[dict(o.data) for o in captured.outputs],
            success=outcome.success,
            error=outcome.error_in_exec or outcome.error_before_exec,
            final=final_outputs(captured.outputs),
        )
        assert TEST_KEY not in result.everything, "the API key leaked into cell output"
        return result

    def config(self, **traits: Any) -> None:
        for name, value in traits.items():
            setattr(self.magics, name, value)

    @property
    def magics(self) -> Any:
        return self.ip.magics_manager.registry["GMIMagics"]

    @property
    def conversation(self) -> Any:
        return self.magics.session.conversation(self.magics.settings())

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns


@pytest.fixture
def shell(server: StandInServer) -> Iterator[Shell]:
    """A fresh gmi_magics instance in the shared shell, talking to the stand-in server."""
    ip = InteractiveShell.instance()
    ip.config.GMIMagics = Config()
    if "GMIMagics" in ip.magics_manager.registry:
        gmi_magics.unload_ipython_extension(ip)
    gmi_magics.load_ipython_extension(ip)
    wrapped = Shell(ip)
    wrapped.config(display="html", max_retries=2)
    yield wrapped
    gmi_magics.unload_ipython_extension(ip)
