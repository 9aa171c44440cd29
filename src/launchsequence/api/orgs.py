"""Organizations, members and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..services.shapes import InvitationIn, MemberIn, NameIn, OrgIn, RoleIn
from .auth import CurrentActor, ServicesDep
from .models import (
    AuditPage,
    InvitationList,
    Member,
    MemberList,
    NewInvitation,
    Organization,
    OrganizationList,
    answer,
)
from .numbers import Limit, OptionalRowIdQuery, RowId
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/orgs", tags=["organizations"], route_class=StrictJSONRoute)


@router.get(
    "",
    summary="Organizations you belong to",
    responses=answer(OrganizationList, "Your organizations, with your role in each"),
)
def list_orgs(actor: CurrentActor, services: ServicesDep) -> Any:
    return {"organizations": services.orgs.list_orgs(actor)}


@router.post(
    "",
    status_code=201,
    summary="Create an organization (you are its owner)",
    responses=answer(Organization, "The new organization", 201),
)
def create_org(body: OrgIn, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.orgs.create_org(actor, key=body.key, name=body.name)


@router.get(
    "/{org}", summary="One organization", responses=answer(Organization, "The organization")
)
def get_org(org: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.orgs.get_org(actor, org)


@router.patch(
    "/{org}",
    summary="Rename an organization",
    responses=answer(Organization, "The organization, renamed"),
)
def rename_org(org: str, body: NameIn, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.orgs.rename_org(actor, org, body.name)


@router.get(
    "/{org}/members",
    summary="Members and their roles",
    responses=answer(MemberList, "The members"),
)
def list_members(org: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return {"members": services.orgs.list_members(actor, org)}


@router.post(
    "/{org}/members",
    status_code=201,
    summary="Add an existing user as a member",
    responses=answer(Member, "The new member", 201),
)
def add_member(org: str, body: MemberIn, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.orgs.add_member(actor, org, email=body.email, role=body.role)


@router.patch(
    "/{org}/members/{user_id}",
    summary="Change a member's role",
    responses=answer(Member, "The member with the new role"),
)
def set_role(
    org: str, user_id: RowId, body: RoleIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.orgs.set_role(actor, org, user_id, body.role)


@router.delete("/{org}/members/{user_id}", status_code=204, summary="Remove a member")
def remove_member(org: str, user_id: RowId, actor: CurrentActor, services: ServicesDep) -> Response:
    services.orgs.remove_member(actor, org, user_id)
    return Response(status_code=204)


@router.get(
    "/{org}/invitations",
    summary="Pending invitations",
    responses=answer(InvitationList, "Invitations not yet accepted, revoked or expired"),
)
def list_invitations(org: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return {"invitations": services.invitations.list(actor, org)}


@router.post(
    "/{org}/invitations",
    status_code=201,
    summary="Invite someone by link",
    responses=answer(NewInvitation, "The invitation, with its token and link", 201),
)
def create_invitation(
    org: str, body: InvitationIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """The answer carries the invitation `token` (only here, ever) and the sign-up `url`
    to send: whoever follows it within 7 days signs up into this organization with `role`
    (and, if `email` is given, only with that email)."""
    token, row = services.invitations.create(actor, org, role=body.role, email=body.email)
    base = services.rt.settings.base_url.rstrip("/")
    return {**row, "token": token, "url": f"{base}/signup?invitation={token}"}


@router.delete(
    "/{org}/invitations/{invitation_id}", status_code=204, summary="Revoke an invitation"
)
def revoke_invitation(
    org: str,
    invitation_id: RowId,
    actor: CurrentActor,
    services: ServicesDep,
) -> Response:
    services.invitations.revoke(actor, org, invitation_id)
    return Response(status_code=204)


@router.get(
    "/{org}/audit",
    summary="The audit log, newest first",
    responses=answer(AuditPage, "One page of entries"),
)
def audit(
    org: str,
    actor: CurrentActor,
    services: ServicesDep,
    project: Annotated[str | None, Query(max_length=64)] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    flag: Annotated[str | None, Query(max_length=64)] = None,
    member: Annotated[
        str | None, Query(max_length=320, description="Only the entries of this author (email)")
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[a-z_]+(\.[a-z_]*)?$",
            description='One action (`flag.toggled`), or a family ending with "." (`flag.`)',
        ),
    ] = None,
    since: Annotated[
        int | None, Query(ge=0, le=2**53, description="Entries at or after (Unix ms)")
    ] = None,
    until: Annotated[
        int | None, Query(ge=0, le=2**53, description="Entries before (Unix ms)")
    ] = None,
    before: OptionalRowIdQuery = None,
    limit: Limit = 50,
) -> Any:
    return services.audit.list_entries(
        actor,
        org,
        project=project,
        environment=environment,
        flag=flag,
        member=member,
        action=action,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )
