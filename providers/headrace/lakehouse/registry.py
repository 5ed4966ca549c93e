"""The catalog registry: name, type, description, properties and timestamps of every catalog.

Kept in the catalog database (``[headrace] catalog_uri``) beside pyiceberg's SQL-catalog tables, so a
deployment's catalogs and their Iceberg metadata live and move together.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, DateTime, Engine, MetaData, String, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from headrace.lakehouse.errors import CatalogAlreadyExists, NoSuchCatalog
from headrace.lakehouse.models import CatalogInfo, CatalogType


class _Base(DeclarativeBase):
    metadata = MetaData()


class CatalogRow(_Base):
    __tablename__ = "headrace_catalogs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    properties: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    location: Mapped[str] = mapped_column(String(1024), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    def info(self) -> CatalogInfo:
        return CatalogInfo(
            name=self.name,
            type=CatalogType(self.type),
            description=self.description,
            properties=dict(self.properties),
            location=self.location,
            created_at=_utc(self.created_at),
            updated_at=_utc(self.updated_at),
        )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the offset


@functools.lru_cache(maxsize=8)
def catalog_engine(uri: str) -> Engine:
    """One engine per catalog database, with the registry table created on first use."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(uri, pool_pre_ping=True)
    _Base.metadata.create_all(engine)
    return engine


class CatalogRegistry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list(self) -> list[CatalogInfo]:
        with Session(self._engine) as session:
            return [row.info() for row in session.scalars(select(CatalogRow).order_by(CatalogRow.name))]

    def locations(self) -> list[str]:
        """Every catalog's location as stored (each catalog keeps the one it was created with)."""
        with Session(self._engine) as session:
            return list(session.scalars(select(CatalogRow.location).order_by(CatalogRow.name)))

    def get(self, name: str) -> CatalogInfo:
        with Session(self._engine) as session:
            row = session.get(CatalogRow, name)
            if row is None:
                raise NoSuchCatalog(f"Catalog '{name}' not found", field="name")
            return row.info()

    def add(
        self, *, name: str, type: CatalogType, description: str, properties: dict[str, str], location: str
    ) -> CatalogInfo:
        now = datetime.now(UTC)
        row = CatalogRow(
            name=name,
            type=type.value,
            description=description,
            properties=properties,
            location=location,
            created_at=now,
            updated_at=now,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except IntegrityError as exc:
            raise CatalogAlreadyExists(f"Catalog '{name}' already exists", field="name") from exc
        return self.get(name)

    def update(
        self, name: str, *, description: str | None = None, properties: dict[str, str | None] | None = None
    ) -> CatalogInfo:
        with Session(self._engine) as session, session.begin():
            row = session.get(CatalogRow, name)
            if row is None:
                raise NoSuchCatalog(f"Catalog '{name}' not found", field="name")
            if description is not None:
                row.description = description
            if properties is not None:  # merged; a null value removes that property
                merged = {**row.properties, **properties}
                row.properties = {key: value for key, value in merged.items() if value is not None}
            row.updated_at = datetime.now(UTC)
        return self.get(name)

    def remove(self, name: str) -> None:
        with Session(self._engine) as session, session.begin():
            row = session.get(CatalogRow, name)
            if row is None:
                raise NoSuchCatalog(f"Catalog '{name}' not found", field="name")
            session.delete(row)
