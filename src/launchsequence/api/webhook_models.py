"""Answer shapes of the webhook routes (OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from .models import Millis

__all__ = ["DeliveryPage", "NewWebhook", "Webhook", "WebhookDelivery", "WebhookList"]


class Webhook(TypedDict):
    id: int
    url: str
    description: str
    project: Annotated[
        str | None, Field(description="Only this project's events; null: every project's")
    ]
    events: Annotated[
        list[str], Field(description='Event types it is sent (see docs/governance.md); ["*"]: all')
    ]
    format: Annotated[
        Literal["json", "slack"],
        Field(description='`json`: the event body; `slack`: `{"text": ...}`'),
    ]
    enabled: bool
    disabled_reason: Annotated[
        str | None, Field(description="Why the server disabled it (it kept failing)")
    ]
    failing_since: Annotated[
        Millis | None, Field(description="Its first failed attempt since it last answered")
    ]
    secret_prefix: Annotated[str, Field(description="The start of its signing secret")]
    created_at: Millis
    updated_at: Millis


class NewWebhook(Webhook):
    secret: Annotated[str, Field(description="The signing secret in full: shown here only, ever")]


class WebhookList(TypedDict):
    webhooks: list[Webhook]


class DeliveryEvent(TypedDict):
    id: Annotated[str, Field(description="The event's `id`, as in its body")]
    type: str
    at: Millis


class WebhookDelivery(TypedDict):
    id: int
    event: DeliveryEvent
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: Annotated[Millis | None, Field(description="While pending")]
    last_attempt_at: Millis | None
    response_status: Annotated[int | None, Field(description="The receiver's last answer")]
    response_excerpt: Annotated[
        str | None, Field(description="The start of the last answer's body")
    ]
    error: Annotated[str | None, Field(description="Why the last attempt failed")]
    duration_ms: int | None
    created_at: Millis
    completed_at: Millis | None


class DeliveryPage(TypedDict):
    """Deliveries newest first."""

    deliveries: list[WebhookDelivery]
    next: Annotated[
        int | None, Field(description="Pass as `before` for the next page; null at the end")
    ]
