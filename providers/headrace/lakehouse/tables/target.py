"""The table a job writes and how: what the committers read of a job's target.

The ingestion spec's ``Target`` model (validated, in the REST contract's terms) is one such target;
the table layer only needs these attributes, so it does not depend on the layer that validates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class TargetPartition(Protocol):
    """One partition field of a table the job creates (``transform``: identity, day, bucket, ...)."""

    @property
    def column(self) -> str: ...

    @property
    def transform(self) -> str: ...

    @property
    def param(self) -> int | None: ...


class TableTarget(Protocol):
    """The target table, the write mode and the rules a job writes under."""

    @property
    def catalog(self) -> str: ...

    @property
    def schema_name(self) -> str: ...

    @property
    def table(self) -> str: ...

    @property
    def write_mode(self) -> str: ...  # append, overwrite or merge (upsert on merge_keys)

    @property
    def merge_keys(self) -> list[str]: ...

    @property
    def create_if_missing(self) -> bool: ...

    @property
    def schema_evolution(self) -> bool: ...  # new columns may be added

    @property
    def partition_by(self) -> Sequence[TargetPartition]: ...

    @property
    def full_name(self) -> str: ...  # catalog.schema.table
