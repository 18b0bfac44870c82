"""Turn a notebook value into an image the model can see (``%%gmi --image``).

Accepted: a matplotlib ``Figure`` or ``Axes``, a PIL ``Image``, an
``IPython.display.Image``, PNG/JPEG/WebP ``bytes`` (checked by magic number) and a
path (``str`` / ``Path``) to such a file.  Images are sent as PNG (a photo whose PNG
is over ``PHOTO_BYTES`` goes as JPEG), scaled so the long side is at most
``max_side`` pixels.  matplotlib and PIL are never imported to *recognise* a value
(only ``sys.modules`` is looked at); PIL is imported to scale bytes or a file, while
a figure is drawn at a dpi that fits, so it needs no scaling step.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GMIError
from .content import Part, image_kind, image_part, image_size

MAX_IMAGE_SIDE = 2048
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # a larger file or bytes value is refused
MAX_IMAGE_PIXELS = 50_000_000  # a larger image (by its header) is refused unread
PHOTO_BYTES = 512 * 1024  # an opaque image whose PNG is larger goes as JPEG
JPEG_QUALITY = 85
SENT_KINDS = ("png", "jpeg", "webp")


class ImageInputError(GMIError):
    """A value given to ``--image`` cannot be sent as an image."""

    hint = (
        "--image takes a matplotlib Figure or Axes, a PIL image, IPython.display.Image, "
        "PNG/JPEG/WebP bytes, or the path of such a file."
    )


@dataclass(frozen=True)
class EncodedImage:
    """One image ready to send: its bytes, format (png, jpeg, webp) and pixel size."""

    data: bytes
    kind: str
    size: tuple[int, int]
    label: str = ""

    def part(self) -> Part:
        return image_part(self.data, self.kind)

    def describe(self) -> str:
        """``PNG 640×480``."""
        return f"{self.kind.upper()} {self.size[0]}×{self.size[1]}"


def encode_image(value: Any, label: str, max_side: int = MAX_IMAGE_SIDE) -> EncodedImage:
    """``value`` as an image of at most ``max_side`` px on its long side (or one clear error)."""
    max_side = max(16, int(max_side))
    figure = _figure_of(value)
    if figure is not None:
        return _from_figure(figure, label, max_side)
    if _is_module_type(value, "PIL.Image", "Image"):
        return _from_pil(value, label, max_side)
    if _is_ipython_image(value):
        return _from_ipython_image(value, label, max_side)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(value), label, max_side)
    if isinstance(value, (str, os.PathLike)):
        return _from_bytes(_read_file(value, label), label, max_side)
    raise ImageInputError(f"--image {label}: a {type(value).__name__} is not an image.")


def image_source(value: Any) -> Any:
    """What ``encode_image`` would draw for a cell's value (``--context``), else ``None``.

    A figure, axes or image; for a matplotlib artist or a list of them (the value of
    ``plt.plot(...)``), the figure they are drawn on.
    """
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    figure = _figure_of(value)
    if figure is not None:
        return figure
    if _is_module_type(value, "PIL.Image", "Image") or _is_ipython_image(value):
        return value
    if _is_module_type(value, "matplotlib.artist", "Artist"):
        figure = getattr(value, "figure", None)
        return figure if _figure_of(figure) is not None else None
    return None


def _is_ipython_image(value: Any) -> bool:
    return type(value).__name__ == "Image" and type(value).__module__.startswith("IPython.")


def _is_module_type(value: Any, module: str, name: str) -> bool:
    """``isinstance(value, module.name)`` without importing ``module``."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(value, cls)


def _figure_of(value: Any) -> Any:
    """The matplotlib Figure of a Figure or an Axes, else ``None``."""
    if _is_module_type(value, "matplotlib.figure", "Figure"):
        return value
    if _is_module_type(value, "matplotlib.axes", "Axes"):
        return value.figure
    return None


def _from_figure(figure: Any, label: str, max_side: int) -> EncodedImage:
    """Render at the figure's dpi, lowered so the long side fits ``max_side``."""
    width, height = (float(x) for x in figure.get_size_inches())
    dpi = min(float(figure.dpi), max_side / max(width, height, 1e-6))
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi)
    except Exception as error:  # a broken artist: the user's figure, one line
        message = f"--image {label}: the figure could not be drawn ({error})."
        raise ImageInputError(message) from None
    return _from_bytes(buffer.getvalue(), label, max_side)


def _from_ipython_image(value: Any, label: str, max_side: int) -> EncodedImage:
    data = getattr(value, "data", None)
    if isinstance(data, (bytes, bytearray)):
        return _from_bytes(bytes(data), label, max_side)
    raise ImageInputError(
        f"--image {label}: this IPython Image holds no image bytes (a URL is never fetched)."
    )


def _read_file(path: str | os.PathLike[str], label: str) -> bytes:
    text = os.fspath(path)
    if isinstance(path, str) and ("\n" in text or len(text) > 4096):
        raise ImageInputError(f"--image {label}: a str that is not a file path is not an image.")
    file = Path(text).expanduser()
    if not file.is_file():
        raise ImageInputError(f"--image {label}: no image file at {text!r}.")
    size = file.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise ImageInputError(
            f"--image {label}: {text!r} is {size / 2**20:.0f} MB; the limit is "
            f"{MAX_IMAGE_BYTES // 2**20} MB."
        )
    return file.read_bytes()


def _from_bytes(data: bytes, label: str, max_side: int) -> EncodedImage:
    """Bytes as they are when they fit; scaled (with PIL) when they do not."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageInputError(
            f"--image {label}: {len(data) / 2**20:.0f} MB of image data; the limit is "
            f"{MAX_IMAGE_BYTES // 2**20} MB."
        )
    kind = image_kind(data)
    if kind not in SENT_KINDS:
        raise ImageInputError(f"--image {label}: not a PNG, JPEG or WebP image.")
    size = image_size(data)
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ImageInputError(
            f"--image {label}: {size[0]}×{size[1]} pixels is too large to send or scale."
        )
    if size is not None and 0 < max(size) <= max_side:
        return EncodedImage(data, kind, size, label)
    return _from_pil(_open_with_pil(data, label, size, max_side), label, max_side)


def _open_with_pil(data: bytes, label: str, size: tuple[int, int] | None, max_side: int) -> Any:
    try:
        from PIL import Image
    except ImportError:
        shown = f"{size[0]}×{size[1]}" if size else "of unknown size"
        raise ImageInputError(
            f"--image {label}: the image is {shown}; scaling it to {max_side} px needs Pillow "
            "(pip install pillow), or pass a smaller image.",
            hint="Or raise the limit: %config GMIMagics.max_image_side = 4096.",
        ) from None
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ValueError("too many pixels")
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as error:
        raise ImageInputError(f"--image {label}: the image cannot be read ({error}).") from None
    return image


def _from_pil(image: Any, label: str, max_side: int) -> EncodedImage:
    """A PIL image scaled to fit, as PNG (JPEG for a large opaque photo)."""
    from PIL import Image  # a PIL value, so PIL is already imported

    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    png = _save(image, "PNG")
    if len(png) > PHOTO_BYTES and image.mode in ("RGB", "L"):
        jpeg = _save(image, "JPEG", quality=JPEG_QUALITY)
        if len(jpeg) < len(png):
            return EncodedImage(jpeg, "jpeg", image.size, label)
    return EncodedImage(png, "png", image.size, label)


def _save(image: Any, kind: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **options)
    return buffer.getvalue()
