"""What the notebook adds to a cell's message: ``{name}`` interpolation, ``--image``
values and ``--context`` cells (with their figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from .cell_host import Host
from .cell_last_error import cell_files, last_error, own_error_explanation
from .chat.images import encode_image, image_source
from .context.interpolate import interpolate_with_notes
from .context.notebook import (
    NotebookContext,
    context_block,
    error_report,
    raising_cell,
    recent_cells,
)
from .context.references import InterpolationError, evaluate
from .context.secret_check import SecretValueError
from .settings import Settings, find_api_key

__all__ = ["fill_in", "named_images", "notebook_context", "notebook_parts"]

MAX_IMAGES = 16  # images one message may carry (--image and --context together)


def notebook_parts(host: Host, args: Any, settings: Settings) -> dict[str, Any]:
    """``images`` (``--image``, and ``--context``'s figures) and the ``context`` block."""
    count = args.context if args.context is not None else host.context_cells
    if count < 0:
        raise UsageError(f"--context takes a number of cells (0 or more), not {count}.")
    labelled = named_images(args.image, host.shell.user_ns)
    block = (
        notebook_context(host.shell, count, find_api_key(settings.api_key_env)) if count else None
    )
    if block is not None:
        labelled += block.images
        for number in block.left_out:
            print(f"Cell In [{number}] was left out of the context: it shows your API key.")
    if len(labelled) > MAX_IMAGES:
        raise UsageError(f"{len(labelled)} images; one message takes at most {MAX_IMAGES}.")
    parts = [encode_image(value, label, host.max_image_side).part() for label, value in labelled]
    images = tuple({part["image_url"]["url"]: part for part in parts}.values())  # once each
    return {"images": images, "context": block.text if block is not None else ""}


def named_images(words: list[str], namespace: dict[str, Any]) -> list[tuple[str, Any]]:
    """``--image a,b --image c``: each name's value (interpolation rules) or a file path."""
    names = [name.strip() for word in words for name in word.split(",") if name.strip()]
    return [(name, _image_value(name, namespace)) for name in names]


def _image_value(name: str, namespace: dict[str, Any]) -> Any:
    try:
        return evaluate(name, namespace)
    except InterpolationError as error:
        if Path(name).expanduser().is_file():
            return name  # the literal path form: --image plots/fig1.png
        raise UsageError(
            f"--image {name}: {error.reason}, and there is no file of that name."
        ) from None


def notebook_context(shell: Any, count: int, key: str | None) -> NotebookContext:
    """``--context N``: the last N cells of IPython's history, their values and last error."""
    history = shell.history_manager
    files = cell_files(shell)
    errors: dict[int, str] = {}
    error = last_error()
    if error is not None and own_error_explanation(error) is None:
        number = raising_cell(error.__traceback__, files.get)
        if number is None and isinstance(error, SyntaxError):
            number = files.get(str(error.filename))
        if number is not None:
            errors[number] = error_report(error, files.__contains__)
    cells = recent_cells(
        history.input_hist_raw,
        history.output_hist,
        count,
        before=shell.execution_count,
        errors=errors,
    )
    return context_block(cells, image_of=image_source, secrets=[key] if key else [])


def fill_in(text: str, namespace: dict[str, Any], key: str | None = None) -> str:
    """``{name}`` interpolation, each cut or unfilled value announced in one line.

    A failing expression, or a value holding the API key, is one clear UsageError.
    """
    try:
        filled = interpolate_with_notes(text, namespace, secrets=[key] if key else [])
    except SecretValueError as error:
        raise UsageError(str(error)) from None
    except InterpolationError as error:
        raise UsageError(f"{error} (use --no-interpolate to send braces as written)") from None
    for note in filled.notes:
        print(note)
    return filled.text
