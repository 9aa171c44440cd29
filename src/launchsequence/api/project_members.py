"""Members of a project: each member's organization role, project role and the role that
counts there; the organization's admins and owners set and remove project roles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field
from typing_extensions import TypedDict

from ..services.shapes import ProjectRoleIn
from .auth import CurrentActor, ServicesDep
from .models import Role, answer
from .numbers import RowId
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}/members",
    tags=["projects"],
    route_class=StrictJSONRoute,
)

WHO = (
    "Admins and owners of the organization only (403 `read_only` for a viewer; 403 "
    "`owner_only` for an admin addressing an owner). An owner is an owner in every project: "
    "409 `owner_everywhere`."
)


class ProjectMember(TypedDict):
    """A member of the organization as one project sees them."""

    user_id: int
    email: str
    name: str
    org_role: Annotated[Role, Field(description="Their role in the organization")]
    project_role: Annotated[
        Literal["admin", "viewer"] | None,
        Field(description="Their role in this project, where it differs; null: none"),
    ]
    role: Annotated[
        Role,
        Field(description="The role that counts here: `project_role` if set, else `org_role`"),
    ]


class ProjectMemberList(TypedDict):
    members: list[ProjectMember]


@router.get(
    "",
    summary="Members of a project and their roles there",
    responses=answer(ProjectMemberList, "Every member of the organization, by email"),
)
def list_project_members(org: str, project: str, actor: CurrentActor, services: ServicesDep) -> Any:
    """Any member may read this."""
    return {"members": services.project_roles.list_members(actor, org, project)}


@router.put(
    "/{user_id}",
    summary="Give a member a role in this project",
    description="Admin of this project (changes what it serves) or viewer of it (reads "
    "only), whatever their organization role. " + WHO,
    responses=answer(ProjectMember, "The member, with the role that now counts here"),
)
def set_project_role(
    org: str,
    project: str,
    user_id: RowId,
    body: ProjectRoleIn,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    return services.project_roles.set_role(actor, org, project, user_id, body.role)


@router.delete(
    "/{user_id}",
    summary="Remove a member's project role",
    description="Their organization role counts in this project again (nothing changes if "
    "it did already). " + WHO,
    responses=answer(ProjectMember, "The member, with the role that now counts here"),
)
def remove_project_role(
    org: str, project: str, user_id: RowId, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.project_roles.remove_role(actor, org, project, user_id)
