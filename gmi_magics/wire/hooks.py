"""Plumbing for ``GMIClient.add_hooks``: a response hook that hands out a
``ResponseInfo`` whose ``close`` can abort the response from any thread."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

import httpx

from ..types import ResponseInfo

__all__ = ["response_hook"]


def response_hook(
    after_response: Callable[[ResponseInfo], None],
) -> Callable[[httpx.Response], None]:
    def hook(response: httpx.Response) -> None:
        after_response(
            ResponseInfo(response.status_code, response.headers, lambda: abort_response(response))
        )

    return hook


def abort_response(response: httpx.Response) -> None:
    """Shut the response's socket, so a read blocked in another thread ends now."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
