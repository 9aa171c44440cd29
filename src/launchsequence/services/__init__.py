"""Domain rules and authorization, shared by the REST API and the dashboard. No HTTP here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


_WHERE = {
    "Accounts": "accounts",
    "Actor": "runtime",
    "Audit": "audit",
    "Bulk": "bulk",
    "ChangeRequests": "change_requests",
    "CodeRefs": "code_refs",
    "Conflict": "errors",
    "Drafts": "drafts",
    "Flags": "flags",
    "Forbidden": "errors",
    "InUse": "errors",
    "Invalid": "errors",
    "Invitations": "invitations",
    "Lifecycle": "lifecycle_report",
    "Mailer": "mail",
    "NotFound": "errors",
    "Onboarding": "onboarding",
    "OpenStreams": "usage",
    "Orgs": "orgs",
    "Passkeys": "passkeys",
    "Passwords": "passwords",
    "PreconditionFailed": "errors",
    "ProjectRoles": "project_roles",
    "Promotion": "promotion",
    "Recovery": "recovery",
    "RelayKeys": "relay_keys",
    "Revocations": "revocations",
    "Runtime": "runtime",
    "Schedules": "schedules",
    "SecondFactor": "second_factor",
    "SecondFactorRequired": "errors",
    "ServiceError": "errors",
    "Sessions": "sessions",
    "Sso": "sso",
    "SsoRefused": "sso",
    "Throttled": "errors",
    "Transfer": "transfer",
    "Unauthorized": "errors",
    "Unavailable": "errors",
    "Usage": "usage",
    "Users": "users",
    "WebhookSender": "webhook_sender",
    "Webhooks": "webhooks",
}


def __getattr__(name: str) -> Any:
    """Each name is imported from its module on first use: a process that serves only SDKs
    (the core before its first dashboard or API request) loads none of the services it does
    not run."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
        *,
        mailer: Mailer | None = None,
        revocations: Revocations | None = None,
    ) -> Services:
        """Every service over `rt`. `mailer` and `revocations` are the ones the process made
        before (the webhook sender and the change feed hold them); a `revocations` passed in is
        already among `rt.access_listeners`."""
        from .accounts import Accounts
        from .audit import Audit
        from .bulk import Bulk
        from .change_requests import ChangeRequests
        from .code_refs import CodeRefs
        from .drafts import Drafts
        from .flags import Flags
        from .invitations import Invitations
        from .lifecycle_report import Lifecycle
        from .mail import Mailer
        from .onboarding import Onboarding
        from .orgs import Orgs
        from .project_roles import ProjectRoles
        from .promotion import Promotion
        from .recovery import Recovery
        from .relay_keys import RelayKeys
        from .revocations import Revocations
        from .schedules import Schedules
        from .sessions import Sessions
        from .sso import Sso
        from .transfer import Transfer
        from .usage import Usage
        from .users import Users
        from .webhooks import Webhooks

        if revocations is None:
            revocations = Revocations()
            rt.access_listeners.append(revocations.wake)
        accounts = Accounts(rt, passwords)
        mailer = mailer if mailer is not None else Mailer(rt.settings)
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
