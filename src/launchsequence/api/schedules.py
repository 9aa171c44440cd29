"""Scheduled changes: a flag's configuration change in one environment, applied at a time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ..services.shapes import ConfigPatch, ScheduleEdit, ScheduleIn
from .auth import CurrentActor, ServicesDep
from .flags import patch_body
from .models import Schedule, ScheduleList, answer
from .numbers import RowId
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}",
    tags=["scheduled changes"],
    route_class=StrictJSONRoute,
)

Status = Annotated[
    Literal["pending", "applied", "failed", "cancelled"] | None,
    Query(description="Only schedules in this state"),
]


def _changes(patch: ConfigPatch) -> dict[str, Any]:
    return patch_body(patch)


@router.post(
    "/flags/{flag}/schedules",
    status_code=201,
    summary="Schedule a configuration change",
    responses=answer(Schedule, "The scheduled change, pending", 201),
)
def create_schedule(
    org: str, project: str, flag: str, body: ScheduleIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """`changes` is the body of PATCH on the flag's configuration in `environment` (a toggle is
    `{"on": true}`), checked now against the configuration as it is and applied at `at`. If
    someone changes the fields it sets before then, it fails with a `reason` instead of undoing
    their change; a toggle always applies."""
    data = {
        "environment": body.environment,
        "at": body.at,
        "changes": _changes(body.changes),
        "comment": body.comment,
    }
    return services.schedules.create(actor, org, project, flag, data)


@router.get(
    "/flags/{flag}/schedules",
    summary="A flag's scheduled changes",
    responses=answer(ScheduleList, "Pending ones first by time, then finished ones, latest first"),
)
def list_flag_schedules(
    org: str,
    project: str,
    flag: str,
    actor: CurrentActor,
    services: ServicesDep,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    status: Status = None,
) -> Any:
    rows = services.schedules.list_schedules(
        actor, org, project, flag_key=flag, env_key=environment, status=status
    )
    return {"schedules": rows}


@router.get(
    "/schedules",
    summary="A project's scheduled changes",
    responses=answer(ScheduleList, "Pending ones first by time, then finished ones, latest first"),
)
def list_project_schedules(
    org: str,
    project: str,
    actor: CurrentActor,
    services: ServicesDep,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    status: Status = None,
) -> Any:
    rows = services.schedules.list_schedules(
        actor, org, project, env_key=environment, status=status
    )
    return {"schedules": rows}


@router.get(
    "/schedules/{schedule_id}",
    summary="One scheduled change",
    responses=answer(Schedule, "The scheduled change"),
)
def get_schedule(
    org: str, project: str, schedule_id: RowId, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.schedules.get_schedule(actor, org, project, schedule_id)


@router.patch(
    "/schedules/{schedule_id}",
    summary="Change a pending scheduled change",
    responses=answer(Schedule, "The scheduled change as changed"),
)
def edit_schedule(
    org: str,
    project: str,
    schedule_id: RowId,
    body: ScheduleEdit,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    """New `changes` replace the old ones and are checked against the configuration as it is
    now. Once applied, failed or cancelled: 409 `schedule_finished`."""
    data: dict[str, Any] = {}
    if body.at is not None:
        data["at"] = body.at
    if body.changes is not None:
        data["changes"] = _changes(body.changes)
    if "comment" in body.model_fields_set:
        data["comment"] = body.comment
    return services.schedules.edit(actor, org, project, schedule_id, data)


@router.delete(
    "/schedules/{schedule_id}",
    summary="Cancel a pending scheduled change",
    responses=answer(Schedule, "The scheduled change, cancelled (it stays listed)"),
)
def cancel_schedule(
    org: str, project: str, schedule_id: RowId, actor: CurrentActor, services: ServicesDep
) -> Any:
    """Once applied or failed: 409 `schedule_finished`."""
    return services.schedules.cancel(actor, org, project, schedule_id)
