"""API-key scopes: what a key may do on top of what its owner may do.

A security concept, re-exported by :mod:`headrace.api.security`; it lives in a module of its own
(no Flask, no Airflow) so that request models can name it without importing the security layer.
Services store scopes as the plain strings these values are.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """What a key may do, on top of what its creator may do."""

    READ = "read"
    WRITE = "write"
    EXECUTOR = "executor"
    EVENTS = "events"  # sidecars and apps that send monitoring events
    ADMIN = "admin"


# A scope grants itself and the scopes listed here.
_IMPLIED = {
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.EXECUTOR, Scope.EVENTS},
    Scope.WRITE: {Scope.READ},
    Scope.EXECUTOR: set(),
    Scope.EVENTS: set(),
    Scope.READ: set(),
}


def grants(scopes: Iterable[str], required: Scope) -> bool:
    """Whether a key holding ``scopes`` may do what ``required`` allows."""
    held = {Scope(s) for s in scopes}
    return any(required is s or required in _IMPLIED[s] for s in held)
