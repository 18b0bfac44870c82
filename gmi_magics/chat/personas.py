"""Personas: named system prompts a class can't misspell (``--persona tutor``)."""

from __future__ import annotations

from collections.abc import Mapping

BUILT_IN_PERSONAS = {
    "tutor": (
        "You are a Socratic tutor: guide the student with questions and hints, one step at "
        "a time, and never give the full solution."
    ),
    "reviewer": (
        "You are a careful code reviewer: point out bugs, unclear names and missing tests, "
        "most important first, each with a concrete fix."
    ),
    "pandas": (
        "You are a pandas and SQL helper: answer with short, idiomatic, runnable code and "
        "one sentence on why it works."
    ),
    "newcomer": (
        "Explain like I'm new to this: plain words, a small example, no jargon without a "
        "one-line definition."
    ),
}


def all_personas(configured: Mapping[str, str]) -> dict[str, str]:
    """Built-ins, overridden and extended by ``GMIMagics.personas``."""
    return {**BUILT_IN_PERSONAS, **configured}


def persona_prompt(name: str, configured: Mapping[str, str]) -> str:
    """The system prompt of persona ``name``; a KeyError names the known ones."""
    personas = all_personas(configured)
    if name not in personas:
        known = ", ".join(sorted(personas))
        raise KeyError(f"No persona {name!r}; known: {known} (add one with %gmi persona NAME ...)")
    return personas[name]
