"""Typed access to the ``[headrace]`` section of the Airflow configuration.

Defaults are declared once, in :mod:`headrace.get_provider_info`; this module only resolves the
embedded-mode fallbacks (paths under ``AIRFLOW_HOME``) so that every caller agrees on them.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.configuration import AIRFLOW_HOME, conf

SECTION = "headrace"


def _get(option: str) -> str:
    return conf.get(SECTION, option).strip()


def storage_root() -> Path:
    return Path(_get("storage_root") or os.path.join(AIRFLOW_HOME, "headrace", "storage"))


def storage_conn_id() -> str:
    return _get("storage_conn_id")


def catalog_uri() -> str:
    return _get("catalog_uri") or f"sqlite:///{os.path.join(AIRFLOW_HOME, 'headrace', 'catalog.db')}"


def warehouse() -> str:
    return _get("warehouse") or str(storage_root() / "warehouse")


def default_engine() -> str:
    return _get("default_engine")


def environment() -> str:
    return _get("environment")


def rate_limit_storage_uri() -> str:
    return _get("rate_limit_storage_uri")


def rate_limit_for(namespace: str) -> str:
    """The limit of one namespace: its override in ``rate_limits`` if any, else ``rate_limit``."""
    for pair in _get("rate_limits").split(";"):
        name, _, limit = pair.partition("=")
        if name.strip() == namespace and limit.strip():
            return limit.strip()
    return _get("rate_limit")


def api_key_default_expiry_days() -> int:
    return conf.getint(SECTION, "api_key_default_expiry_days")


def api_key_max_expiry_days() -> int:
    return conf.getint(SECTION, "api_key_max_expiry_days")


def refresh_token_expiration() -> int:
    return conf.getint(SECTION, "refresh_token_expiration")


def upload_max_bytes() -> int:
    return conf.getint(SECTION, "upload_max_bytes")


def default_bucket() -> str:
    return _get("default_bucket")


def _pairs(option: str) -> dict[str, str]:
    pairs = (pair.partition("=") for pair in _get(option).split(";"))
    return {name.strip(): value.strip() for name, _, value in pairs if name.strip() and value.strip()}


def engines() -> dict[str, str]:
    """Engine names to kinds (``arrow`` or ``spark:<conn id>``), from ``[headrace] engines``."""
    return _pairs("engines")


def workflows_folder() -> Path:
    return Path(_get("workflows_folder") or os.path.join(conf.get("core", "dags_folder"), "workflows"))


def priority_pool(priority: str) -> str | None:
    """The pool of a workflow priority (``[headrace] priority_pools``), None for Airflow's default."""
    return _pairs("priority_pools").get(priority)


def definitions_folder() -> Path:
    """Where deployed (user) definitions live: outside the source checkout, under AIRFLOW_HOME."""
    return Path(_get("definitions_folder") or os.path.join(AIRFLOW_HOME, "headrace", "definitions"))


def query_memory_limit() -> str:
    return _get("query_memory_limit")


def query_threads() -> int:
    return conf.getint(SECTION, "query_threads")


def idempotency_ttl_hours() -> int:
    return conf.getint(SECTION, "idempotency_ttl_hours")


def failed_login_limit() -> str:
    return _get("failed_login_limit")


def refresh_token_max_lifetime() -> int:
    return conf.getint(SECTION, "refresh_token_max_lifetime")


def job_heartbeat_timeout() -> int:
    return conf.getint(SECTION, "job_heartbeat_timeout")


def job_max_attempts() -> int:
    return conf.getint(SECTION, "job_max_attempts")


def job_binary_url_allowlist() -> list[str]:
    """Prefixes a binary job's ``binary_url`` must start with; empty entries are ignored."""
    return [prefix.strip() for prefix in _get("job_binary_url_allowlist").split(",") if prefix.strip()]


def job_claim_max_wait() -> int:
    return min(30, max(0, conf.getint(SECTION, "job_claim_max_wait")))


def job_claim_max_waiters() -> int:
    return max(0, conf.getint(SECTION, "job_claim_max_waiters"))


def monitoring_site_id() -> str:
    return _get("monitoring_site_id") or "local"


def monitoring_sites() -> dict[str, str]:
    """The static sites, ``id -> endpoint``, from ``id=endpoint`` pairs separated by ``;``."""
    sites: dict[str, str] = {}
    for pair in _get("monitoring_sites").split(";"):
        site_id, _, endpoint = pair.partition("=")
        if site_id.strip() and endpoint.strip():
            sites[site_id.strip()] = endpoint.strip().rstrip("/")
    return sites


def monitoring_site_timeout() -> float:
    return max(0.1, conf.getfloat(SECTION, "monitoring_site_timeout"))


def stream_poll_interval() -> float:
    return max(0.05, conf.getfloat(SECTION, "stream_poll_interval"))


def stream_heartbeat_interval() -> float:
    return max(0.5, conf.getfloat(SECTION, "stream_heartbeat_interval"))


def stream_max_clients() -> int:
    return max(1, conf.getint(SECTION, "stream_max_clients"))


def airflow_tracking_interval() -> float:
    return max(0.5, conf.getfloat(SECTION, "airflow_tracking_interval"))


def webhook_timeout() -> float:
    return max(0.1, conf.getfloat(SECTION, "webhook_timeout"))


def webhook_max_attempts() -> int:
    return max(1, conf.getint(SECTION, "webhook_max_attempts"))


def webhook_denied_networks() -> list[str]:
    return [net.strip() for net in _get("webhook_denied_networks").split(",") if net.strip()]


def alert_memory_percent() -> float:
    return conf.getfloat(SECTION, "alert_memory_percent")


def alert_cpu_percent() -> float:
    return conf.getfloat(SECTION, "alert_cpu_percent")


def request_stats_recent() -> int:
    """How many of the newest response times ``/monitoring`` reports (``recentResponseTimes``)."""
    return min(10_000, max(1, conf.getint(SECTION, "request_stats_recent")))


def observability_max_buckets() -> int:
    return max(1, conf.getint(SECTION, "observability_max_buckets"))


def data_sources_aws_conn_id() -> str:
    return _get("data_sources_aws_conn_id") or "aws_default"


def nl_query_explain_timeout() -> float:
    return max(0.1, conf.getfloat(SECTION, "nl_query_explain_timeout"))


def llm_endpoint() -> str:
    return _get("llm_endpoint").rstrip("/")


def llm_model() -> str:
    return _get("llm_model")


def llm_conn_id() -> str:
    return _get("llm_conn_id")


def llm_timeout() -> float:
    return max(0.1, conf.getfloat(SECTION, "llm_timeout"))


# --- query options (begin)
# --- query options (end)

# --- upload options (begin)
# --- upload options (end)

# --- ingestion options (begin)
# --- ingestion options (end)

# --- ui options (begin)
# --- ui options (end)
