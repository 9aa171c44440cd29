"""Change requests: how a configuration change reaches a protected environment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ..services.shapes import ApplyIn, ApprovalIn, ChangeRequestEdit, ChangeRequestIn, RejectionIn
from .auth import CurrentActor, ServicesDep
from .flags import patch_body
from .models import ChangeRequest, ChangeRequestList, answer
from .numbers import RowId
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}/change-requests",
    tags=["change requests"],
    route_class=StrictJSONRoute,
)

State = Annotated[
    Literal["open", "approved", "scheduled", "applied", "rejected", "cancelled", "failed"] | None,
    Query(description="Only requests in this state"),
]


@router.get(
    "",
    summary="A project's change requests",
    responses=answer(ChangeRequestList, "Newest first"),
)
def list_requests(
    org: str,
    project: str,
    actor: CurrentActor,
    services: ServicesDep,
    state: State = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    flag: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    rows = services.change_requests.list_requests(
        actor, org, project, state=state, env_key=environment, flag_key=flag
    )
    return {"change_requests": rows}


@router.post(
    "",
    status_code=201,
    summary="Propose a change in a protected environment",
    responses=answer(ChangeRequest, "The request, open", 201),
)
def create_request(
    org: str, project: str, body: ChangeRequestIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """`changes` is the body of PATCH on the flag's configuration in `environment` (a toggle is
    `{"on": true}`), checked now. The environment must be protected (else 409
    `not_protected`)."""
    data = {
        "flag": body.flag,
        "environment": body.environment,
        "changes": patch_body(body.changes),
        "comment": body.comment,
    }
    return services.change_requests.create(actor, org, project, data)


@router.get(
    "/{request_id}",
    summary="One change request with its diff",
    responses=answer(ChangeRequest, "The request, with `diff` and what the caller `may` do"),
)
def get_request(
    org: str, project: str, request_id: RowId, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.change_requests.get(actor, org, project, request_id)


@router.patch(
    "/{request_id}",
    summary="Edit an open change request (voids its approvals)",
    responses=answer(ChangeRequest, "The request, as a new revision"),
)
def edit_request(
    org: str,
    project: str,
    request_id: RowId,
    body: ChangeRequestEdit,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    """Its author only (403 `not_author`). New `changes` are checked against, and based on,
    the configuration as it is now."""
    data: dict[str, Any] = {}
    if body.changes is not None:
        data["changes"] = patch_body(body.changes)
    if "comment" in body.model_fields_set:
        data["comment"] = body.comment
    return services.change_requests.edit(actor, org, project, request_id, data)


@router.post(
    "/{request_id}/approve",
    summary="Approve a change request",
    responses=answer(ChangeRequest, "The request with your approval"),
)
def approve_request(
    org: str,
    project: str,
    request_id: RowId,
    actor: CurrentActor,
    services: ServicesDep,
    body: ApprovalIn | None = None,
) -> Any:
    """Not by its author (403 `self_approval`). With `revision`, 409 `request_changed` if the
    request was edited since. The body may be left out."""
    return services.change_requests.approve(
        actor, org, project, request_id, revision=body.revision if body else None
    )


@router.post(
    "/{request_id}/reject",
    summary="Reject a change request",
    responses=answer(ChangeRequest, "The request, rejected"),
)
def reject_request(
    org: str,
    project: str,
    request_id: RowId,
    actor: CurrentActor,
    services: ServicesDep,
    body: RejectionIn | None = None,
) -> Any:
    return services.change_requests.reject(
        actor, org, project, request_id, reason=body.reason if body else None
    )


@router.post(
    "/{request_id}/cancel",
    summary="Cancel a change request",
    responses=answer(ChangeRequest, "The request, cancelled"),
)
def cancel_request(
    org: str, project: str, request_id: RowId, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.change_requests.cancel(actor, org, project, request_id)


@router.post(
    "/{request_id}/apply",
    summary="Apply an approved change request, now or at a time",
    responses=answer(ChangeRequest, "The request, applied (or scheduled, with `at`)"),
)
def apply_request(
    org: str,
    project: str,
    request_id: RowId,
    actor: CurrentActor,
    services: ServicesDep,
    body: ApplyIn | None = None,
) -> Any:
    """By its author or an approver (403 `not_approver`); 409 `not_approved` without enough
    approvals; 409 `request_stale` when the flag changed since in a way applying it would
    undo. With `at`, a scheduled change applies it then (state `scheduled`)."""
    return services.change_requests.apply(
        actor, org, project, request_id, at=body.at if body else None
    )
