"""Request parameters as people type them: ``-p top_p=0.9 -p thinking.type=enabled``.

VALUE is JSON when it parses (numbers, booleans, lists, objects keep their types),
else the plain string; a dotted KEY builds nested objects.  Defaults from
``%config GMIMagics.params`` merge under the cell's: cell > per model > all models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

ALL_MODELS = "*"
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)*")
MAX_VALUE_CHARS = 100_000

# How a hybrid model family switches its thinking on/off (see README "Thinking switch").
THINK_SWITCHES: tuple[tuple[str, str, Any, Any], ...] = (
    # (model id pattern, parameter path, value for --think, value for --no-think)
    (r"deepseek-ai/deepseek-v3\.[12]", "chat_template_kwargs.thinking", True, False),
    (r"qwen/qwen3-(?!.*(instruct|thinking))", "chat_template_kwargs.enable_thinking", True, False),
    (r"zai-org/glm-4\.[5-9]", "chat_template_kwargs.enable_thinking", True, False),
    (r"minimaxai/minimax-m", "thinking.type", "enabled", "disabled"),
)


class ParamError(ValueError):
    """A ``KEY=VALUE`` that cannot be read; the message is one line for the user."""


def parse_pair(text: str) -> tuple[list[str], Any]:
    """``"a.b=1"`` → ``(["a", "b"], 1)``."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.fullmatch(key):
        raise ParamError(
            f"-p {text[:60]!r}: write KEY=VALUE, e.g. -p top_p=0.9 or -p thinking.type=enabled"
        )
    if len(raw) > MAX_VALUE_CHARS:
        raise ParamError(f"-p {key}: the value is longer than {MAX_VALUE_CHARS:,} characters")
    return key.split("."), _value(raw)


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def params_from_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """Every ``-p`` of a cell as one nested dict (later pairs win)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        path, value = parse_pair(pair)
        params = deep_merge(params, nested(path, value))
    return params


def nested(path: list[str], value: Any) -> dict[str, Any]:
    """``(["a", "b"], 1)`` → ``{"a": {"b": 1}}``."""
    result: Any = value
    for key in reversed(path):
        result = {key: result}
    return dict(result)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``; objects on both sides merge key by key."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def configured_params(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """``%config GMIMagics.params`` for ``model``: ``"*"`` first, then the model's own."""
    check_configured(config)
    return deep_merge(config.get(ALL_MODELS) or {}, config.get(model) or {})


def check_configured(config: Mapping[str, Any]) -> None:
    """``GMIMagics.params`` maps ``"*"`` or a model id to a dict of parameters."""
    for key, value in config.items():
        if not isinstance(key, str) or not isinstance(value, Mapping):
            raise ParamError(
                'GMIMagics.params maps a model id (or "*" for every model) to its '
                'parameters, e.g. {"*": {"top_p": 0.9}, "Qwen/Qwen3-32B": {"seed": 7}}'
            )


def think_params(model: str, on: bool) -> dict[str, Any]:
    """The parameter that switches ``model``'s thinking on or off."""
    for pattern, path, enable, disable in THINK_SWITCHES:
        if re.match(pattern, model, flags=re.IGNORECASE):
            return nested(path.split("."), enable if on else disable)
    flag = "--think" if on else "--no-think"
    raise ParamError(
        f"{flag}: no known thinking switch for {model!r}; send the model's own parameter "
        "with -p, e.g. -p chat_template_kwargs.enable_thinking=false"
    )
