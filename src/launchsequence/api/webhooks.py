"""Webhooks of an organization (or one of its projects), their secrets and deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..services.shapes import WebhookIn, WebhookPatch
from .auth import CurrentActor, ServicesDep
from .models import answer
from .numbers import Limit, OptionalRowIdQuery, RowId
from .routing import StrictJSONRoute
from .webhook_models import DeliveryPage, NewWebhook, Webhook, WebhookDelivery, WebhookList

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/orgs", tags=["webhooks"], route_class=StrictJSONRoute)

ADMINS = "Admins and owners only: a webhook's URL may itself be a secret."


@router.get(
    "/{org}/webhooks",
    summary="Webhooks of the organization",
    description=ADMINS,
    responses=answer(WebhookList, "Every webhook, or those of one project"),
)
def list_webhooks(
    org: str,
    actor: CurrentActor,
    services: ServicesDep,
    project: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    return {"webhooks": services.webhooks.list(actor, org, project=project)}


@router.post(
    "/{org}/webhooks",
    status_code=201,
    summary="Create a webhook",
    description=ADMINS + " Its URL must resolve to public addresses unless the server allows "
    "private ones (422 `address_refused`). The answer holds its signing secret, once.",
    responses=answer(NewWebhook, "The new webhook, with its secret", 201),
)
def create_webhook(org: str, body: WebhookIn, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.webhooks.create(actor, org, body.model_dump())


@router.get(
    "/{org}/webhooks/{webhook_id}",
    summary="One webhook",
    description=ADMINS,
    responses=answer(Webhook, "The webhook"),
)
def get_webhook(org: str, webhook_id: RowId, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.webhooks.get(actor, org, webhook_id)


@router.patch(
    "/{org}/webhooks/{webhook_id}",
    summary="Change a webhook",
    description=ADMINS + " Enabling a disabled webhook resumes its pending deliveries.",
    responses=answer(Webhook, "The webhook, changed"),
)
def update_webhook(
    org: str, webhook_id: RowId, body: WebhookPatch, actor: CurrentActor, services: ServicesDep
) -> Any:
    data = body.model_dump(exclude_unset=True, exclude_none=True)
    return services.webhooks.update(actor, org, webhook_id, data)


@router.delete(
    "/{org}/webhooks/{webhook_id}",
    status_code=204,
    summary="Delete a webhook and its deliveries",
    description=ADMINS,
    responses={204: {"description": "Deleted"}},
)
def delete_webhook(
    org: str, webhook_id: RowId, actor: CurrentActor, services: ServicesDep
) -> Response:
    services.webhooks.delete(actor, org, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{org}/webhooks/{webhook_id}/secret",
    summary="Rotate a webhook's signing secret",
    description=ADMINS + " The answer holds the new secret, once; the old one signs no more.",
    responses=answer(NewWebhook, "The webhook, with its new secret"),
)
def rotate_secret(org: str, webhook_id: RowId, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.webhooks.rotate_secret(actor, org, webhook_id)


@router.get(
    "/{org}/webhooks/{webhook_id}/deliveries",
    summary="A webhook's deliveries, newest first",
    description=ADMINS,
    responses=answer(DeliveryPage, "One page of deliveries"),
)
def deliveries(
    org: str,
    webhook_id: RowId,
    actor: CurrentActor,
    services: ServicesDep,
    before: OptionalRowIdQuery = None,
    limit: Limit = 50,
) -> Any:
    return services.webhooks.deliveries(actor, org, webhook_id, before=before, limit=limit)


@router.post(
    "/{org}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    status_code=202,
    summary="Send a delivery's event again",
    description=ADMINS + " A new delivery, queued behind any pending one for the same flag.",
    responses=answer(WebhookDelivery, "The new delivery", 202),
)
def resend(
    org: str,
    webhook_id: RowId,
    delivery_id: RowId,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    return services.webhooks.resend(actor, org, webhook_id, delivery_id)
