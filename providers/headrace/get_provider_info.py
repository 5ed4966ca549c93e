"""Provider metadata read by Airflow's ProvidersManager (``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

from headrace import __version__

_CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "storage_root": {
        "description": "Folder that holds the local object storage (one sub-folder per bucket) in the "
        "embedded mode. Empty means ``{AIRFLOW_HOME}/headrace/storage``.",
        "type": "string",
        "example": "/data/headrace/storage",
        "default": "",
    },
    "storage_conn_id": {
        "description": "Airflow connection (type aws) of the S3/MinIO object storage; empty means local "
        "folders under storage_root",
        "type": "string",
        "example": "headrace_s3",
        "default": "",
    },
    "catalog_uri": {
        "description": "SQLAlchemy URI of the database that holds the Iceberg SQL catalog and the "
        "catalog registry. Empty means a SQLite file ``{AIRFLOW_HOME}/headrace/catalog.db``; use a "
        "PostgreSQL URI in production.",
        "type": "string",
        "sensitive": True,
        "example": "postgresql+psycopg2://airflow:airflow@postgres/headrace_catalog",
        "default": "",
    },
    "warehouse": {
        "description": "Location where new catalogs keep their table data and metadata, a local path "
        "or ``s3://bucket/prefix``. Empty means ``{storage_root}/warehouse``.",
        "type": "string",
        "example": "s3://warehouse/headrace",
        "default": "",
    },
    "default_engine": {
        "description": "Engine used by ingestion jobs that name none: ``arrow`` (in process) or "
        "``spark`` (spark-submit through the ``spark_default`` connection).",
        "type": "string",
        "example": "spark",
        "default": "arrow",
    },
    "engines": {
        "description": "Ingestion engines a job's engine_id may name: name=kind pairs separated by "
        "semicolons, kind arrow (in process) or spark:<connection id> (spark-submit through that "
        "Airflow connection; master local[*] when it does not exist).",
        "type": "string",
        "example": "arrow=arrow; spark=spark:spark_default; spark158=spark:spark_cluster",
        "default": "arrow=arrow; spark=spark:spark_default",
    },
    "environment": {
        "description": "Name of this deployment, reported by the health endpoints.",
        "type": "string",
        "example": "production",
        "default": "development",
    },
    "rate_limit": {
        "description": "Default rate limit of every API namespace, per client (API key, else user, "
        "else IP address), in Flask-Limiter notation.",
        "type": "string",
        "example": "1000 per hour",
        "default": "100 per 15 minutes",
    },
    "rate_limits": {
        "description": "Per-namespace overrides of ``rate_limit``: ``namespace=limit`` pairs separated "
        "by semicolons. Namespaces: health, meta, auth, catalog, upload, ingestion, query, monitoring, "
        "pipelines, connectors, webhooks, workflows, agents, metrics, jobs, events, stream.",
        "type": "string",
        "example": "auth=10 per minute; jobs=1000 per hour",
        "default": "health=600 per minute; jobs=1200 per minute; events=6000 per minute",
    },
    "rate_limit_storage_uri": {
        "description": "Where rate-limit counters live: ``memory://`` (one process) or a Redis URL "
        "such as ``redis://redis:6379/0`` so that every api-server shares them.",
        "type": "string",
        "sensitive": True,
        "example": "redis://127.0.0.1:6379/0",
        "default": "memory://",
    },
    "api_key_default_expiry_days": {
        "description": "Lifetime of an API key created without an explicit expiry, in days.",
        "type": "integer",
        "example": "30",
        "default": "90",
    },
    "api_key_max_expiry_days": {
        "description": "Longest lifetime an API key may be given, in days.",
        "type": "integer",
        "example": "365",
        "default": "365",
    },
    "default_bucket": {
        "description": "Bucket that GET /ingestion/config/default proposes for uploads and sources.",
        "type": "string",
        "example": "raw",
        "default": "landing",
    },
    "workflows_folder": {
        "description": "Folder of workflow definitions (YAML or JSON) the shipped loader turns into DAGs; "
        "templates of this deployment go in its templates/ subfolder. Empty: <dags_folder>/workflows.",
        "type": "string",
        "example": "/opt/airflow/dags/workflows",
        "default": "",
    },
    "priority_pools": {
        "description": "Pools of the workflow priorities, as priority=pool pairs separated by ';'. "
        "A priority without a pool runs in Airflow's default pool; every priority sets priority_weight.",
        "type": "string",
        "example": "critical=critical_pool;high=etl_high",
        "default": "",
    },
    "upload_max_bytes": {
        "description": "Largest file accepted by the Upload API, in bytes (larger ones get a 413).",
        "type": "integer",
        "example": "524288000",
        "default": "104857600",
    },
    "definitions_folder": {
        "description": "Folder where the pipelines and workflows APIs write the definitions users deploy; "
        "the shipped loader reads it besides workflows_folder. User data never goes into the source "
        "checkout. Empty: {AIRFLOW_HOME}/headrace/definitions.",
        "type": "string",
        "example": "/opt/airflow/headrace/definitions",
        "default": "",
    },
    "query_memory_limit": {
        "description": "Most memory one read-only query (POST /query) may use in the api-server, in "
        "DuckDB notation; a query that needs more is stopped with QUERY_MEMORY_LIMIT.",
        "type": "string",
        "example": "4GB",
        "default": "1GB",
    },
    "query_threads": {
        "description": "Threads one read-only query may use in the api-server.",
        "type": "integer",
        "example": "4",
        "default": "2",
    },
    "idempotency_ttl_hours": {
        "description": "How long the answer to a request sent with an Idempotency-Key is kept and "
        "replayed, in hours; a key may be used again afterwards.",
        "type": "integer",
        "example": "48",
        "default": "24",
    },
    "failed_login_limit": {
        "description": "Failed logins allowed per account and, counted separately, per client address, "
        "in Flask-Limiter notation. Successful logins and other traffic never use this budget.",
        "type": "string",
        "example": "10 per 15 minutes",
        "default": "5 per 15 minutes",
    },
    "refresh_token_max_lifetime": {
        "description": "Absolute lifetime of a chain of refresh tokens, in seconds from the login that "
        "started it: refreshing never extends a session past it.",
        "type": "integer",
        "example": "86400",
        "default": "2592000",
    },
    "refresh_token_expiration": {
        "description": "Lifetime of refresh tokens handed out by ``POST /auth/login``, in seconds.",
        "type": "integer",
        "example": "86400",
        "default": "604800",
    },
    "job_heartbeat_timeout": {
        "description": "Seconds without a heartbeat after which a running binary job counts as lost: it "
        "goes back to pending (its attempt ends as lost), or fails after job_max_attempts attempts.",
        "type": "integer",
        "example": "120",
        "default": "60",
        "version_added": "0.2.0",
    },
    "job_max_attempts": {
        "description": "Most attempts (claims) of one binary job: a job lost on its last attempt fails.",
        "type": "integer",
        "example": "5",
        "default": "3",
        "version_added": "0.2.0",
    },
    "job_binary_url_allowlist": {
        "description": "Comma-separated prefixes a job's binary_url must start with (http and https "
        "only; file:// and other schemes are always refused).",
        "type": "string",
        "example": "https://artifacts.example.com/, https://github.com/example/",
        "default": "https://",
        "version_added": "0.2.0",
    },
    "job_claim_max_wait": {
        "description": "Longest long-poll (``wait``) of POST /jobs/claim, in seconds (at most 30).",
        "type": "integer",
        "example": "10",
        "default": "30",
        "version_added": "0.2.0",
    },
    "job_claim_max_waiters": {
        "description": "Claims that may long-poll at once in one api-server process; more are answered "
        "at once (204), so waiting executors never use up the server's request threads.",
        "type": "integer",
        "example": "32",
        "default": "16",
        "version_added": "0.2.0",
    },
    "monitoring_site_id": {
        "description": "The site id of this deployment in the event log: events that Airflow runs and "
        "binary jobs publish carry it, and ``GET /v1/jobs`` without ``site`` reads the events of every "
        "site that sent them here.",
        "type": "string",
        "example": "fab1",
        "default": "local",
        "version_added": "0.3.0",
    },
    "monitoring_sites": {
        "description": "Sites of the central job-monitoring API, as ``id=endpoint`` pairs separated by "
        "``;`` (an endpoint is another job-monitoring base URL). A site's API key is the password of the "
        "Airflow connection ``headrace_site_<id>`` when that exists. Sites added with ``POST /v1/sites`` "
        "come on top of these.",
        "type": "string",
        "example": "fab1=http://site1:8080/pluginsv2/headrace/job-monitoring;fab2=http://site2:18000",
        "default": "",
        "version_added": "0.3.0",
    },
    "monitoring_site_timeout": {
        "description": "Seconds a forwarded site query (``?site=``) or a site health check may take "
        "before it is answered 504 (or reported as degraded).",
        "type": "float",
        "example": "5",
        "default": "10",
        "version_added": "0.3.0",
    },
    "stream_poll_interval": {
        "description": "Seconds between the event-log reads of one api-server process that feed every "
        "SSE and WebSocket client of that process (one read per process, fanned out to all clients).",
        "type": "float",
        "example": "1",
        "default": "0.5",
        "version_added": "0.3.0",
    },
    "stream_heartbeat_interval": {
        "description": "Seconds between the keep-alive comments of ``GET /v1/stream`` (SSE) and the "
        "pings of the WebSocket.",
        "type": "float",
        "example": "30",
        "default": "15",
        "version_added": "0.3.0",
    },
    "stream_max_clients": {
        "description": "SSE and WebSocket clients one api-server process serves at once; more are "
        "answered 503.",
        "type": "integer",
        "example": "2000",
        "default": "1000",
        "version_added": "0.3.0",
    },
    "airflow_tracking_interval": {
        "description": "Seconds between the api-server's reads of Airflow's task instances, which "
        "publish every task instance's state changes to the event log as subjobs.",
        "type": "float",
        "example": "10",
        "default": "5",
        "version_added": "0.3.0",
    },
    "webhook_timeout": {
        "description": "Seconds one webhook delivery attempt may take; a slower receiver counts as a "
        "failed attempt and is retried.",
        "type": "float",
        "example": "5",
        "default": "10",
        "version_added": "0.3.0",
    },
    "webhook_max_attempts": {
        "description": "Delivery attempts per webhook event (with exponential backoff, from 1 second "
        "up to 10 minutes between them) before the delivery is marked failed.",
        "type": "integer",
        "example": "5",
        "default": "10",
        "version_added": "0.3.0",
    },
    "webhook_denied_networks": {
        "description": "Comma-separated networks a webhook URL may not resolve to, checked when the "
        "webhook is created and again before every delivery. The default refuses link-local addresses "
        "(cloud metadata services) and the unspecified network.",
        "type": "string",
        "example": "169.254.0.0/16,fe80::/10,0.0.0.0/8,10.0.0.0/8",
        "default": "169.254.0.0/16,fe80::/10,0.0.0.0/8,::/128",
        "version_added": "0.3.0",
    },
    "alert_memory_percent": {
        "description": "Memory use (percent of the host) above which the WebSocket's ``system_alert`` "
        "channel sends a warning for a component on this host.",
        "type": "float",
        "example": "90",
        "default": "85",
        "version_added": "0.3.0",
    },
    "alert_cpu_percent": {
        "description": "CPU use (percent) above which the WebSocket's ``system_alert`` channel sends a "
        "warning.",
        "type": "float",
        "example": "95",
        "default": "90",
        "version_added": "0.3.0",
    },
    "request_stats_recent": {
        "description": "How many of the newest REST API response times ``GET /monitoring/metrics`` "
        "reports as ``recentResponseTimes``. Request statistics are kept in the metadata database, so "
        "every api-server worker reports the same figures.",
        "type": "integer",
        "example": "500",
        "default": "100",
        "version_added": "0.4.0",
    },
    "observability_max_buckets": {
        "description": "Most time buckets one ``GET /observability/metrics`` answer may have "
        "((end - start) / step); a request for more is a 400 naming ``step``.",
        "type": "integer",
        "example": "2000",
        "default": "1000",
        "version_added": "0.4.0",
    },
    "data_sources_aws_conn_id": {
        "description": "Airflow connection (type ``aws``) through which data sources resolve credentials "
        "given as ``secret_provider: aws_secrets_manager``.",
        "type": "string",
        "example": "aws_secrets",
        "default": "aws_default",
        "version_added": "0.4.0",
    },
    "nl_query_explain_timeout": {
        "description": "Seconds the source's ``EXPLAIN ANALYZE`` of a generated query may take for "
        "``POST /nl-query``'s estimates (run in a read-only transaction, then rolled back); a slower "
        "query answers the timeout as a lower bound.",
        "type": "float",
        "example": "10",
        "default": "5",
        "version_added": "0.4.0",
    },
    "llm_endpoint": {
        "description": "Base URL of an OpenAI-compatible chat-completions API (``<url>/chat/completions``) "
        "used by natural-language queries and pipeline generation; empty: the built-in engine only.",
        "type": "string",
        "example": "https://llm.example.com/v1",
        "default": "",
        "version_added": "0.4.0",
    },
    "llm_model": {
        "description": "Model name sent to ``llm_endpoint``.",
        "type": "string",
        "example": "gpt-4o-mini",
        "default": "",
        "version_added": "0.4.0",
    },
    "llm_conn_id": {
        "description": "Airflow connection whose password is the ``llm_endpoint`` API key (empty: no key).",
        "type": "string",
        "example": "headrace_llm",
        "default": "",
        "version_added": "0.4.0",
    },
    "llm_timeout": {
        "description": "Seconds one LLM request may take before the built-in engine answers instead.",
        "type": "float",
        "example": "10",
        "default": "20",
        "version_added": "0.4.0",
    },
    # --- query options (begin)
    # --- query options (end)
    # --- upload options (begin)
    # --- upload options (end)
    # --- ingestion options (begin)
    # --- ingestion options (end)
    # --- ui options (begin)
    # --- ui options (end)
}


_LAKEHOUSE_CONNECTION = {
    "connection-type": "headrace_lakehouse",
    "hook-class-name": "headrace.hooks.lakehouse.LakehouseHook",
    "hook-name": "Headrace Lakehouse",
    "conn-fields": {
        "catalog_uri": {
            "label": "Catalog database URI",
            "description": "SQLAlchemy URI of the catalog database (empty: [headrace] catalog_uri).",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "warehouse": {
            "label": "Warehouse",
            "description": "Local folder or s3://bucket/prefix for new catalogs "
            "(empty: [headrace] warehouse).",
            "schema": {"type": ["string", "null"]},
        },
        "storage_conn_id": {
            "label": "Storage connection",
            "description": "Airflow connection (aws) of the S3/MinIO storage "
            "(empty: [headrace] storage_conn_id).",
            "schema": {"type": ["string", "null"]},
        },
    },
    "ui-field-behaviour": {"hidden-fields": ["host", "schema", "login", "password", "port", "extra"]},
}

_API_CONNECTION = {
    "connection-type": "headrace_api",
    "hook-class-name": "headrace.hooks.headrace_api.HeadraceApiHook",
    "hook-name": "Headrace API",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login", "port", "extra"],
        "relabeling": {"host": "API URL", "password": "API key"},
        "placeholders": {"host": "http://airflow-apiserver:8080", "password": "hrk_<id>.<secret>"},
    },
}

for _option in _CONFIG_OPTIONS.values():
    _option.setdefault("version_added", "0.1.0")


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "headrace",
        "name": "Headrace",
        "description": "Self-service data platform: file ingestion into lakehouse tables, workflow "
        "definitions turned into DAGs, binary job execution and a REST API on the api-server.",
        "versions": [__version__],
        "state": "ready",
        "integrations": [
            {
                "integration-name": "Headrace",
                "external-doc-url": "https://github.com/headrace/headrace",
                "tags": ["software"],
            }
        ],
        "db-managers": ["headrace.db.manager.HeadraceDBManager"],
        "connection-types": [_LAKEHOUSE_CONNECTION, _API_CONNECTION],
        "config": {
            "headrace": {
                "description": "Settings of the Headrace provider and its REST API plugin.",
                "options": _CONFIG_OPTIONS,
            }
        },
    }
