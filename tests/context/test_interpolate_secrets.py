"""A value holding the API key is refused before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gmi_magics.context.interpolate import interpolate, interpolate_with_notes
from gmi_magics.context.references import InterpolationError
from gmi_magics.context.value_scan import holds_text

KEY = "gmi-SECRETKEY-0123456789abcdef0123456789"


@dataclass
class Config:
    url: str
    api_key: str


class Opaque:
    """Hides its attributes from repr."""

    def __init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {KEY}"}

    def __repr__(self) -> str:
        return "<Opaque>"


class LoudRepr:
    def __repr__(self) -> str:
        return f"LoudRepr(key={KEY!r})"


def _frame_with_key_deep() -> pd.DataFrame:
    tokens = ["-"] * 5000
    tokens[4321] = KEY
    return pd.DataFrame({"n": range(5000), "token": tokens})


HOLDERS: dict[str, object] = {
    "token": KEY,
    "line": f"Authorization: Bearer {KEY}\n",
    "items": ["a", KEY],
    "nested": {"outer": [{"inner": (1, {KEY})}]},
    "keyed": {KEY: 1},
    "raw": KEY.encode(),
    "cfg": Config("https://x", KEY),
    "opaque": Opaque(),
    "loud": LoudRepr(),
    "ns": SimpleNamespace(deep=SimpleNamespace(key=KEY)),
    "df": pd.DataFrame({"user": ["ada"], "key": [KEY]}),
    "deep_df": _frame_with_key_deep(),
    "header_df": pd.DataFrame({KEY: [1]}),
    "series": pd.Series(["x", KEY]),
    "arr": np.array(["x", KEY]),
    "long": "x" * 1990 + KEY,  # the preview would keep only a prefix of the key
}


@pytest.mark.parametrize("name", sorted(HOLDERS))
def test_a_value_holding_the_key_is_refused(name: str) -> None:
    text = f"Please look at {{{name}}} now"
    with pytest.raises(InterpolationError) as info:
        interpolate_with_notes(text, HOLDERS, secrets=[KEY])
    message = str(info.value)
    assert message == f"{{{name}}} holds your API key; it was not sent"
    assert KEY not in message and KEY[:12] not in "".join(info.value._render_traceback_())


@pytest.mark.parametrize(
    "text", ["{cfg.api_key}", "{ns.deep.key}", "{items[1]}", "{nested['outer']}", "{df.key}"]
)
def test_references_reaching_the_key_are_refused(text: str) -> None:
    with pytest.raises(InterpolationError, match="holds your API key"):
        interpolate(text, HOLDERS, secrets=(KEY,))


def test_a_preview_showing_part_of_the_key_is_refused() -> None:
    with pytest.raises(InterpolationError, match="holds your API key"):
        interpolate("{long}", HOLDERS, secrets=[KEY], max_chars=2000)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        ({"cfg": Config("https://x", "other-key-123456789")}, "{cfg}"),
        ({"s": "gmi-SECRET"}, "{s}"),  # a short prefix of the key is not the key
        ({"df": pd.DataFrame({"a": range(100_000)})}, "{df}"),
    ],
)
def test_values_without_the_key_are_sent(ns: dict[str, object], text: str) -> None:
    assert interpolate(text, ns, secrets=[KEY]) == interpolate(text, ns)


def test_the_key_in_code_or_escaped_braces_is_not_looked_at() -> None:
    text = "`{token}` and {{token}}\n```\n{token}\n```"
    result = interpolate_with_notes(text, HOLDERS, secrets=[KEY])
    assert result.text == "`{token}` and {token}\n```\n{token}\n```"


@pytest.mark.parametrize("secrets", [(), [""], ["short"]])
def test_empty_or_short_secrets_are_ignored(secrets: list[str]) -> None:
    assert interpolate("{v}", {"v": "short"}, secrets=secrets) == "short"


def test_without_secrets_behaviour_is_unchanged() -> None:
    assert interpolate("{token}", HOLDERS) == KEY


def test_an_error_message_holding_the_key_is_not_shown() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate("{d['nope']}", {"d": BadKey()}, secrets=[KEY])
    assert KEY not in str(info.value)
    assert str(info.value).startswith("Could not fill in {d['nope']}: ")


class BadKey:
    def __getitem__(self, key: object) -> object:
        raise KeyError(f"no {key!r} among {KEY}")


@pytest.mark.parametrize(
    ("value", "found"),
    [
        (KEY, True),
        ([[[[[[KEY]]]]]], True),
        ("nothing", False),
        (list(range(10)), False),
        (np.arange(5), False),
        (object(), False),
    ],
)
def test_holds_text(value: object, found: bool) -> None:
    assert holds_text(value, [KEY]) is found


def test_holds_text_survives_cycles_and_hostile_objects() -> None:
    loop: list[object] = []
    loop.append(loop)

    class Hostile:
        @property
        def __dict__(self) -> dict[str, object]:  # type: ignore[override]
            raise RuntimeError("no")

    assert holds_text([loop, Hostile()], [KEY]) is False
