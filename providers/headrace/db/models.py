"""SQLAlchemy models of Headrace's own tables.

They live in the Airflow metadata database beside Airflow's tables, under their own ``MetaData`` and
alembic version table, so ``airflow db migrate`` creates and upgrades them through
:class:`headrace.db.manager.HeadraceDBManager`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.utils.sqlalchemy import UtcDateTime
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

metadata = MetaData(
    naming_convention={
        "ix": "idx_%(table_name)s_%(column_0_N_name)s",
        "uq": "%(table_name)s_%(column_0_N_name)s_uq",
        "ck": "%(table_name)s_%(constraint_name)s_ck",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
        "pk": "%(table_name)s_pkey",
    }
)


class Base(DeclarativeBase):
    metadata = metadata


class ApiKey(Base):
    """A scoped, expiring API key. Only the SHA-256 of its secret is kept."""

    __tablename__ = "headrace_api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    owner: Mapped[str] = mapped_column(String(250), nullable=False)
    # The creator as the auth manager serialised it: the key acts on the creator's behalf,
    # narrowed by its scopes.
    owner_claims: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class RefreshToken(Base):
    """A single-use refresh token handed out at login. Only the SHA-256 of its secret is kept."""

    __tablename__ = "headrace_refresh_token"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(250), nullable=False)
    claims: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The absolute end of the chain this token belongs to, set at login and inherited on every refresh.
    chain_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class IdempotencyRecord(Base):
    """The first answer to a request sent with an ``Idempotency-Key``, replayed for repeats.

    The row is inserted before the request runs (``status_code`` empty: in progress), so the primary
    key decides which of two concurrent requests with the same key runs.
    """

    __tablename__ = "headrace_idempotency"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. "ingestion.create"
    client: Mapped[str] = mapped_column(String(250), primary_key=True)  # who sent it (rate-limit key)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int | None] = mapped_column(nullable=True)
    response: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)


class IngestionCancellation(Base):
    """An ingestion job cancelled through the API: its DagRun failed on purpose, not by an error."""

    __tablename__ = "headrace_ingestion_cancellation"

    job_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    cancelled_by: Mapped[str] = mapped_column(String(250), nullable=False)
    cancelled_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


# -- binary job queue (job-queue-api); see headrace.jobs ----------------------------------------------


class QueuedJob(Base):
    """A binary job of the queue. Every status change is one conditional UPDATE (see headrace.jobs)."""

    __tablename__ = "headrace_job"
    __table_args__ = (Index("idx_headrace_job_claim", "status", "priority_rank", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    type: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    binary_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    binary_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    arguments: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    env_variables: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    priority: Mapped[str] = mapped_column(String(20), nullable=False)
    # 0 foreground, 1 background, 2 best_effort: the claim orders by it, so the index serves the claim.
    priority_rank: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    executor_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    attempt_count: Mapped[int] = mapped_column(Integer, nullable=False)  # attempts so far = current one
    stdout: Mapped[str | None] = mapped_column(Text, nullable=True)
    stderr: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Set by DELETE ?force=true on a running job: the heartbeat answer tells its executor to stop.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class JobAttempt(Base):
    """One claim of a job by one executor; the job's current attempt is the one that may finish it."""

    __tablename__ = "headrace_job_attempt"

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("headrace_job.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, ...
    executor_id: Mapped[str] = mapped_column(String(250), nullable=False)
    executor_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)  # running, completed, ...
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # for the histogram


class JobExecutor(Base):
    """An executor as last seen by the queue (claims and heartbeats refresh it)."""

    __tablename__ = "headrace_job_executor"

    id: Mapped[str] = mapped_column(String(250), primary_key=True)
    hostname: Mapped[str | None] = mapped_column(String(250), nullable=True)
    executor_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    types: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)
    current_job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    jobs_completed: Mapped[int] = mapped_column(Integer, nullable=False)
    jobs_failed: Mapped[int] = mapped_column(Integer, nullable=False)
    jobs_lost: Mapped[int] = mapped_column(Integer, nullable=False)


# BIGINT on PostgreSQL and MySQL; SQLite autoincrements only an INTEGER PRIMARY KEY.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class MonitoringEvent(Base):
    """One event of the event log, as it arrived (the job-monitoring-api's event, flattened).

    The id orders the log for streams (SSE ``id:``, the WebSocket fan-out, webhook matching); the
    unique ``(site_id, idempotency_key)`` makes a repeated event a no-op (effectively once).
    """

    __tablename__ = "headrace_event"
    __table_args__ = (
        UniqueConstraint("site_id", "idempotency_key"),
        Index("idx_headrace_event_at", "at"),
        Index("idx_headrace_event_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False)
    site_id: Mapped[str] = mapped_column(String(100), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # ingest, airflow, job_queue
    app_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    app_name: Mapped[str | None] = mapped_column(String(250), nullable=True)
    app_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    entity_type: Mapped[str] = mapped_column(String(10), nullable=False)  # job, subjob
    entity_id: Mapped[str] = mapped_column(String(250), nullable=False)
    parent_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    business_key: Mapped[str | None] = mapped_column(String(250), nullable=True)
    sub_key: Mapped[str | None] = mapped_column(String(250), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    metrics: Mapped[dict] = mapped_column(JSON, nullable=False)
    event_metadata: Mapped[dict] = mapped_column("metadata", JSON, nullable=False)
    inserted_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class TrackedEntity(Base):
    """A job or subjob as its events describe it so far, folded in the order of ``at``.

    ``placeholder`` marks a parent known only from its subjobs' ``parent_id``; its own events fill it in.
    """

    __tablename__ = "headrace_tracked_entity"
    __table_args__ = (
        Index("idx_headrace_tracked_entity_started", "entity_type", "started_at"),
        Index("idx_headrace_tracked_entity_inserted", "entity_type", "inserted_at"),
        Index("idx_headrace_tracked_entity_parent", "site_id", "parent_id"),
    )

    site_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(10), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    app_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    app_name: Mapped[str | None] = mapped_column(String(250), nullable=True)
    app_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    job_key: Mapped[str | None] = mapped_column(String(250), nullable=True)  # the business key
    sub_key: Mapped[str | None] = mapped_column(String(250), nullable=True)
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # of the status event
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_user_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_system_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_max_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    entity_metadata: Mapped[dict] = mapped_column("metadata", JSON, nullable=False)
    placeholder: Mapped[bool] = mapped_column(Boolean, nullable=False)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    inserted_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class MonitoringSite(Base):
    """A site of the central job-monitoring API added through ``POST /v1/sites``.

    Its API key is Fernet-encrypted with Airflow's key and never shown back.
    """

    __tablename__ = "headrace_monitoring_site"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(2048), nullable=False)
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class Webhook(Base):
    """A webhook subscription (pipelines-api); its secret is Fernet-encrypted with Airflow's key."""

    __tablename__ = "headrace_webhook"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    owner: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class WebhookDelivery(Base):
    """One event to deliver to one webhook: the outbox row, written with the event it announces."""

    __tablename__ = "headrace_webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("idx_headrace_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("headrace_webhook.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[int] = mapped_column(EventId, nullable=False)  # headrace_event.id
    event_name: Mapped[str] = mapped_column(String(100), nullable=False)  # pipeline.completed, ...
    body: Mapped[str] = mapped_column(Text, nullable=False)  # the exact bytes that are signed and sent
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class WebhookAttempt(Base):
    """One attempt to deliver: when, how it answered, how long it took."""

    __tablename__ = "headrace_webhook_attempt"

    delivery_id: Mapped[int] = mapped_column(
        EventId, ForeignKey("headrace_webhook_delivery.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)


class EventCursor(Base):
    """How far a consumer of the log has read (e.g. the Airflow task-instance tracker's watermark)."""

    __tablename__ = "headrace_event_cursor"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[str] = mapped_column(String(250), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class RequestStat(Base):
    """Request statistics of the REST API (issue 13), one row per route, method, status and latency bucket.

    Kept in the metadata database so that every api-server worker counts into, and reports, the same
    figures; a request adds one to its row (one upsert).
    """

    __tablename__ = "headrace_request_stat"

    route: Mapped[str] = mapped_column(String(300), primary_key=True)  # e.g. /api/v1/jobs/{job_id}
    method: Mapped[str] = mapped_column(String(10), primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer, primary_key=True)
    le_ms: Mapped[int] = mapped_column(Integer, primary_key=True)  # latency bucket's upper bound; -1: +Inf
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    duration_ms_sum: Mapped[float] = mapped_column(Float, nullable=False)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class RequestSample(Base):
    """The latest requests' response times (``recentResponseTimes``), trimmed to the newest few."""

    __tablename__ = "headrace_request_sample"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False)
