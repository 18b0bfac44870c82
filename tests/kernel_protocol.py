"""A real ipykernel driven over ZMQ as frontends drive it, with the bytes of every message.

``KernelSession.execute`` sends an ``execute_request`` shaped like JupyterLab's (a
``cellId`` in the metadata) or like ``jupyter console``'s / nbclassic's (none), reads
the raw iopub frames its execution caused, and returns them as an ``Execution``: what
a notebook shows at the end (updates applied), what a console prints (it ignores
updates), and how many bytes went out.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

DISPLAY_TYPES = ("display_data", "update_display_data", "execute_result", "stream", "error")


@dataclass
class Message:
    """One iopub message: its type, content and size on the wire (all frames)."""

    msg_type: str
    content: dict[str, Any]
    size: int


@dataclass
class Execution:
    """The iopub messages of one execute_request, and what frontends make of them."""

    messages: list[Message] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def of(self, *types: str) -> list[Message]:
        return [m for m in self.messages if m.msg_type in types]

    @property
    def sent(self) -> int:
        """Bytes of the display messages (display, updates, results, streams, errors)."""
        return sum(m.size for m in self.of(*DISPLAY_TYPES))

    def outputs(self) -> list[dict[str, Any]]:
        """The cell's outputs as a notebook saves them (updates applied by display id)."""
        outputs: list[dict[str, Any]] = []
        for message in self.of(*DISPLAY_TYPES):
            content = message.content
            display_id = (content.get("transient") or {}).get("display_id")
            if message.msg_type == "update_display_data":
                for output in outputs:
                    if output.get("_id") == display_id:
                        output["data"], output["metadata"] = content["data"], content["metadata"]
            elif message.msg_type == "stream":
                outputs.append({"output_type": "stream", "text": content["text"]})
            elif message.msg_type == "error":
                outputs.append({"output_type": "error", "ename": content["ename"]})
            else:
                data, metadata = content["data"], content.get("metadata", {})
                outputs.append({"_id": display_id, "data": data, "metadata": metadata})
        return outputs

    @property
    def final_size(self) -> int:
        """Bytes of the outputs a saved notebook keeps for this cell."""
        kept = [{k: v for k, v in o.items() if k != "_id"} for o in self.outputs()]
        return sum(len(json.dumps(output, ensure_ascii=False)) for output in kept)

    @property
    def html(self) -> str:
        """The HTML a notebook shows at the end, in output order."""
        return "".join(o.get("data", {}).get("text/html", "") for o in self.outputs())

    @property
    def console(self) -> str:
        """What ``jupyter console`` prints: text/plain of displays and results, streams."""
        parts = []
        for message in self.of("display_data", "execute_result", "stream"):
            if message.msg_type == "stream":
                parts.append(message.content["text"])
            elif "text/plain" in message.content["data"]:
                parts.append(message.content["data"]["text/plain"] + "\n")
        return "".join(parts)

    @property
    def repaints(self) -> int:
        return len(self.of("update_display_data"))


class KernelSession:
    """One kernel with gmi_magics loaded, talking to ``base_url``."""

    def __init__(self, base_url: str, key: str, extra_env: dict[str, str] | None = None) -> None:
        import os

        env = {**os.environ, "GMI_BASE_URL": base_url, "GMI_API_KEY": key, **(extra_env or {})}
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.execute("%load_ext gmi_magics")

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    def execute(self, code: str, *, cell_id: bool | str = True, timeout: float = 120) -> Execution:
        """Run ``code`` as JupyterLab (``cell_id=True``: a fresh uuid), VS Code (the
        cell's URI as ``cellId``, nothing else) or a console / nbclassic (``False``)."""
        metadata: dict[str, Any] = {}
        if isinstance(cell_id, str):
            metadata = {"cellId": cell_id}
        elif cell_id:
            metadata = {"deletedCells": [], "recordTiming": False, "cellId": str(uuid.uuid4())}
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": True,
            "stop_on_error": True,
        }
        message = self.client.session.msg("execute_request", content, metadata=metadata)
        started = time.perf_counter()
        self.client.shell_channel.send(message)
        execution = self._collect(message["header"]["msg_id"], timeout)
        execution.seconds = time.perf_counter() - started
        execution.reply = self.client.get_shell_msg(timeout=timeout)["content"]
        return execution

    def _collect(self, msg_id: str, timeout: float) -> Execution:
        execution = Execution()
        socket = self.client.iopub_channel.socket
        session = self.client.session
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not socket.poll(1000):
                continue
            frames = socket.recv_multipart(copy=True)
            _, parts = session.feed_identities(frames)
            message = session.deserialize(parts)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            size = sum(len(frame) for frame in frames)
            execution.messages.append(Message(message["msg_type"], message["content"], size))
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return execution
        raise TimeoutError(f"the kernel did not finish within {timeout} s")
