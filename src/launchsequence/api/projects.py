"""Projects, environments, SDK keys, segments and environment snapshots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..services.protection import bypass_from
from ..services.shapes import (
    EnvironmentIn,
    EnvironmentPatchIn,
    NameIn,
    ProjectIn,
    SdkKeyIn,
    SegmentWrite,
)
from .auth import CurrentActor, ServicesDep
from .models import (
    Environment,
    EnvironmentList,
    Force,
    Project,
    ProjectList,
    RotatedSdkKey,
    Segment,
    SegmentList,
    Snapshot,
    answer,
)
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects", tags=["projects"], route_class=StrictJSONRoute
)


@router.get(
    "",
    summary="Projects with their environments",
    responses=answer(ProjectList, "The projects"),
)
def list_projects(org: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return {"projects": services.orgs.list_projects(actor, org)}


@router.post(
    "",
    status_code=201,
    summary="Create a project",
    responses=answer(Project, "The new project; each server key is shown in full", 201),
)
def create_project(org: str, body: ProjectIn, actor: CurrentActor, services: ServicesDep) -> Any:
    """Without `environments`, the project gets `production` and `staging`."""
    envs = None
    if body.environments is not None:
        envs = [{"key": e.key, "name": e.name or e.key} for e in body.environments]
    return services.orgs.create_project(actor, org, key=body.key, name=body.name, environments=envs)


@router.get("/{project}", summary="One project", responses=answer(Project, "The project"))
def get_project(org: str, project: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.orgs.get_project(actor, org, project)


@router.patch(
    "/{project}",
    summary="Rename a project",
    responses=answer(Project, "The project, renamed"),
)
def rename_project(
    org: str, project: str, body: NameIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.orgs.rename_project(actor, org, project, body.name)


@router.delete("/{project}", status_code=204, summary="Delete a project with its flags")
def delete_project(
    org: str, project: str, actor: CurrentActor, services: ServicesDep, force: Force = False
) -> Response:
    """A project with a flag on in any environment answers 409 `project_in_use`, listing the
    live `environments` and `flags`, and stays, unless `force=true`."""
    services.orgs.delete_project(actor, org, project, force=force)
    return Response(status_code=204)


@router.get(
    "/{project}/environments",
    summary="Environments of a project",
    responses=answer(EnvironmentList, "The environments with their SDK keys"),
)
def list_environments(org: str, project: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return {"environments": services.orgs.list_environments(actor, org, project)}


@router.post(
    "/{project}/environments",
    status_code=201,
    summary="Create an environment",
    responses=answer(Environment, "The new environment; its server key is shown in full", 201),
)
def create_environment(
    org: str, project: str, body: EnvironmentIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """Every flag of the project gets an off configuration in it, and it gets its SDK keys."""
    return services.orgs.create_environment(actor, org, project, key=body.key, name=body.name)


@router.get(
    "/{project}/environments/{env}",
    summary="One environment with its SDK keys",
    responses=answer(Environment, "The environment"),
)
def get_environment(
    org: str, project: str, env: str, actor: CurrentActor, services: ServicesDep
) -> Any:
    """The client key is shown in full (it is public); the server key only by its prefix."""
    return services.orgs.get_environment(actor, org, project, env)


@router.patch(
    "/{project}/environments/{env}",
    summary="Change an environment's settings: name, confirmation, protection",
    responses=answer(Environment, "The environment as it now is"),
)
def update_environment(
    org: str,
    project: str,
    env: str,
    body: EnvironmentPatchIn,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    """Each field is optional; those left out stay as they are. `confirm_changes` makes the
    dashboard ask for confirmation (and an optional comment) before a toggle or a saved
    configuration applies in this environment; this API never asks, and takes the comment in
    the `X-LaunchSequence-Comment` header. `protected: true` routes every configuration change
    through change requests needing `required_approvals` approvals (admins and owners change
    this; it is audited as `environment.protection_changed`)."""
    return services.orgs.update_environment(actor, org, project, env, body.changes())


@router.delete("/{project}/environments/{env}", status_code=204, summary="Delete an environment")
def delete_environment(
    org: str,
    project: str,
    env: str,
    actor: CurrentActor,
    services: ServicesDep,
    force: Force = False,
) -> Response:
    """An environment with a flag on answers 409 `environment_in_use`, listing the live
    `flags`, and stays, unless `force=true`."""
    services.orgs.delete_environment(actor, org, project, env, force=force)
    return Response(status_code=204)


@router.post(
    "/{project}/environments/{env}/sdk-keys",
    status_code=201,
    summary="Rotate an SDK key",
    responses=answer(RotatedSdkKey, "The new key, in full", 201),
)
def rotate_sdk_key(
    org: str, project: str, env: str, body: SdkKeyIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """Makes a new key of `kind`, shown in full in this answer only. The key it replaces keeps
    working for `grace_seconds` (default: the `sdk_key_grace_seconds` setting, one hour)."""
    return services.orgs.rotate_sdk_key(
        actor, org, project, env, kind=body.kind, grace_seconds=body.grace_seconds
    )


@router.get(
    "/{project}/environments/{env}/snapshot",
    summary="The environment's snapshot",
    responses=answer(Snapshot, "The snapshot"),
)
def snapshot(org: str, project: str, env: str, actor: CurrentActor, services: ServicesDep) -> Any:
    """Exactly the document SDKs download and the engine compiles (a debugging view)."""
    return services.flags.snapshot(actor, org, project, env)


@router.get(
    "/{project}/environments/{env}/segments",
    summary="Segments of an environment",
    responses=answer(SegmentList, "The segments"),
)
def list_segments(
    org: str, project: str, env: str, actor: CurrentActor, services: ServicesDep
) -> Any:
    return {"segments": services.flags.list_segments(actor, org, project, env)}


@router.put(
    "/{project}/environments/{env}/segments/{segment}",
    summary="Create or replace a segment",
    responses={
        **answer(Segment, "The segment, replaced"),
        **answer(Segment, "The segment, created", 201),
    },
)
def put_segment(
    org: str,
    project: str,
    env: str,
    segment: str,
    body: SegmentWrite,
    response: Response,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    """In a protected environment: 409 `protected_environment`, unless an owner sends
    `bypass_protection: true` with a `bypass_reason`."""
    data = body.model_dump(exclude_unset=True, exclude_none=True)
    passage = bypass_from(data)
    result, created = services.flags.put_segment(actor, org, project, env, segment, data, passage)
    response.status_code = 201 if created else 200
    return result


@router.get(
    "/{project}/environments/{env}/segments/{segment}",
    summary="One segment",
    responses=answer(Segment, "The segment"),
)
def get_segment(
    org: str, project: str, env: str, segment: str, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.flags.get_segment(actor, org, project, env, segment)


@router.delete(
    "/{project}/environments/{env}/segments/{segment}",
    status_code=204,
    summary="Delete a segment no flag uses",
)
def delete_segment(
    org: str,
    project: str,
    env: str,
    segment: str,
    actor: CurrentActor,
    services: ServicesDep,
    bypass_protection: Annotated[
        bool, Query(description="Owners only, in a protected environment")
    ] = False,
    bypass_reason: Annotated[
        str | None, Query(max_length=1000, description="Why (with bypass_protection)")
    ] = None,
) -> Response:
    """In a protected environment: 409 `protected_environment`, unless an owner bypasses."""
    passage = bypass_from(
        {"bypass_protection": bypass_protection or None, "bypass_reason": bypass_reason}
    )
    services.flags.delete_segment(actor, org, project, env, segment, passage)
    return Response(status_code=204)
