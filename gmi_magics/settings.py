"""Every default, and the precedence that turns them into effective settings.

Cell option > ``%config GMIMagics.x`` > environment > the defaults below.  The
traits of ``GMIMagics``, ``Settings`` and ``GMIClient`` all read their defaults
from here.  The key itself is never a setting: only the *name* of its variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_BASE_URL = "https://api.gmi-serving.com/v1"
DEFAULT_MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
DEFAULT_CHAT = "default"
DEFAULT_KEY_ENV = "GMI_API_KEY"
KEY_ENV_VARS = (DEFAULT_KEY_ENV, "GMI_CLOUD_APIKEY")
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_TOOL_ROUNDS = 8
DEFAULT_CACHE_DIR = ".gmi_cache"
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024  # reply text + reasoning + tool arguments
ENV_NAMES = {"model": "GMI_MODEL", "base_url": "GMI_BASE_URL"}


@dataclass(frozen=True)
class Settings:
    """Effective settings for one request, with where each came from."""

    model: str = DEFAULT_MODEL
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = DEFAULT_KEY_ENV
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    stream: bool = True
    rerun: str = "replace"
    max_context_tokens: int | None = None
    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    confirm_tools: bool = False
    token_budget: int | None = None
    prices: Mapping[str, Any] = field(default_factory=dict)
    cache: str = "off"
    cache_dir: str = DEFAULT_CACHE_DIR
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)


SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "sources")


def resolve_settings(configured: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Apply precedence %config > environment > default (cell options come later).

    ``configured`` holds only the traits the user changed from their defaults.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in SETTING_NAMES:
        env_value = env.get(ENV_NAMES.get(name, ""), "").strip()
        if name in configured:
            values[name], sources[name] = configured[name], "config"
        elif env_value:
            values[name], sources[name] = env_value, "env"
        else:
            sources[name] = "default"
    return Settings(**values, sources=sources)


def find_api_key(env_var: str = DEFAULT_KEY_ENV) -> str | None:
    """The key from ``env_var``, falling back to the other accepted names."""
    for name in (env_var, *KEY_ENV_VARS):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def key_source(env_var: str) -> str:
    """The name of the variable the key is actually read from."""
    for name in (env_var, *KEY_ENV_VARS):
        if os.environ.get(name, "").strip():
            return name
    return env_var


def mask_key(key: str | None) -> str:
    """A key shown safely: ``sk-…a1b2`` (never more than 4 trailing characters)."""
    if not key:
        return "not set"
    if len(key) < 20:  # too short to show any of it safely
        return "…" + key[-2:] if len(key) >= 12 else "****"
    return f"{key[:3]}…{key[-4:]}"
