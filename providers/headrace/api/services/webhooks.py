"""The webhooks API's glue: the store and the dispatcher on Airflow's metadata database, secrets
encrypted with Airflow's Fernet key, and the delivery thread of this api-server process.

:func:`start_dispatcher` is called once per api-server process by :mod:`headrace.api.background`.
Several processes may each run one: rows are leased one at a time by a conditional UPDATE (see
:mod:`headrace.events.webhook_delivery`), so no row is sent by two of them at once.
"""

from __future__ import annotations

import logging
import threading

from headrace import config
from headrace.api.errors import NotFound, RequestValidationError
from headrace.events.webhook_delivery import DeliverySettings, Dispatcher, UrlRefused, check_url
from headrace.events.webhook_store import Delivery, Subscription, WebhookStore

log = logging.getLogger(__name__)
POLL_INTERVAL = 1.0

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


def _engine():
    from airflow import settings as airflow_settings

    return airflow_settings.engine


def store() -> WebhookStore:
    return WebhookStore(_engine())


def delivery_settings() -> DeliverySettings:
    return DeliverySettings(
        timeout=config.webhook_timeout(),
        max_attempts=config.webhook_max_attempts(),
        denied_networks=config.webhook_denied_networks(),
    )


def encrypt(secret: str) -> bytes:
    from airflow.models.crypto import get_fernet

    return get_fernet().encrypt(secret.encode())


def reveal(secret_encrypted: bytes) -> str:
    from airflow.models.crypto import get_fernet

    return get_fernet().decrypt(bytes(secret_encrypted)).decode()


def create(url: str, events: list[str], secret: str, owner: str | None) -> Subscription:
    """Refuses a URL whose host does not resolve or resolves into ``webhook_denied_networks``."""
    try:
        check_url(url, config.webhook_denied_networks())
    except UrlRefused as exc:
        raise RequestValidationError.for_field("url", str(exc)) from exc
    return store().create(url, events, encrypt(secret), owner)


def get(webhook_id: str) -> Subscription:
    hook = store().get(webhook_id)
    if hook is None:
        raise NotFound(f"Webhook {webhook_id!r} not found", code="WEBHOOK_NOT_FOUND")
    return hook


def delete(webhook_id: str) -> None:
    if not store().delete(webhook_id):
        raise NotFound(f"Webhook {webhook_id!r} not found", code="WEBHOOK_NOT_FOUND")


def deliveries(webhook_id: str, limit: int) -> list[Delivery]:
    get(webhook_id)
    return store().deliveries(webhook_id, limit)


def start_dispatcher() -> None:
    """Start this process's delivery thread (a daemon; once per process)."""
    global _thread
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _stop.clear()
        dispatcher = Dispatcher(_engine(), delivery_settings(), reveal)
        _thread = threading.Thread(
            target=dispatcher.run_forever,
            args=(_stop.is_set, POLL_INTERVAL),
            name="headrace-webhook-dispatcher",
            daemon=True,
        )
        _thread.start()
        log.info("Webhook dispatcher started")


def stop_dispatcher(timeout: float = 5.0) -> None:
    global _thread
    with _lock:
        thread, _thread = _thread, None
    if thread is not None:
        _stop.set()
        thread.join(timeout)
