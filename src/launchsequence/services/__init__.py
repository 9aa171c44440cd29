"""Domain rules and authorization, shared by the REST API and the dashboard. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts import Accounts
from .audit import Audit
from .drafts import Drafts
from .errors import (
    Conflict,
    Forbidden,
    InUse,
    Invalid,
    NotFound,
    PreconditionFailed,
    ServiceError,
    Throttled,
    Unauthorized,
    Unavailable,
)
from .flags import Flags
from .invitations import Invitations
from .orgs import Orgs
from .passwords import Passwords
from .revocations import Revocations
from .runtime import Actor, Runtime
from .schedules import Schedules
from .transfer import Transfer
from .webhook_sender import WebhookSender
from .webhooks import Webhooks

__all__ = [
    "Accounts",
    "Actor",
    "Audit",
    "Conflict",
    "Drafts",
    "Flags",
    "Forbidden",
    "InUse",
    "Invalid",
    "Invitations",
    "NotFound",
    "Orgs",
    "Passwords",
    "PreconditionFailed",
    "Revocations",
    "Runtime",
    "Schedules",
    "ServiceError",
    "Services",
    "Throttled",
    "Transfer",
    "Unauthorized",
    "Unavailable",
    "WebhookSender",
    "Webhooks",
]


@dataclass
class Services:
    """Every service, built once per application by `create_app`."""

    rt: Runtime
    accounts: Accounts
    orgs: Orgs
    flags: Flags
    audit: Audit
    invitations: Invitations
    transfer: Transfer
    drafts: Drafts
    revocations: Revocations
    schedules: Schedules
    webhooks: Webhooks

    @classmethod
    def build(cls, rt: Runtime, passwords: Passwords | None = None) -> Services:
        revocations = Revocations()
        rt.access_listeners.append(revocations.wake)
        flags = Flags(rt)
        return cls(
            rt,
            Accounts(rt, passwords),
            Orgs(rt),
            flags,
            Audit(rt),
            Invitations(rt),
            Transfer(rt),
            Drafts(rt),
            revocations,
            Schedules(rt, flags),
            Webhooks(rt),
        )
