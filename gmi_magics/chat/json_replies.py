"""Replies asked for as JSON (``-f json`` cells and ``batch(format="json")``): the
instruction sent with the prompt, and the JSON text of a reply."""

from __future__ import annotations

import re

__all__ = ["JSON_INSTRUCTION", "json_instruction", "json_text"]

JSON_INSTRUCTION = "\n\nAnswer with a single JSON object only."  # sent, never in history
_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n?```", flags=re.DOTALL)


def json_instruction(prompt: str) -> str:
    """What is appended to a prompt that asks for JSON: nothing if it says so itself."""
    return "" if "json" in prompt.lower() else JSON_INSTRUCTION


def json_text(reply_text: str) -> str:
    """The JSON in a reply's text, code fences around it tolerated."""
    text = reply_text.strip()
    fenced = _FENCED.fullmatch(text)
    return fenced.group(1) if fenced else text
