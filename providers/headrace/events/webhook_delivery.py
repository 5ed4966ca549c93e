"""Delivering the webhook outbox: URL checks, signing, backoff and the at-least-once loop.

No Flask, no Airflow: the caller passes the engine, the settings and ``reveal`` (which decrypts a
stored secret), so this runs the same in the api-server and in tests.

Guarantees. A delivery row is written with its event (:func:`headrace.events.webhooks.enqueue`) and
stays ``pending`` until a receiver answers 2xx (``delivered``) or ``max_attempts`` attempts failed
(``failed``). A process takes a row by a conditional UPDATE that moves its ``next_attempt_at`` a
lease into the future; only the process whose UPDATE matched sends it, so several api-servers never
send one row at the same time. A process that dies mid-attempt leaves the row to be taken again when
the lease ends: a receiver may see an event twice (at least once), and ``X-Headrace-Delivery``
tells it that it is the same delivery.

Signing (``secret`` as UTF-8 bytes, HMAC-SHA256, lower-case hex):

- ``X-Headrace-Signature: sha256=<HMAC(secret, raw request body)>``;
- the payload's ``signature`` = ``sha256=<HMAC(secret, canonical(payload without "signature"))>``,
  canonical = JSON with sorted keys, separators ``,`` and ``:``, non-ASCII escaped as ``\\uXXXX``
  (Python: ``json.dumps(p, sort_keys=True, separators=(",", ":"))``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Engine

from headrace.db.models import Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

_WEBHOOKS = Webhook.__table__
_DELIVERIES = WebhookDelivery.__table__
_ATTEMPTS = WebhookAttempt.__table__
MAX_BACKOFF = 600.0
_LEASE_MARGIN = 30.0  # seconds beyond the timeout that a taken row stays invisible to others

Resolver = Callable[[str], list[str]]


class UrlRefused(ValueError):
    """A webhook URL that may not be called; the message says why (never the URL's credentials)."""


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to now."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})


def url_shape_problem(url: str) -> str | None:
    """What is wrong with the URL itself (scheme, host, credentials), before any DNS lookup."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials (use the secret to authenticate deliveries)"
    return None


def check_url(url: str, denied_networks: list[str], resolver: Resolver = resolve) -> None:
    """Raise :class:`UrlRefused` unless ``url`` is well formed and its host resolves only to allowed
    addresses (checked again before every delivery: DNS can change after the webhook was created)."""
    problem = url_shape_problem(url)
    if problem:
        raise UrlRefused(problem)
    host = urlsplit(url).hostname or ""
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"host {host!r} does not resolve") from exc
    if not addresses:
        raise UrlRefused(f"host {host!r} does not resolve")
    networks = [ipaddress.ip_network(net, strict=False) for net in denied_networks]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        for candidate in filter(None, (ip, mapped)):
            if any(candidate.version == net.version and candidate in net for net in networks):
                raise UrlRefused(f"host {host!r} resolves to a denied address ({candidate})")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_body(canonical_body: str, secret: str) -> bytes:
    """The request body: the canonical payload with its ``signature`` added as the last key."""
    signature = sign(secret, canonical_body.encode())
    return (canonical_body[:-1] + ',"signature":"' + signature + '"}').encode()


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt``: 1, 2, 4, ... capped at 600."""
    return min(MAX_BACKOFF, 2.0 ** max(attempt - 1, 0))


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float = 10.0
    max_attempts: int = 10
    denied_networks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    """Takes due outbox rows one at a time and sends them; :meth:`run_once` is one pass."""

    def __init__(
        self,
        engine: Engine,
        settings: DeliverySettings,
        reveal: Callable[[bytes], str],
        *,
        resolver: Resolver = resolve,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.reveal = reveal
        self.resolver = resolver
        self.clock = clock
        self._client = httpx.Client(follow_redirects=False, timeout=settings.timeout, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def run_once(self, limit: int = 100) -> int:
        """Send up to ``limit`` due rows; returns how many attempts were made."""
        done = 0
        while done < limit and self._deliver_next():
            done += 1
        return done

    def run_forever(self, stop: Callable[[], bool], poll_interval: float = 1.0) -> None:
        while not stop():
            try:
                if self.run_once() == 0:
                    time.sleep(poll_interval)
            except Exception:  # the database may be away for a moment; try again later
                log.exception("Webhook dispatcher pass failed")
                time.sleep(poll_interval * 5)

    def _claim(self) -> dict | None:
        """One due row, leased to this process, or None. The lease is the conditional UPDATE: it
        matches only while ``next_attempt_at`` is still the value this process read."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.timeout + _LEASE_MARGIN)
        with self.engine.begin() as connection:
            candidates = connection.execute(
                select(_DELIVERIES.c.id, _DELIVERIES.c.next_attempt_at)
                .where(_DELIVERIES.c.status == "pending", _DELIVERIES.c.next_attempt_at <= now)
                .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
                .limit(5)
            ).all()
        for delivery_id, due in candidates:
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(_DELIVERIES)
                    .where(
                        _DELIVERIES.c.id == delivery_id,
                        _DELIVERIES.c.status == "pending",
                        _DELIVERIES.c.next_attempt_at == due,
                    )
                    .values(next_attempt_at=lease_until)
                ).rowcount
                if taken != 1:
                    continue
                row = connection.execute(
                    select(
                        _DELIVERIES.c.id,
                        _DELIVERIES.c.event_name,
                        _DELIVERIES.c.body,
                        _DELIVERIES.c.attempts,
                        _WEBHOOKS.c.url,
                        _WEBHOOKS.c.secret_encrypted,
                    )
                    .join(_WEBHOOKS, _WEBHOOKS.c.id == _DELIVERIES.c.webhook_id)
                    .where(_DELIVERIES.c.id == delivery_id)
                ).first()
            if row is not None:
                return dict(row._mapping)
        return None

    def _deliver_next(self) -> bool:
        row = self._claim()
        if row is None:
            return False
        outcome = self._send(row)
        self._record(row, outcome)
        return True

    def _send(self, row: dict) -> Outcome:
        started = time.perf_counter()
        try:
            check_url(row["url"], self.settings.denied_networks, self.resolver)
            secret = self.reveal(row["secret_encrypted"])
            body = signed_body(row["body"], secret)
            response = self._client.post(
                row["url"],
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Headrace-Webhooks/1",
                    "X-Headrace-Event": row["event_name"],
                    "X-Headrace-Delivery": str(row["id"]),
                    "X-Headrace-Signature": sign(secret, body),
                },
            )
        except UrlRefused as exc:
            return Outcome(None, f"refused: {exc}", _ms(started))
        except httpx.TimeoutException:
            return Outcome(None, f"timed out after {self.settings.timeout:g} s", _ms(started))
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        except Exception as exc:  # e.g. a secret that Airflow's (rotated) key no longer decrypts
            # Only the type: the message of a decryption or encoding error may quote secret bytes.
            log.warning("Webhook delivery %s failed: %s", row["id"], type(exc).__name__)
            return Outcome(None, f"could not send: {type(exc).__name__}", _ms(started))
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Outcome(response.status_code, error, _ms(started))

    def _record(self, row: dict, outcome: Outcome) -> None:
        """The attempt, and the row's next state, in one transaction; conditional on the attempt
        count this process read, so a row whose lease ran out is not recorded twice."""
        number = row["attempts"] + 1
        now = self.clock()
        if outcome.ok:
            values = {"status": "delivered", "delivered_at": now}
        elif number >= self.settings.max_attempts:
            values = {"status": "failed"}
        else:
            values = {"next_attempt_at": now + timedelta(seconds=backoff(number))}
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(_DELIVERIES)
                .where(and_(_DELIVERIES.c.id == row["id"], _DELIVERIES.c.attempts == row["attempts"]))
                .values(attempts=number, **values)
            ).rowcount
            if changed != 1:
                return
            connection.execute(
                insert(_ATTEMPTS).values(
                    delivery_id=row["id"],
                    number=number,
                    at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
