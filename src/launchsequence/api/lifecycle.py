"""Flag lifecycle: each flag's derived status with its evidence, and the cleanup list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from typing_extensions import TypedDict

from .auth import CurrentActor, ServicesDep
from .models import Millis, answer
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}", tags=["lifecycle"], route_class=StrictJSONRoute
)

Status = Annotated[
    Literal["new", "active", "launched", "stale", "archived", "archived_evaluated"],
    Field(
        description="new: never evaluated (created less than LIFECYCLE_STALE_DAYS ago); "
        "active; launched: a temporary flag serving one variation to everyone in every "
        "environment for LIFECYCLE_LAUNCHED_DAYS; stale: not evaluated for "
        "LIFECYCLE_STALE_DAYS, or temporary and past its removal date; archived; "
        "archived_evaluated: archived yet evaluated in the last LIFECYCLE_RECENT_DAYS"
    ),
]


class RecentApplication(TypedDict):
    environment: str
    application: Annotated[str, Field(description="As the SDK named it; empty: none given")]
    count: int
    last_seen: Millis


class FlagLifecycle(TypedDict):
    """A flag's lifecycle status and the evidence for it, from the flushed usage counts."""

    flag: str
    owner: str | None
    kind: Literal["temporary", "permanent"]
    removal_date: str | None
    status: Status
    reasons: Annotated[
        list[str],
        Field(
            description="Stable codes: never_evaluated, not_evaluated, one_variation_served, "
            "past_removal_date, evaluated, archived, archived_but_evaluated"
        ),
    ]
    evidence: Annotated[list[str], Field(description="Sentences a person reads")]
    last_evaluated: Annotated[Millis | None, Field(description="In any environment")]
    launched_variation: Annotated[
        int | None, Field(description="With launched: the variation everyone gets")
    ]
    recent_applications: list[RecentApplication]


class LifecycleEntry(TypedDict):
    key: str
    name: str
    owner: str | None
    kind: Literal["temporary", "permanent"]
    removal_date: str | None
    archived: bool
    status: Status
    reasons: list[str]
    evidence: list[str]
    last_evaluated: Millis | None
    launched_variation: int | None


class LifecycleList(TypedDict):
    flags: list[LifecycleEntry]


@router.get(
    "/flags/{flag}/lifecycle",
    summary="A flag's lifecycle status, with its evidence",
    responses=answer(FlagLifecycle, "The status, its evidence and the recent applications"),
)
def flag_lifecycle(
    org: str, project: str, flag: str, actor: CurrentActor, services: ServicesDep
) -> Any:
    """`recent_applications`: those that evaluated the flag in the last
    LIFECYCLE_RECENT_DAYS (archiving or deleting it then asks for `force=true`)."""
    return services.lifecycle.flag_status(actor, org, project, flag)


@router.get(
    "/lifecycle",
    summary="Every flag's lifecycle status, or the cleanup candidates",
    responses=answer(LifecycleList, "The flags with their status and evidence"),
)
def project_lifecycle(
    org: str,
    project: str,
    actor: CurrentActor,
    services: ServicesDep,
    cleanup: Annotated[
        bool,
        Query(description="Only flags that look safe to remove: stale, launched, "
              "archived_evaluated"),
    ] = False,
) -> Any:  # fmt: skip
    if cleanup:
        return {"flags": services.lifecycle.cleanup(actor, org, project)}
    return {"flags": services.lifecycle.entries(actor, org, project)}
