"""``%%gmi --over NAME``: the cell is a template sent once per element of NAME.

``{item}`` is the element; over a DataFrame column (``df.text`` / ``df["text"]``)
or a DataFrame, ``{row.col}`` reads the row's other columns; other ``{names}``
come from the notebook as usual.  Results go to ``-o`` (a list, or a Series with
the input's index) and to ``_gmi_batch``; nothing joins the chat history.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import ChainMap
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError

from .cell_host import Host
from .cell_options import cell_params, system_prompt
from .chat.batch import BatchSummary, Request, make_request, run_batch
from .chat.batch_run import ItemError, Limits
from .context.interpolate import find_references, interpolate_with_notes
from .context.references import InterpolationError, evaluate
from .errors import GMIError
from .settings import Settings, find_api_key
from .types import Reply

MAX_ITEM_CHARS = 200_000  # an element longer than this is cut (and said so)
MAX_NEW_COLUMNS = 64
FALLBACK_NAME = "_gmi_batch"
_BARE_KEY = re.compile(r"\[([^\]\[\'\"0-9-][^\]\[\'\"]*)\]")  # [text] → ['text']
_ONLY_CHAT = ("tools", "error", "confirm", "no_history", "max_history")


class BatchInterrupted(GMIError):
    """The batch was interrupted; finished results were kept."""

    hint = "Run the cell again to finish (with --checkpoint FILE only the missing are sent)."


def run_batch_cell(host: Host, args: Any, text: str) -> Reply:
    """Run one batch cell; results stored in ``-o``; returns the summary as a Reply."""
    _check_options(args)
    namespace = host.shell.user_ns
    source, rows = resolve_over(args.over, namespace)
    settings = host.settings()
    key = find_api_key(settings.api_key_env)
    prompts = render_prompts(text, source, rows, namespace, key)
    request = _request(args, settings)
    limits = Limits(args.max_active, args.rpm, args.tpm, args.on_error)
    if not args.dry_run:
        host.session.check_budget(settings)
    try:
        outcome = run_batch(
            prompts,
            request,
            limits,
            client=None if args.dry_run else host.session.client(settings),
            checkpoint=args.checkpoint,
            prices=settings.prices,
            dry_run=args.dry_run,
        )
    except GMIError as error:
        partial = getattr(error, "results", None)
        if partial is not None:
            _store(host, args, _aligned(partial, source), quiet=True)
        raise
    if not isinstance(outcome, tuple):
        return Reply(text=outcome.line())
    results, summary = outcome
    host.session.add_batch_spend(request.model, summary.tokens_in, summary.tokens_out, summary.done)
    aligned = _aligned(results, source)
    _store(host, args, aligned)
    if args.into_columns is not None:
        add_columns(rows, results, args.into_columns)
    if summary.stopped == "interrupted":
        raise BatchInterrupted(
            f"Interrupted: {summary.done:,} of {summary.items:,} items done, kept in "
            f"{args.out or FALLBACK_NAME}; the rest hold NotRun errors."
        )
    return Reply(text=summary.line(), metadata={"batch_summary": summary})


def _request(args: Any, settings: Settings) -> Request:
    """What every item's request shares: model (aliases resolved), system, format, params."""
    model = settings.model_id(args.model)
    system = system_prompt(args, settings)
    return make_request(
        model,
        system if system is not None else (settings.system_prompt or None),
        "json" if args.format == "json" else "text",
        None,
        False if args.no_stream else settings.stream,
        cell_params(args, settings, model),
    )


def _check_options(args: Any) -> None:
    """Options that make no sense for a batch are refused in one line."""
    if args.image or args.context:
        raise UsageError("--image and --context do not work with --over (a batch).")
    if args.format == "code":
        raise UsageError("-f code cannot be used with --over (use markdown, text or json).")
    if args.no_interpolate:
        raise UsageError("--over needs {item} filled in; drop --no-interpolate.")
    for name in _ONLY_CHAT:
        if getattr(args, name, None):
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} is for chat cells; a batch (--over) is outside the chat.")
    if args.chat != "default":
        raise UsageError("--chat is for chat cells; a batch (--over) is outside the chat.")
    if not 1 <= args.max_active <= 256:
        raise UsageError("--max-active must be from 1 to 256.")
    for name in ("rpm", "tpm"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise UsageError(f"--{name} must be a positive number per minute.")
    if args.into_columns is not None and args.format != "json":
        raise UsageError("--into-columns needs -f json (the JSON keys become the columns).")


# -- --over and the template ------------------------------------------------------


def resolve_over(expression: str, namespace: dict[str, Any]) -> tuple[Any, Any]:
    """The collection named by ``--over`` and, when it is a DataFrame's, the DataFrame.

    Names, attributes and literal subscripts only (no calls), like interpolation.
    """
    expression = expression.strip()
    try:
        value = _evaluate_over(expression, namespace)
    except InterpolationError as error:
        if expression.split(".")[0].split("[")[0] not in namespace:
            raise UsageError(f"--over: no variable named {expression!r} in the notebook.") from None
        raise UsageError(f"--over {expression}: {error.reason}.") from None
    kind = type(value)
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise UsageError(
            f"--over {expression} is a {kind.__name__}; give a list, Series or DataFrame column."
        )
    if kind.__name__ == "DataFrame":
        return value, value
    return value, _parent_frame(expression, namespace, value)


def _evaluate_over(expression: str, namespace: dict[str, Any]) -> Any:
    """``evaluate``; ``df[text]`` (the option parser ate the quotes) reads as ``df["text"]``."""
    try:
        return evaluate(expression, namespace)
    except InterpolationError as error:
        if "subscripts must be literals" not in error.reason:
            raise
        requoted = _BARE_KEY.sub(lambda m: "[" + repr(m.group(1)) + "]", expression)
        if requoted == expression:
            raise
        return evaluate(requoted, namespace)


def _parent_frame(expression: str, namespace: dict[str, Any], value: Any) -> Any:
    """For ``df.col`` / ``df["col"]``: ``df``, when it is a DataFrame holding ``value``."""
    if type(value).__name__ != "Series":
        return None
    try:
        node = ast.parse(
            _BARE_KEY.sub(lambda m: "[" + repr(m.group(1)) + "]", expression), mode="eval"
        ).body
    except SyntaxError:
        return None
    if not isinstance(node, (ast.Attribute, ast.Subscript)):
        return None
    try:
        parent: Any = _evaluate_over(ast.unparse(node.value), namespace)
    except InterpolationError:
        return None
    if type(parent).__name__ == "DataFrame" and parent.index.equals(value.index):
        return parent
    return None


def render_prompts(
    text: str, source: Any, rows: Any, namespace: dict[str, Any], key: str | None
) -> list[str | None]:
    """One filled-in prompt per element (``None`` for a missing element)."""
    roots = {ref.split(".")[0].split("[")[0] for ref in find_references(text)}
    if not roots & {"item", "row"}:
        raise UsageError(
            "The cell does not use {item} (or {row.col}), so every prompt is the same."
        )
    if "row" in roots and rows is None:
        raise UsageError("{row.col} needs --over a DataFrame column (like df.text) or a DataFrame.")
    prompts: list[str | None] = []
    notes: dict[str, int] = {}
    secrets = [key] if key else []
    for index, (item, row) in enumerate(_elements(source, rows)):
        if _missing(item):
            prompts.append(None)
            continue
        scope = ChainMap({"item": item, "row": row}, namespace)
        try:
            filled = interpolate_with_notes(text, scope, max_chars=MAX_ITEM_CHARS, secrets=secrets)
        except InterpolationError as error:
            raise UsageError(f"Element {index}: {error}") from None
        for note in filled.notes:
            notes[note.split(":")[0]] = notes.get(note.split(":")[0], 0) + 1
        prompts.append(filled.text.strip())
    for what, count in notes.items():
        sys.stdout.write(f"{what}: cut to fit in {count:,} prompt(s).\n")
    return prompts


def _elements(source: Any, rows: Any) -> Iterator[tuple[Any, Any]]:
    """(item, row) pairs: rows of a DataFrame, else the elements with their row (or None)."""
    if type(source).__name__ == "DataFrame":
        for _, row in source.iterrows():
            yield row, row
    elif rows is not None:
        for (_, row), item in zip(rows.iterrows(), source, strict=True):
            yield item, row
    else:
        for item in source:
            yield item, None


def _missing(item: Any) -> bool:
    if item is None or (isinstance(item, float) and item != item):
        return True
    return type(item).__name__ in ("NAType", "NaTType")


# -- results ----------------------------------------------------------------------


def _aligned(results: list[Any], source: Any) -> Any:
    """Results shaped like the input: a Series with its index, else a list."""
    kind = type(source).__name__
    if kind in ("Series", "DataFrame"):
        import pandas as pd

        name = getattr(source, "name", None) if kind == "Series" else None
        return pd.Series(results, index=source.index, name=name, dtype=object)
    return list(results)


def _store(host: Host, args: Any, value: Any, *, quiet: bool = False) -> None:
    namespace = host.shell.user_ns
    namespace[FALLBACK_NAME] = value
    if args.out:
        namespace[args.out] = value
    elif not quiet:
        sys.stdout.write(f"No -o given: the results are in {FALLBACK_NAME}.\n")


def add_columns(rows: Any, results: list[Any], prefix: str) -> None:
    """``--into-columns``: each JSON key becomes a column of the DataFrame iterated.

    A column the user already had is never replaced (one line says so); columns an
    earlier batch added are (``df.attrs["gmi_columns"]``), so re-running is idempotent.
    """
    if rows is None:
        raise UsageError("--into-columns needs --over a DataFrame column (like df.text).")
    keys: dict[str, None] = {}
    for value in results:
        if isinstance(value, dict):
            keys.update((k, None) for k in value if isinstance(k, str))
    ours = set(rows.attrs.get("gmi_columns", []))
    wanted = [prefix + k for k in keys][:MAX_NEW_COLUMNS]
    if len(keys) > MAX_NEW_COLUMNS:
        sys.stdout.write(f"Only the first {MAX_NEW_COLUMNS} JSON keys became columns.\n")
    kept = [c for c in wanted if c in rows.columns and c not in ours]
    for column in wanted:
        if column in kept:
            continue
        name = column[len(prefix) :]
        rows[column] = [
            v.get(name) if isinstance(v, dict) and not isinstance(v, ItemError) else None
            for v in results
        ]
    added = [c for c in wanted if c not in kept]
    rows.attrs["gmi_columns"] = sorted(ours | set(added))
    if added:
        sys.stdout.write(f"Columns added: {', '.join(added)}.\n")
    if kept:
        sys.stdout.write(
            f"Existing column(s) {', '.join(kept)} left as they were; "
            "use --into-columns PREFIX (e.g. --into-columns pred_) to add them too.\n"
        )


__all__ = ["BatchInterrupted", "BatchSummary", "add_columns", "render_prompts", "run_batch_cell"]
