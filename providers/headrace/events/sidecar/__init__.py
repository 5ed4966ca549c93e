"""``headrace sidecar``: a spooling forwarder of monitoring events that runs next to an app.

The app posts events to the sidecar on loopback; the sidecar validates them, forwards them to the
job-monitoring upstream and, when that is away, keeps them in an fsync'd spool on disk and replays
them in order once it answers. No Airflow, Flask or SQLAlchemy here (a test checks): the sidecar
runs on hosts that have only this package's pure-Python parts, ``httpx`` and ``prometheus_client``.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from headrace.events.sidecar.forwarder import Forwarder
from headrace.events.sidecar.metrics import SidecarMetrics
from headrace.events.sidecar.server import DEFAULT_MAX_BODY, SidecarServer
from headrace.events.sidecar.spool import DEAD_LETTER_FILE, DeadLetters, Spool, SpoolInUse

__all__ = ["SidecarConfig", "build", "run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidecarConfig:
    listen: tuple[str, int]
    upstream: str
    api_key: str = field(repr=False)
    spool_dir: Path
    max_spool_bytes: int = 512 * 1024**2
    max_body_bytes: int = DEFAULT_MAX_BODY
    timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    dead_letter_file: Path | None = None


def build(config: SidecarConfig) -> tuple[SidecarServer, Forwarder]:
    """The server and its forwarder, not started (tests drive them in-process)."""
    spool = Spool(config.spool_dir, config.max_spool_bytes)
    forwarder = Forwarder(
        upstream=config.upstream,
        api_key=config.api_key,
        spool=spool,
        dead_letters=DeadLetters(config.dead_letter_file or Path(config.spool_dir) / DEAD_LETTER_FILE),
        metrics=SidecarMetrics(),
        timeout=config.timeout,
        backoff_initial=config.backoff_initial,
        backoff_max=config.backoff_max,
    )
    return SidecarServer(config.listen, forwarder, config.max_body_bytes), forwarder


def run(config: SidecarConfig) -> int:
    """Serve until SIGTERM/SIGINT; then stop taking requests, finish those in flight, exit 0."""
    try:
        server, forwarder = build(config)
    except (SpoolInUse, OSError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    waiting = len(forwarder.spool)  # counted before the forwarder starts draining it
    forwarder.start()
    serving = threading.Thread(target=server.serve_forever, name="sidecar-http", daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    log.info(
        "sidecar listening on %s:%s, upstream %s, spool %s (%d event(s) waiting)",
        host,
        port,
        forwarder.upstream,
        forwarder.spool.directory,
        waiting,
    )
    stopping.wait()
    server.shutdown()
    server.server_close()
    forwarder.stop()
    log.info("sidecar stopped, %d event(s) left in the spool", len(forwarder.spool))
    return 0
