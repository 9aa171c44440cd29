"""Flag usage (evaluation counts) and the applications seen, for teams that graph it elsewhere."""

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
    prefix="/api/v1/orgs/{org}/projects/{project}", tags=["usage"], route_class=StrictJSONRoute
)


class VariationCount(TypedDict):
    variation: Annotated[
        int | None,
        Field(
            description="Index into the flag's variations; null: answers without one "
            "(an error, or the caller's own default)"
        ),
    ]
    count: int


class UsageBucket(TypedDict):
    start: Millis
    size: Annotated[
        Literal["hour", "day"],
        Field(description="Rows older than the hourly retention exist only by the day"),
    ]
    total: int
    variations: list[VariationCount]


class EnvironmentUsage(TypedDict):
    environment: str
    last_evaluated: Annotated[
        int | None,
        Field(
            description="Unix ms: the end of the latest hour (or day) with evaluations; "
            "null if none is kept"
        ),
    ]
    total: int
    buckets: list[UsageBucket]


# Functional syntax: `from` is a Python keyword.
FlagUsage = TypedDict(
    "FlagUsage",
    {
        "flag": str,
        "from": Millis,
        "to": Millis,
        "granularity": Literal["hour", "day"],
        "environments": list[EnvironmentUsage],
    },
)
FlagUsage.__doc__ = (
    "Evaluations counted per environment and variation. Counts reach the database once per "
    "flush interval (USAGE_FLUSH_SECONDS): the current interval shows after the next flush."
)


class Application(TypedDict):
    application: Annotated[str, Field(description="As the SDK named it; empty: none given")]
    sdk: str
    sdk_version: str
    instances: Annotated[
        int,
        Field(
            description="Instance ids one server heard from in its "
            "latest interval with this application"
        ),
    ]
    first_seen: Millis
    last_seen: Millis
    open_streams: Annotated[int, Field(description="Streams open now on the server answering")]


class ApplicationList(TypedDict):
    environment: str
    since: Millis
    open_streams: int
    applications: list[Application]


Time = Annotated[int | None, Query(ge=0, le=2**53, description="Unix time in milliseconds")]


@router.get(
    "/flags/{flag}/usage",
    summary="A flag's evaluation counts over an interval",
    responses=answer(FlagUsage, "Counts per environment, bucket and variation"),
)
def flag_usage(
    org: str,
    project: str,
    flag: str,
    actor: CurrentActor,
    services: ServicesDep,
    from_: Annotated[
        Time, Query(alias="from", description="Start, Unix ms (default: 24 h before `to`)")
    ] = None,
    to: Annotated[Time, Query(description="End, Unix ms, excluded (default: now)")] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    granularity: Literal["hour", "day"] = "hour",
) -> Any:
    """Buckets whose start is in [from, to), at most 400 days."""
    return services.usage.flag_usage(
        actor,
        org,
        project,
        flag,
        start=from_,
        end=to,
        environment=environment,
        granularity=granularity,
    )


@router.get(
    "/environments/{env}/applications",
    summary="Applications and SDK versions seen in the last 7 days",
    responses=answer(ApplicationList, "Latest first"),
)
def applications(
    org: str, project: str, env: str, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.usage.applications(actor, org, project, env)
