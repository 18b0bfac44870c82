"""Render any Python value compactly for a model, within a size budget.

``preview(value, max_chars=...)`` never raises for any value and never returns
more than ``max(max_chars, MIN_CHARS)`` characters. ``render_preview`` returns
the same text plus ``cut``: one phrase saying what was left out ("sent a preview
(10 of 10,000 rows)", "cut to 1,950 of 120,311 characters"), empty when nothing
was. pandas and NumPy are optional: they are recognised through ``sys.modules``
and never imported here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from gmi_magics.context.clipping import Cuts, clip_counted, safe_repr
from gmi_magics.context.preview_containers import BRACKETS, container_preview
from gmi_magics.context.preview_tables import dataframe_preview, ndarray_preview, series_preview

__all__ = ["MIN_CHARS", "Preview", "preview", "render_preview"]

MIN_CHARS = 48
"""Smallest budget always honoured; below it the truncation marker may exceed it."""


@dataclass(frozen=True)
class Preview:
    """A rendered value and what was left out of it ("" when nothing was)."""

    text: str
    cut: str = ""


def preview(value: object, *, max_chars: int = 2000) -> str:
    """Render ``value`` compactly in at most ``max(max_chars, MIN_CHARS)`` chars."""
    return render_preview(value, max_chars=max_chars).text


def render_preview(value: object, *, max_chars: int = 2000) -> Preview:
    """``preview`` plus a phrase saying what was left out to fit the budget."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, not {max_chars}")
    cuts = Cuts()
    try:
        text = _render(value, max_chars, cuts)
    except Exception:  # a hostile __len__/__iter__/dtype: fall back to repr
        cuts = Cuts()
        text = safe_repr(value)
    clipped, kept = clip_counted(text, max_chars)
    if kept < len(text):
        cuts.phrases.append(f"cut to {kept:,} of {len(text):,} characters")
    return Preview(clipped, cuts.summary())


def _render(value: object, max_chars: int, cuts: Cuts) -> str:
    """Dispatch on the value's type."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return dataframe_preview(value, max_chars, cuts)
    if pd is not None and isinstance(value, pd.Series):
        return series_preview(value, max_chars, cuts)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return ndarray_preview(value, np, cuts)
    if np is not None and isinstance(value, np.generic):
        return str(value)  # np.int64(2) → "2"
    if isinstance(value, str):
        return value
    if type(value) in BRACKETS:
        return container_preview(value, max_chars, set(), cuts, top=True)
    return safe_repr(value)
