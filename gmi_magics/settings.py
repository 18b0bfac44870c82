"""Every default, and the precedence that turns them into effective settings.

Cell option > ``%config GMIMagics.x`` > environment > the defaults below.  The
traits of ``GMIMagics``, ``Settings`` and ``GMIClient`` all read their defaults
from here.  The key itself is never a setting: only the *name* of its variable.
"""

from __future__ import annotations

import os
import re
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
GMI_CLOUD_DOMAINS = ("gmi-serving.com", "gmicloud.ai")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


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
    params: Mapping[str, Any] = field(default_factory=dict)  # {"*" or model: {param: value}}
    aliases: Mapping[str, str] = field(default_factory=dict)  # {short name: model id}
    personas: Mapping[str, str] = field(default_factory=dict)  # {name: system prompt}
    cache: str = "off"
    cache_dir: str = DEFAULT_CACHE_DIR
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def model_id(self, name: str | None = None) -> str:
        """The served model id for ``name`` (an alias or an id; default: ``model``)."""
        name = name or self.model
        return str(self.aliases.get(name, name))


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
    check_key_env(values.get("api_key_env", DEFAULT_KEY_ENV))
    return Settings(**values, sources=sources)


def check_key_env(name: Any) -> str:
    """``name`` if it can be an environment variable's name; never echoes it otherwise.

    People paste the key itself here; the error must not show it.
    """
    if isinstance(name, str) and _ENV_NAME.fullmatch(name):
        return name
    from .errors import ConfigurationError

    raise ConfigurationError(
        "GMIMagics.api_key_env must be the NAME of an environment variable "
        "(like GMI_API_KEY), not the key itself; its value is not shown.",
        hint="%config GMIMagics.api_key_env = 'GMI_API_KEY', and put the key in that variable.",
    )


def is_gmi_cloud(base_url: str) -> bool:
    """True when ``base_url`` points at GMI Cloud (which always needs a key)."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", base_url.strip().lower()).split("/")[0]
    host = host.rsplit("@", 1)[-1].split(":")[0].rstrip(".")
    return any(host == d or host.endswith("." + d) for d in GMI_CLOUD_DOMAINS)


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
    """A key shown safely: ``<hidden, 44 chars>``, no character of it.

    Showing even a few characters lets them complete a fragment shown elsewhere
    (a server's clipped error echo), so every view of the key uses this.
    """
    if not key:
        return "not set"
    return f"<hidden, {len(key)} chars>"
