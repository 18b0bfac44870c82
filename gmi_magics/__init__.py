"""gmi_magics: talk to GMI Cloud's chat models from IPython and Jupyter.

``%load_ext gmi_magics`` registers ``%%gmi`` / ``%gmi``.  The core also works in a
plain script: ``from gmi_magics import Conversation, GMIClient``.  Heavy modules
(httpx, markdown, nh3) load on first use, so loading the extension is instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_LAZY = {
    "Conversation": "chat.conversation",
    "ReplyInterrupted": "chat.conversation",
    "batch": "chat.batch",
    "GMIClient": "wire.client",
    "GMIError": "errors",
    "Reply": "types",
    "Usage": "types",
    "ToolCall": "types",
    "tool": "tools.registry",
    "ToolRegistry": "tools.registry",
}

__all__ = [
    "Conversation",
    "GMIClient",
    "GMIError",
    "Reply",
    "ReplyInterrupted",
    "ToolCall",
    "ToolRegistry",
    "Usage",
    "__version__",
    "batch",
    "load_ipython_extension",
    "tool",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from .chat.batch import batch
    from .chat.conversation import Conversation, ReplyInterrupted
    from .errors import GMIError
    from .tools.registry import ToolRegistry, tool
    from .types import Reply, ToolCall, Usage
    from .wire.client import GMIClient


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gmi_magics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext gmi_magics``."""
    from .magics import GMIMagics, keep_question_marks, reply_bundle, start_warm_up

    magics = GMIMagics(shell=ipython)
    formatter = ipython.display_formatter.mimebundle_formatter
    formatter.for_type_by_name("gmi_magics.types", "Reply", reply_bundle)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.remember_cell_id)
    if keep_question_marks not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(keep_question_marks)
    if magics.warm_up:
        start_warm_up(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext gmi_magics``."""
    from .magics import keep_question_marks, use_math_markup

    use_math_markup("tex")
    if keep_question_marks in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(keep_question_marks)
    magics = ipython.magics_manager.registry.pop("GMIMagics", None)
    if magics is not None:
        ipython.events.unregister("pre_run_cell", magics.remember_cell_id)
        for kind in ("line", "cell"):
            ipython.magics_manager.magics[kind].pop("gmi", None)
