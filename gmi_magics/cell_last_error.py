"""The last failed cell: its exception, and the report ``--error`` / ``%gmi explain`` send."""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.error import UsageError

from .context.explain import exception_report
from .errors import GMIError

__all__ = ["cell_files", "last_error", "last_error_report", "own_error_explanation"]


def last_error() -> BaseException | None:
    """The exception of the last failed cell, if any."""
    error = getattr(sys, "last_value", None) or getattr(sys, "last_exc", None)
    return error if isinstance(error, BaseException) else None


def own_error_explanation(error: BaseException) -> str | None:
    """For a failure of %gmi itself (not the user's code): what happened and what to do."""
    if not isinstance(error, (UsageError, GMIError)):
        return None
    message = error.message if isinstance(error, GMIError) else str(error)
    hint = getattr(error, "hint", "") or "See %%gmi? for the options."
    return (
        f"The last error came from %gmi itself, not from your code, so there is nothing to "
        f"send: {type(error).__name__}: {message}\nWhat to do: {hint}"
    )


def last_error_report(shell: Any) -> str:
    """The prompt for ``--error`` / ``%gmi explain`` from the last exception."""
    error = last_error()
    if error is None:
        raise UsageError("No error to explain yet: run the failing cell first.")
    explanation = own_error_explanation(error)
    if explanation is not None:
        raise UsageError(explanation.replace("\n", " "))
    return exception_report(error, cell_files(shell).__contains__)


def cell_files(shell: Any) -> dict[str, int]:
    """The file names IPython compiled cells under, to their execution counts."""
    files = getattr(getattr(shell, "compile", None), "_filename_map", None)
    return files if isinstance(files, dict) else {}
