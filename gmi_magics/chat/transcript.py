"""Readable markdown transcripts of a conversation (``%gmi history``, export)."""

from __future__ import annotations

import html
import io
import secrets
from collections.abc import Sequence
from dataclasses import replace

from ..text import printable_text
from .content import (
    decode_data_url,
    image_kind,
    image_part,
    image_size,
    is_image,
    part_label,
    part_url,
    text_part,
)
from .images import MAX_IMAGE_PIXELS
from .turns import Part, Turn

THUMBNAIL_SIDE = 256
SHOWN_KINDS = ("png", "jpeg", "webp")


def turn_markdown(turn: Turn, number: int) -> str:
    """One turn as markdown: the user's message, then the reply (no control characters)."""
    model = f" · {turn.reply.model}" if turn.reply.model else ""
    marker = "\n\n*(interrupted: partial reply)*" if turn.interrupted else ""
    tools = _tool_lines(turn)
    return printable_text(
        f"#### {number}. You\n\n{turn.shown_user()}\n\n"
        f"#### {number}. Assistant{model}{tools}\n\n{turn.reply.text}{marker}"
    )


def _tool_lines(turn: Turn) -> str:
    lines = []
    for message in turn.extra:
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            name, arguments = function.get("name", ""), function.get("arguments", "")
            lines.append(f"\n\n*called `{name}({arguments})`*")
    return "".join(lines)


def transcript_markdown(turns: Sequence[Turn], *, system: str | None = None) -> str:
    """The whole conversation as markdown."""
    parts = [printable_text(f"**System prompt:** {system}")] if system else []
    parts += [turn_markdown(turn, number) for number, turn in enumerate(turns, 1)]
    return "\n\n---\n\n".join(parts) if parts else "*The conversation is empty.*"


def with_image_markers(turns: Sequence[Turn]) -> tuple[list[Turn], dict[str, str]]:
    """Copies of ``turns`` with each image replaced by a random marker, and each
    marker's ``<img>``, to put into the transcript's HTML *after* it is sanitized.

    The markers are unguessable, so text a model wrote can never become an image.
    """
    token = secrets.token_hex(8)
    thumbnails: dict[str, str] = {}
    copies = []
    for turn in turns:
        if turn.content is None:
            copies.append(turn)
            continue
        parts: list[Part] = []
        for part in turn.content:
            if is_image(part):
                marker = f"gmiimage{token}n{len(thumbnails)}x"
                thumbnails[marker] = thumbnail_html(part)
                part = text_part(marker)
            parts.append(part)
        copies.append(replace(turn, content=parts))
    return copies, thumbnails


def thumbnail_html(part: Part) -> str:
    """A small ``<img>`` whose ``data:`` URL we encode from the image's own bytes (a
    PNG, JPEG or WebP by magic number), never the stored URL; else ``[image WxH]``."""
    url = part_url(part)
    data = decode_data_url(url) if url else None
    kind = image_kind(data) if data else None
    size = image_size(data)
    if data is None or kind not in SHOWN_KINDS or size is None or min(size) <= 0:
        return html.escape(part_label(part))
    if size[0] * size[1] > MAX_IMAGE_PIXELS:  # not decoded, not shown: a stored bomb
        return html.escape(part_label(part))
    data, kind = _smaller(data, kind)
    scale = min(1.0, THUMBNAIL_SIDE / max(size))
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    src = image_part(data, kind)["image_url"]["url"]
    return (
        f'<img src="{src}" alt="image {size[0]}x{size[1]}" width="{width}" '
        f'height="{height}" class="gmi-thumbnail">'
    )


def _smaller(data: bytes, kind: str) -> tuple[bytes, str]:
    """A ``THUMBNAIL_SIDE`` PNG of the image when Pillow is there; else the image."""
    try:
        from PIL import Image
    except ImportError:
        return data, kind
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except Exception:  # an image Pillow cannot read: shown as it is
        return data, kind
    return buffer.getvalue(), "png"
