"""Names of catalogs, schemas and tables: checked before they reach a path, a URL or SQL."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
_NAME = re.compile(NAME_PATTERN)
MAX_NAME_LENGTH = 64


class InvalidName(ValueError):
    """A bad name; ``field`` is the request field at fault (``name``, ``schema``, ``table``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def validate_name(value: str, field: str) -> str:
    """Letters, digits, ``_`` and ``-``, 1 to 64 characters (the lakehouse-api catalog rule)."""
    if not isinstance(value, str) or not value:
        raise InvalidName(field, f"{field} is required")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidName(field, f"{field} must be at most {MAX_NAME_LENGTH} characters")
    if not _NAME.match(value):
        raise InvalidName(field, f"{field} may contain only letters, digits, underscore and hyphen")
    return value
