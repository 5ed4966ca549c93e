"""The systems Headrace knows how to talk to: connection type, SQL dialect, defaults and the words
people use for them (for recognising a system from a sentence)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class System:
    """One kind of system, as an Airflow connection type."""

    conn_type: str
    label: str  # what the API answers as "type", e.g. "postgresql"
    words: tuple[str, ...]  # lower-case words or phrases that name it
    port: int | None = None
    dialect: str | None = None  # sqlglot dialect; None: not SQL
    defaults: dict[str, object] = field(default_factory=dict)  # configuration a careful engineer fills
    needs_database: bool = False


SYSTEMS: tuple[System, ...] = (
    System(
        "postgres",
        "postgresql",
        ("postgresql", "postgres", "psql", "pg", "timescale", "timescaledb"),
        5432,
        "postgres",
        {"schema": "public"},
        needs_database=True,
    ),
    System(
        "mysql",
        "mysql",
        ("mysql", "mariadb", "maria db", "aurora mysql", "percona"),
        3306,
        "mysql",
        needs_database=True,
    ),
    System("sqlite", "sqlite", ("sqlite", "sqlite3"), None, "sqlite", needs_database=True),
    System("redis", "redis", ("redis", "valkey"), 6379),
    System("aws", "s3", ("s3", "minio", "amazon s3", "aws", "object storage", "bucket"), None),
    System("http", "http", ("http", "https", "rest api", "rest", "api", "webhook"), None),
    System("smtp", "smtp", ("smtp", "mail server", "email"), 587),
    System("spark", "spark", ("spark",), 7077),
)
_BY_TYPE = {s.conn_type: s for s in SYSTEMS}
_BY_LABEL = {s.label: s for s in SYSTEMS}

# Hosts where TLS is not to be required by default: the machine itself.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def by_conn_type(conn_type: str) -> System | None:
    return _BY_TYPE.get(conn_type)


def by_name(name: str) -> System | None:
    """A system from an API ``type`` (``postgresql``, ``postgres``, ``mariadb``, ``mysql`` ...)."""
    word = name.strip().lower()
    if word in _BY_LABEL:
        return _BY_LABEL[word]
    if word in _BY_TYPE:
        return _BY_TYPE[word]
    return next((s for s in SYSTEMS if word in s.words), None)


def dialect_of(conn_type: str) -> str | None:
    system = _BY_TYPE.get(conn_type)
    return system.dialect if system else None
