"""The content model of a user message: OpenAI content parts (text and images).

A user message is either a string or a list of parts::

    [{"type": "text", "text": "Why is this flat?"},
     {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}]

Images are only ever base64 ``data:image/...`` URLs we made from the user's
values; nothing here fetches or shows a URL.  Image token estimate (documented
rule, OpenAI's "high detail" one): fit the image in 2048×2048, shrink it so its
short side is at most 768 px, then ``85 + 170`` tokens per 512-px tile; an image
whose size cannot be read counts as ``UNKNOWN_IMAGE_TOKENS`` (a 1024×1024 image).
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
import struct
from collections.abc import Sequence
from typing import Any, cast

from ..errors import APIStatusError, GMIError

Part = dict[str, Any]  # {"type": "text", ...} or {"type": "image_url", ...}
DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/]*={0,2})\Z")
IMAGE_BASE_TOKENS, IMAGE_TILE_TOKENS, IMAGE_TILE = 85, 170, 512
UNKNOWN_IMAGE_TOKENS = IMAGE_BASE_TOKENS + 4 * IMAGE_TILE_TOKENS
_REFUSAL = re.compile(
    r"image|vision|multi-?modal|modalit|unknown variant|content.?type|expected .?text", re.I
)


class ImagesNotAcceptedError(GMIError):
    """The model answered a request with images by refusing them (HTTP 400/422/413)."""

    hint = (
        "Pick a model that takes images: %gmi models marks them with [images]; "
        "then %%gmi -m MODEL --image …"
    )


# -- parts ----------------------------------------------------------------------------


def text_part(text: str) -> Part:
    return {"type": "text", "text": text}


def image_part(data: bytes, kind: str) -> Part:
    """An ``image_url`` part holding ``data`` (``kind``: png, jpeg, gif or webp)."""
    url = f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def images_in(content: Any) -> list[Part]:
    """The image parts of a message's content (none for a string)."""
    if not isinstance(content, list):
        return []
    return [part for part in content if is_image(part)]


def part_url(part: Part) -> str | None:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    return url if isinstance(url, str) else None


def compose(text: str, images: Sequence[Part], context: str = "") -> list[Part]:
    """The parts of one user message: the context block and text first, then images."""
    joined = f"{context}\n\n{text}" if context else text
    return [text_part(joined), *images]


def split_sent(content: Sequence[Part], user: str) -> tuple[str, list[Part]]:
    """(context block, images) of a turn's parts, so ``%gmi retry`` sends them again."""
    texts = [str(p.get("text", "")) for p in content if p.get("type") == "text"]
    first = texts[0] if texts else ""
    context = first[: -len(user)].rstrip("\n") if user and first.endswith(user) else ""
    return context, [dict(part) for part in content if is_image(part)]


# -- data URLs and image sizes --------------------------------------------------------


def decode_data_url(url: str) -> bytes | None:
    """The bytes of a ``data:image/...;base64,`` URL; ``None`` for anything else."""
    match = DATA_URL.match(url)
    if match is None:
        return None
    try:
        return base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return None


def image_kind(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``gif`` or ``webp`` by magic number; ``None`` otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_size(data: bytes | None) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, JPEG or WebP image; ``None`` when unknown."""
    if not data:
        return None
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return cast(tuple[int, int], struct.unpack(">II", data[16:24]))
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return cast(tuple[int, int], struct.unpack("<HH", data[6:10]))
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 <= len(data) and data[index] == 0xFF:
        marker, length = data[index + 1], int.from_bytes(data[index + 2 : index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


@functools.lru_cache(maxsize=256)
def url_image_size(url: str) -> tuple[int, int] | None:
    """The size of the image in a data URL (cached: history sends the same URLs again)."""
    return image_size(decode_data_url(url))


# -- token estimate -------------------------------------------------------------------


def image_tokens(size: tuple[int, int] | None) -> int:
    """Estimated prompt tokens of one image of ``size`` (see the module docstring)."""
    if size is None or min(size) <= 0:
        return UNKNOWN_IMAGE_TOKENS
    width, height = float(size[0]), float(size[1])
    fit = min(1.0, 2048 / max(width, height))
    width, height = width * fit, height * fit
    short = min(1.0, 768 / min(width, height))
    width, height = width * short, height * short
    tiles = math.ceil(width / IMAGE_TILE) * math.ceil(height / IMAGE_TILE)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles


def content_cost(content: Any) -> tuple[int, int]:
    """(text characters, image tokens) of a message's content, string or parts."""
    if isinstance(content, str):
        return len(content), 0
    chars = tokens = 0
    for part in content if isinstance(content, list) else ():
        if is_image(part):
            url = part_url(part)
            tokens += image_tokens(url_image_size(url) if url else None)
        elif isinstance(part, dict):
            chars += len(str(part.get("text") or ""))
    return chars, tokens


# -- showing parts ---------------------------------------------------------------------


def elided_url(url: str) -> str:
    """``data:image/png;base64,… 48 KB``: a data URL without its base64."""
    head, _, data = url.partition(",")
    size = len(data) * 3 // 4
    shown = f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"
    return f"{head[:40]},… {shown}"


def elide_images(value: Any) -> Any:
    """A copy of ``value`` (messages, parts, …) with every image URL elided."""
    if isinstance(value, list):
        return [elide_images(item) for item in value]
    if not isinstance(value, dict):
        return value
    if is_image(value) and part_url(value) is not None:
        inner = {**value["image_url"], "url": elided_url(str(part_url(value)))}
        return {**value, "image_url": inner}
    return {key: elide_images(item) for key, item in value.items()}


def part_label(part: Part) -> str:
    """``[image WxH]`` (or ``[image]``) for an image part: never its URL."""
    url = part_url(part)
    size = url_image_size(url) if url else None
    return f"[image {size[0]}x{size[1]}]" if size else "[image]"


# -- refusals ---------------------------------------------------------------------------


def images_refused(error: GMIError, model: str) -> GMIError:
    """The clear error for a model that refused images; ``error`` when it was something else."""
    if not isinstance(error, APIStatusError):
        return error
    if error.status_code == 413:
        return ImagesNotAcceptedError(
            f"The request with images is too large for {model} (HTTP 413).",
            hint="Send fewer or smaller images (%config GMIMagics.max_image_side = 1024).",
        )
    if error.status_code not in (400, 422) or not _REFUSAL.search(error.message):
        return error
    return ImagesNotAcceptedError(
        f"{model} does not take images (HTTP {error.status_code}); nothing was added "
        "to the conversation."
    )


# -- what /models says -------------------------------------------------------------------


def accepts_images(entry: Any) -> bool:
    """Whether a ``/models`` entry says the model takes image input.

    Read fields: ``input_modalities``, ``modalities`` (a list, or ``{"input": [...]}``),
    ``architecture.input_modalities`` (OpenRouter), ``capabilities.vision`` and
    ``supports_vision``.  Absent or unreadable fields mean "not known to".
    """
    if not isinstance(entry, dict):
        return False
    architecture = entry.get("architecture")
    capabilities = entry.get("capabilities")
    modalities = entry.get("modalities")
    lists = [
        entry.get("input_modalities"),
        modalities.get("input") if isinstance(modalities, dict) else modalities,
        architecture.get("input_modalities") if isinstance(architecture, dict) else None,
    ]
    if any(isinstance(items, list) and "image" in items[:32] for items in lists):
        return True
    vision = capabilities.get("vision") if isinstance(capabilities, dict) else None
    return vision is True or entry.get("supports_vision") is True
