"""Domain rules and authorization, shared by the REST API and the dashboard. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts import Accounts
from .audit import Audit
from .bulk import Bulk
from .change_requests import ChangeRequests
from .code_refs import CodeRefs
from .drafts import Drafts
from .errors import (
    Conflict,
    Forbidden,
    InUse,
    Invalid,
    NotFound,
    PreconditionFailed,
    SecondFactorRequired,
    ServiceError,
    Throttled,
    Unauthorized,
    Unavailable,
)
from .flags import Flags
from .invitations import Invitations
from .lifecycle_report import Lifecycle
from .mail import Mailer
from .onboarding import Onboarding
from .orgs import Orgs
from .passkeys import Passkeys
from .passwords import Passwords
from .project_roles import ProjectRoles
from .promotion import Promotion
from .recovery import Recovery
from .relay_keys import RelayKeys
from .revocations import Revocations
from .runtime import Actor, Runtime
from .schedules import Schedules
from .second_factor import SecondFactor
from .sessions import Sessions
from .sso import Sso, SsoRefused
from .transfer import Transfer
from .usage import OpenStreams, Usage
from .users import Users
from .webhook_sender import WebhookSender
from .webhooks import Webhooks

__all__ = [
    "Accounts",
    "Actor",
    "Audit",
    "Bulk",
    "ChangeRequests",
    "CodeRefs",
    "Conflict",
    "Drafts",
    "Flags",
    "Forbidden",
    "InUse",
    "Invalid",
    "Invitations",
    "Lifecycle",
    "Mailer",
    "NotFound",
    "Onboarding",
    "Orgs",
    "Passkeys",
    "Passwords",
    "PreconditionFailed",
    "ProjectRoles",
    "Promotion",
    "RelayKeys",
    "Recovery",
    "Revocations",
    "Runtime",
    "SecondFactor",
    "SecondFactorRequired",
    "Schedules",
    "ServiceError",
    "Services",
    "Sessions",
    "Sso",
    "SsoRefused",
    "Throttled",
    "Transfer",
    "Unauthorized",
    "Unavailable",
    "Usage",
    "WebhookSender",
    "Webhooks",
    "Users",
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
    schedules: Schedules
    webhooks: Webhooks
    mailer: Mailer
    recovery: Recovery
    sessions: Sessions
    users: Users
    second_factor: SecondFactor
    sso: Sso
    code_refs: CodeRefs
    lifecycle: Lifecycle
    project_roles: ProjectRoles
    passkeys: Passkeys
    promotion: Promotion
    bulk: Bulk
    change_requests: ChangeRequests
    onboarding: Onboarding

    @classmethod
    def build(
        cls,
        rt: Runtime,
        passwords: Passwords | None = None,
        open_streams: OpenStreams | None = None,
    ) -> Services:
        revocations = Revocations()
        rt.access_listeners.append(revocations.wake)
        accounts = Accounts(rt, passwords)
        mailer = Mailer(rt.settings)
        flags = Flags(rt)
        usage = Usage(rt, open_streams)
        change_requests = ChangeRequests(rt, flags, mailer)
        return cls(
            rt,
            accounts,
            Orgs(rt),
            flags,
            Audit(rt),
            Invitations(rt, mailer),
            Transfer(rt),
            Drafts(rt),
            revocations,
            RelayKeys(rt),
            usage,
            Schedules(rt, flags),
            Webhooks(rt),
            mailer,
            Recovery(rt, accounts.passwords, accounts.throttle, mailer),
            Sessions(rt),
            Users(rt),
            accounts.second_factor,
            Sso(rt, accounts),
            CodeRefs(rt),
            Lifecycle(rt, usage),
            ProjectRoles(rt),
            accounts.passkeys,
            Promotion(rt, flags, change_requests),
            Bulk(rt, flags),
            change_requests,
            Onboarding(rt, open_streams),
        )
