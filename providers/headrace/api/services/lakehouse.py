"""The deployment's lakehouse, as configured in ``[headrace]`` (one instance per settings)."""

from __future__ import annotations

from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.service import Lakehouse


def lakehouse() -> Lakehouse:
    return LakehouseHook().get_conn()
