"""Comparing environments, copying a flag's configuration between them, and bulk actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..services.runtime import with_comment
from .auth import CurrentActor, ServicesDep
from .flags import IfMatch, if_match_version
from .models import answer
from .promotion_models import (
    BulkIn,
    BulkResult,
    CopyIn,
    CopyResult,
    FlagComparison,
    ProjectComparison,
)
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}",
    tags=["comparing and promoting"],
    route_class=StrictJSONRoute,
)


From = Annotated[
    str | None,
    Query(alias="from", max_length=64, description="Left out: the first environment other "
          "than `to`"),
]  # fmt: skip
To = Annotated[
    str | None,
    Query(max_length=64, description="Left out: the project's first environment (production "
          "in a new project)"),
]  # fmt: skip


@router.get(
    "/compare",
    summary="Compare two environments: every flag of the project",
    responses=answer(ProjectComparison, "Every flag, those that differ first"),
)
def compare_project(
    org: str,
    project: str,
    actor: CurrentActor,
    services: ServicesDep,
    from_: From = None,
    to: To = None,
) -> Any:
    """The same environment twice answers 422 `same_environment`."""
    return services.promotion.compare_project(actor, org, project, from_, to)


@router.get(
    "/flags/{flag}/compare",
    summary="Compare a flag's configuration in two environments",
    responses=answer(FlagComparison, "The flag part by part, each part's lines side by side"),
)
def compare_flag(
    org: str,
    project: str,
    flag: str,
    actor: CurrentActor,
    services: ServicesDep,
    from_: From = None,
    to: To = None,
) -> Any:
    """The parts compared are `on`, `off_variation`, `prerequisites`, `targets`, `rules`,
    `fallthrough` and `client_side`; rule ids are not (two rules alike are the same rule).
    The same environment twice answers 422 `same_environment`."""
    return services.promotion.compare_flag(actor, org, project, flag, from_, to)


@router.post(
    "/flags/{flag}/copy",
    summary="Copy a flag's configuration, or parts of it, to another environment",
    responses=answer(CopyResult, "What was copied, and the target's configuration now"),
)
def copy(
    org: str,
    project: str,
    flag: str,
    body: CopyIn,
    actor: CurrentActor,
    services: ServicesDep,
    if_match: IfMatch = None,
) -> Any:
    """A change of `to`'s configuration like any other (PATCH of the parts that differ):
    validated, versioned, audited with `comment`, sent to webhooks. `If-Match` is `to`'s
    version as you saw it (412 if it moved). Rules that use a segment `to` does not have
    answer 422 `segments_missing` naming them: create them there first."""
    who = with_comment(actor, body.comment) if body.comment is not None else actor
    return services.promotion.copy(
        who, org, project, flag,
        from_key=body.from_, to_key=body.to, parts=body.parts,
        if_match=if_match_version(if_match),
    )  # fmt: skip


@router.post(
    "/flags/bulk",
    summary="Act on several flags at once",
    responses=answer(BulkResult, "One result per flag, in the order given"),
)
def bulk(org: str, project: str, body: BulkIn, actor: CurrentActor, services: ServicesDep) -> Any:
    """`on`/`off` (in `environment`), `archive`, `add_tag`/`remove_tag` (`tag`). Each flag
    goes through the same call as a single change of it (audit, webhooks), in its own
    transaction: a flag that is refused (missing: `not_found`; on somewhere when archiving:
    `flag_in_use`) gets its error in `results` and the others go ahead. The answer is 200
    whenever the request itself was valid: read `failed`."""
    who = with_comment(actor, body.comment) if body.comment is not None else actor
    return services.bulk.run(
        who, org, project,
        action=body.action, flags=body.flags, environment=body.environment, tag=body.tag,
    )  # fmt: skip
