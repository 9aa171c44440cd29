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
from .lifecycle_report import Lifecycle
from .orgs import Orgs
from .passwords import Passwords
from .relay_keys import RelayKeys
from .revocations import Revocations
from .runtime import Actor, Runtime
from .transfer import Transfer
from .usage import OpenStreams, Usage
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
    "Lifecycle",
    "NotFound",
    "Orgs",
    "Passwords",
    "PreconditionFailed",
    "RelayKeys",
    "Revocations",
    "Runtime",
    "ServiceError",
    "Services",
    "Throttled",
    "Transfer",
    "Unauthorized",
    "Unavailable",
    "Usage",
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
    relay_keys: RelayKeys
    usage: Usage
    webhooks: Webhooks
    lifecycle: Lifecycle

    @classmethod
    def build(
        cls,
        rt: Runtime,
        passwords: Passwords | None = None,
        open_streams: OpenStreams | None = None,
    ) -> Services:
        revocations = Revocations()
        rt.access_listeners.append(revocations.wake)
        usage = Usage(rt, open_streams)
        return cls(
            rt,
            Accounts(rt, passwords),
            Orgs(rt),
            Flags(rt),
            Audit(rt),
            Invitations(rt),
            Transfer(rt),
            Drafts(rt),
            revocations,
            RelayKeys(rt),
            usage,
            Webhooks(rt),
            Lifecycle(rt, usage),
        )
