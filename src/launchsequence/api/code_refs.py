"""Code references: scans uploaded by `launchseq code-refs`, listed per flag and per project."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from fastapi import APIRouter, Query, Response
from pydantic import Field
from typing_extensions import TypedDict

from .auth import CurrentActor, ServicesDep
from .models import Millis, answer
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}", tags=["code references"],
    route_class=StrictJSONRoute,
)  # fmt: skip

Kind = Annotated[
    Literal["call", "string", "comment"],
    Field(
        description="`call`: the key is the first argument of an SDK or OpenFeature call "
        "(Python, JavaScript, TypeScript); `string`: the key as a whole string literal "
        "anywhere else, or in another language; `comment`: in a comment"
    ),
]


class Context(TypedDict):
    start: Annotated[int, Field(description="Line number of the first line")]
    lines: Annotated[list[str], Field(description="At most 7 lines of at most 300 characters")]


class RefIn(TypedDict):
    flag: str
    path: Annotated[str, Field(description="Relative to the repository's root, with '/'")]
    line: int
    kind: NotRequired[Kind]
    context: NotRequired[Context]


class ScanIn(TypedDict):
    repository: Annotated[str, Field(description="A name like owner/name")]
    branch: str
    commit: Annotated[str, Field(description="The commit scanned (hexadecimal id)")]
    link_template: NotRequired[
        Annotated[
            str | None,
            Field(
                description="A URL to a line of a file, with {commit}, {path}, {line} and "
                "{branch}, like GitHub's `…/o/r/blob/{commit}/{path}#L{line}`"
            ),
        ]
    ]
    refs: Annotated[
        list[RefIn],
        Field(description="At most 5000 (`too_many_refs`), in at most 1000 files "
              "(`too_many_files`)"),
    ]  # fmt: skip


class Scan(TypedDict):
    repository: str
    branch: str
    commit: str
    link_template: str | None
    refs: int
    files: int
    scanned_at: Millis


class ScanList(TypedDict):
    scans: list[Scan]


class Ref(TypedDict):
    repository: str
    branch: str
    commit: str
    path: str
    line: int
    kind: Kind
    context: Context
    link: Annotated[str, Field(description="From the scan's link template; empty without one")]


class FlagRefs(TypedDict):
    flag: str
    scanned: Annotated[
        bool, Field(description="False: the project was never scanned (not: no references)")
    ]
    scans: list[Scan]
    refs: list[Ref]


@router.post(
    "/code-refs",
    summary="Upload a repository's scan (replaces that branch's previous scan)",
    responses=answer(Scan, "The scan as stored"),
)
def upload_scan(
    org: str, project: str, body: ScanIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """What `launchseq code-refs` sends. Admins and owners only (a personal API token in CI).
    The server keeps the latest scan per (project, repository, branch)."""
    return services.code_refs.upload(actor, org, project, dict(body))


@router.get(
    "/code-refs",
    summary="The project's scanned repositories and branches",
    responses=answer(ScanList, "One entry per repository and branch"),
)
def list_scans(org: str, project: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.code_refs.repositories(actor, org, project)


@router.delete("/code-refs", status_code=204, summary="Delete a repository's scans")
def delete_scans(
    org: str,
    project: str,
    actor: CurrentActor,
    services: ServicesDep,
    repository: Annotated[
        str | None, Query(max_length=200, description="The repository (required)")
    ] = None,
    branch: Annotated[
        str | None, Query(max_length=200, description="Only this branch's scan")
    ] = None,
) -> Response:
    """404 when the repository (or branch) has no scan."""
    services.code_refs.delete(actor, org, project, repository, branch)
    return Response(status_code=204)


@router.get(
    "/flags/{flag}/code-refs",
    summary="A flag's code references",
    responses=answer(FlagRefs, "References in the latest scan of each repository and branch"),
)
def flag_code_refs(
    org: str, project: str, flag: str, actor: CurrentActor, services: ServicesDep
) -> Any:
    return services.code_refs.for_flag(actor, org, project, flag)
