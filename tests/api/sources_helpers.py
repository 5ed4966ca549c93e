"""Shared by the data-source API tests: shops in real PostgreSQL and MariaDB, registered as sources."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import BASE
from tests.shop import shop

PORTS = {"postgres": 5432, "mariadb": 3306}
USERS = {"postgres": "postgres", "mariadb": "root"}
PASSWORDS = {"postgres": "not-needed-here", "mariadb": None}


@pytest.fixture(scope="module", params=["postgres", "mariadb"])
def shop_db(request):
    with shop(request.param) as (engine, database):
        yield request.param, engine, database


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def register(client, headers, kind: str, database: str, name: str, **overrides):
    body = {
        "name": name,
        "type": "postgresql" if kind == "postgres" else "mariadb",
        "connection": {"host": "127.0.0.1", "port": PORTS[kind], "database": database, "ssl_enabled": False},
        # The local servers: PostgreSQL trusts loopback logins (any password), MariaDB's root has none.
        "credentials": {"username": USERS[kind], "password": PASSWORDS[kind]}
        if PASSWORDS[kind]
        else {"username": USERS[kind]},
        "configuration": {"timeout": 5, "read_only": True},
        "metadata": {"business_owner": "tests"},
    }
    for key, value in overrides.items():
        body[key] = value
    return client.post(f"{BASE}/data-sources", headers=headers, json=body)
