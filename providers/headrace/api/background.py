"""The api-server's background work, started once per api-server process.

The plugin's root middleware (:mod:`headrace.api.bridge`) is built only by the api-server, once per
process, so its constructor is where these start: daemon threads that need the metadata database
but no request. Each is harmless when several api-servers run it (see its module).
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

# module:function of each service; every function starts its thread and returns at once.
SERVICES = (
    "headrace.api.services.webhooks:start_dispatcher",  # the webhook outbox's delivery loop
    "headrace.listeners.task_instances:start_tracker",  # Airflow task instances -> subjob events
)

_started = False
_lock = threading.Lock()


def start() -> None:
    global _started
    with _lock:
        if _started:
            return
        _started = True
    for target in SERVICES:
        module_name, _, function = target.partition(":")
        try:
            getattr(importlib.import_module(module_name), function)()
        except Exception:  # one broken service must not keep the api-server from serving
            log.exception("Could not start the background service %s", target)
