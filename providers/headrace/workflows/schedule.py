"""Schedules a definition may name, checked once and turned into the value ``DAG(schedule=...)`` takes.

Accepted forms: nothing (manual runs only), an Airflow preset (``@daily``) or its bare word
(``daily``), a five-field cron expression, an interval in words (``every 15 minutes``, ``every
hour``), or asset triggers (``{"assets": ["s3://raw/orders"]}``: run when any, or all, of them
are updated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal

from croniter import croniter

PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
_WORDS = {p.removeprefix("@"): p for p in PRESETS} | {"annually": "@yearly", "@annually": "@yearly"}
_MANUAL = ("none", "manual", "manually", "never", "on demand")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_INTERVAL = re.compile(r"^every\s+(?:(\d+)\s+)?(second|minute|hour|day|week)s?$")


class ScheduleError(ValueError):
    """A schedule no form accepts; the message lists what is accepted."""


@dataclass(frozen=True)
class Schedule:
    """A checked schedule: ``kind`` is none, preset, cron, interval or assets."""

    kind: Literal["none", "preset", "cron", "interval", "assets"]
    value: str | int | tuple[str, ...] | None = None  # preset/cron text, interval seconds, asset URIs
    match_all: bool = False  # assets: wait for every asset, not any

    def airflow_value(self) -> Any:
        """What ``DAG(schedule=...)`` takes."""
        if self.kind in ("preset", "cron"):
            return self.value
        if self.kind == "interval":
            return timedelta(seconds=int(self.value))  # type: ignore[arg-type]
        if self.kind == "assets":
            from airflow.sdk import Asset, AssetAll, AssetAny

            assets = [Asset(uri) for uri in self.value]  # type: ignore[union-attr]
            return AssetAll(*assets) if self.match_all else AssetAny(*assets)
        return None

    def python_source(self) -> str:
        """The same schedule as Python source, for rendered DAG files."""
        if self.kind == "interval":
            return f"timedelta(seconds={int(self.value)})"  # type: ignore[arg-type]
        if self.kind == "assets":
            assets = ", ".join(f"Asset({uri!r})" for uri in self.value)  # type: ignore[union-attr]
            return f"{'AssetAll' if self.match_all else 'AssetAny'}({assets})"
        return repr(self.value)

    def describe(self) -> str:
        """Back to the text form a definition (and the REST API) uses."""
        if self.kind == "interval":
            return _interval_words(int(self.value))  # type: ignore[arg-type]
        if self.kind == "assets":
            return ("all of " if self.match_all else "any of ") + ", ".join(self.value)  # type: ignore[arg-type]
        return "" if self.value is None else str(self.value)


def parse_schedule(value: Any) -> Schedule:
    """The checked form of a definition's ``schedule``; ScheduleError says what is accepted."""
    if value is None:
        return Schedule("none")
    if isinstance(value, dict):
        return _assets(value)
    if not isinstance(value, str):
        raise ScheduleError(f"schedule must be text or {{assets: [...]}}, not {type(value).__name__}")
    return _parse_text(value)


@lru_cache(maxsize=1024)
def _parse_text(value: str) -> Schedule:
    """Text schedules repeat across definitions (and each is checked twice): parse each once."""
    text = " ".join(value.strip().lower().split())
    if not text or text in _MANUAL:
        return Schedule("none")
    if text in _WORDS or text in PRESETS:
        return Schedule("preset", _WORDS.get(text, text))
    if match := _INTERVAL.match(text):
        seconds = int(match.group(1) or 1) * _UNITS[match.group(2)]
        if seconds <= 0:
            raise ScheduleError("an interval schedule must be longer than zero")
        return Schedule("interval", seconds)
    if len(value.split()) == 5:
        if not croniter.is_valid(value.strip()):
            raise ScheduleError(f"'{value}' is not a valid cron expression")
        return Schedule("cron", " ".join(value.split()))
    raise ScheduleError(
        f"'{value}' is not a schedule: use a cron expression ('0 2 * * *'), a preset "
        f"({', '.join(PRESETS)}), an interval ('every 15 minutes') or {{assets: [...]}}"
    )


def _assets(value: dict[str, Any]) -> Schedule:
    unknown = set(value) - {"assets", "match"}
    if unknown:
        raise ScheduleError(f"unknown schedule key(s) {sorted(unknown)}; use assets and match (any|all)")
    uris = value.get("assets")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) and u.strip() for u in uris):
        raise ScheduleError("schedule assets must be a non-empty list of asset URIs")
    match = value.get("match", "any")
    if match not in ("any", "all"):
        raise ScheduleError("schedule match must be 'any' or 'all'")
    return Schedule("assets", tuple(u.strip() for u in uris), match_all=match == "all")


def _interval_words(seconds: int) -> str:
    for unit, size in reversed(_UNITS.items()):
        if seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"  # pragma: no cover - seconds always divide
