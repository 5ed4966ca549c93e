"""Webhooks API (pipelines-api "Webhooks"): subscriptions and their delivery history.

Permission: a webhook makes this deployment send run data to a URL outside it, with a secret that
authenticates the sender -- what an Airflow connection is. So managing webhooks needs the permission
to create connections, and reading them the permission to read connections (admins and ops by
default; viewers neither).
"""

from __future__ import annotations

from headrace.api.datamodels.webhooks import (
    DeliveryAttemptView,
    DeliveryQuery,
    DeliveryView,
    WebhookCreate,
    WebhookView,
)
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Principal, Scope, connection
from headrace.api.services import webhooks as service
from headrace.events.webhook_store import Delivery, Subscription
from headrace.jobs.models import render_time

_NS = Namespace.WEBHOOKS
_READ = connection("GET", Scope.READ)
_WRITE = connection("POST", Scope.WRITE)


def _view(hook: Subscription) -> WebhookView:
    return WebhookView(
        id=hook.id,
        url=hook.url,
        events=hook.events,
        owner=hook.owner,
        created_at=render_time(hook.created_at),
    )


def _delivery(item: Delivery) -> DeliveryView:
    return DeliveryView(
        id=item.id,
        event_id=item.event_id,
        event=item.event,
        status=item.status,
        attempt_count=item.attempt_count,
        created_at=render_time(item.created_at),
        next_attempt_at=render_time(item.next_attempt_at),
        delivered_at=render_time(item.delivered_at),
        attempts=[
            DeliveryAttemptView(
                number=a.number,
                at=render_time(a.at),
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in item.attempts
        ],
    )


@endpoint(
    "/webhooks",
    "POST",
    _NS,
    summary="Subscribe a URL to events",
    permission=_WRITE,
    body=WebhookCreate,
    response=WebhookView,
    status=201,
)
def create_webhook(principal: Principal, body: WebhookCreate):
    """``url`` must be http(s), without credentials, and resolve only to addresses outside
    ``[headrace] webhook_denied_networks``; ``events`` names or wildcards (``job.*``); ``secret``
    (16-256 characters) signs every delivery and is never shown back."""
    return _view(service.create(body.url, body.events, body.secret, owner=principal.username))


@endpoint("/webhooks", "GET", _NS, summary="List webhooks", permission=_READ, response=list[WebhookView])
def list_webhooks():
    return [_view(hook) for hook in service.store().list()]


@endpoint(
    "/webhooks/<webhook_id>",
    "DELETE",
    _NS,
    summary="Delete a webhook",
    permission=_WRITE,
    errors=(404,),
    status=204,
)
def delete_webhook(webhook_id: str):
    """Also drops its pending deliveries: nothing more is sent to it."""
    service.delete(webhook_id)
    return None, 204


@endpoint(
    "/webhooks/<webhook_id>/deliveries",
    "GET",
    _NS,
    summary="Recent deliveries of a webhook",
    permission=_READ,
    query=DeliveryQuery,
    response=list[DeliveryView],
    errors=(404,),
)
def list_deliveries(webhook_id: str, query: DeliveryQuery):
    """Newest first, each with every attempt: time, HTTP status, error and duration."""
    return [_delivery(item) for item in service.deliveries(webhook_id, query.limit)]
