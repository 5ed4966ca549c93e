"""Spelling hints for unknown names in definitions: "(did you mean 'x'?)".

Its own module because both the definition model (step and template names) and the source reader
(unknown keys) use it, and neither should import the other for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
