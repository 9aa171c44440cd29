"""The shapes of the admin API's success answers, for the OpenAPI document.

They describe the dictionaries the services return. Routes declare them with
`responses=answer(...)` and keep returning `Any`, so answers go out exactly as the services
made them: as a `response_model`, FastAPI would validate and copy every answer, drop any field
not declared and turn integers into floats where a float is declared. What keeps the document
true is the tests: `tests/http/test_openapi.py` checks real answers against it (a field the
document does not name fails), and the schemathesis suite checks every answer it provokes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from fastapi import Query
from pydantic import Field

# pydantic reads TypedDicts only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict

from ..services.shapes import Operator

__all__ = [
    "CONFIG_ETAG",
    "CURRENT_ETAG",
    "Force",
    "AuditPage",
    "Environment",
    "EnvironmentList",
    "ExportDocument",
    "Flag",
    "FlagConfig",
    "FlagList",
    "ImportSummary",
    "Invitation",
    "InvitationList",
    "Me",
    "Member",
    "MemberList",
    "NewInvitation",
    "NewToken",
    "Organization",
    "OrganizationList",
    "Project",
    "ProjectList",
    "RotatedSdkKey",
    "Schedule",
    "ScheduleList",
    "Segment",
    "SegmentList",
    "Snapshot",
    "TokenList",
    "answer",
]

Millis = Annotated[int, Field(description="Unix time in milliseconds")]
Role = Literal["owner", "admin", "viewer"]
FlagType = Literal["boolean", "string", "number", "json"]
Index = Annotated[int, Field(ge=0, description="An index into the flag's `variations`")]
AnyJSON = Annotated[Any, Field(description="Any JSON value")]

_ETAG_SCHEMA = {"type": "string", "pattern": r'^"[0-9]+"$'}

#: The ETag of a flag's configuration, on every answer that shows one.
CONFIG_ETAG: dict[str, Any] = {
    "ETag": {
        "description": 'The configuration\'s version, quoted (`"7"`): send it back as '
        "If-Match so that a write made meanwhile by someone else answers 412.",
        "required": True,
        "schema": {**_ETAG_SCHEMA},
    }
}

#: The ETag of a 412 answer to a configuration write: the version it is at now.
CURRENT_ETAG: dict[str, Any] = {
    "ETag": {
        "description": "The configuration's current version, when known: reload it, then "
        "retry with this If-Match.",
        "schema": {**_ETAG_SCHEMA},
    }
}


#: `?force=true`: go ahead although flags are on (archive or delete a live flag, delete an
#: environment or a project with flags on). Without it such a change answers 409.
Force = Annotated[
    bool,
    Query(
        description="Go ahead although the flag (or a flag of the environment or project) is "
        "on somewhere. Without it, such a change answers 409 `flag_in_use`, "
        "`environment_in_use` or `project_in_use` listing the live `environments` and `flags`, "
        "and changes nothing: applications would get their code default (FLAG_NOT_FOUND) "
        "at once. It also goes ahead for a flag other flags require as a prerequisite "
        "(otherwise 409 `flag_has_dependents` listing them in `dependents`)."
    ),
]


def answer(
    model: Any, description: str, status: int = 200, *, headers: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route answering `model` (as JSON) with `status`."""
    entry: dict[str, Any] = {"model": model, "description": description}
    if headers:
        entry["headers"] = headers
    return {status: entry}


# --- flags and their configuration ------------------------------------------------------------


class Variation(TypedDict):
    value: AnyJSON
    name: NotRequired[str]


class FlagDefaults(TypedDict):
    """What a new environment serves: `on_variation` once turned on, `off_variation` when off."""

    on_variation: Index
    off_variation: Index


class FlagState(TypedDict):
    """A flag's state in one environment."""

    on: bool
    version: Annotated[int, Field(description="The configuration's version (its ETag)")]
    client_side: bool


class Flag(TypedDict):
    """A flag, with its state in each environment (by environment key)."""

    key: str
    name: str
    description: str
    tags: list[str]
    type: FlagType
    variations: list[Variation]
    defaults: FlagDefaults
    metadata: Annotated[
        dict[str, str | bool | float],
        Field(description="Labels that reach OFREP answers and OpenFeature's flag metadata"),
    ]
    archived: bool
    owner: Annotated[str | None, Field(description="The member answering for it (email)")]
    kind: Literal["temporary", "permanent"]
    removal_date: Annotated[
        str | None, Field(description="Expected removal day of a temporary flag, YYYY-MM-DD")
    ]
    created_at: Millis
    updated_at: Millis
    changed_at: NotRequired[
        Annotated[
            Millis,
            Field(description="In lists: the last change to the flag or any of its configurations"),
        ]
    ]
    environments: dict[str, FlagState]
    dependents: NotRequired[
        Annotated[
            dict[str, list[str]],
            Field(description="Flags requiring this one, by environment key"),
        ]
    ]


class Prerequisite(TypedDict):
    """`flag` (of the same project) must serve `variation`, else the off result is served."""

    flag: str
    variation: Index


class FlagList(TypedDict):
    flags: list[Flag]


class Target(TypedDict):
    """Context keys served `variation` before any rule."""

    variation: Index
    values: list[str]


class Clause(TypedDict):
    attribute: NotRequired[Annotated[str, Field(description="Not used by segment_match")]]
    op: Operator
    values: list[AnyJSON]
    negate: NotRequired[bool]


class Weight(TypedDict):
    variation: Index
    weight: Annotated[int, Field(ge=0, le=100_000, description="Out of 100000")]


class Rollout(TypedDict):
    bucket_by: NotRequired[Annotated[str, Field(description="Default: the context key")]]
    weights: list[Weight]


class Serve(TypedDict):
    """Exactly one of a fixed `variation` and a percentage `rollout`."""

    variation: NotRequired[Index]
    rollout: NotRequired[Rollout]


class Rule(TypedDict):
    """Serves `serve` to contexts matching every clause."""

    id: str
    description: NotRequired[str]
    clauses: NotRequired[list[Clause]]
    serve: Serve


class FlagConfig(TypedDict):
    """A flag's configuration in one environment."""

    environment: str
    on: bool
    version: Annotated[int, Field(description="Also the answer's ETag")]
    client_side: Annotated[bool, Field(description="May a client key see it")]
    off_variation: Annotated[
        Index | None, Field(description="null: serve the application's default when off")
    ]
    prerequisites: list[Prerequisite]
    targets: list[Target]
    rules: list[Rule]
    fallthrough: Annotated[Serve | None, Field(description="null: serve the application's default")]
    updated_at: Millis


# --- segments and snapshots -------------------------------------------------------------------


class SegmentRule(TypedDict):
    id: str
    description: NotRequired[str]
    clauses: NotRequired[list[Clause]]


class Segment(TypedDict):
    """Members: keys in `included`; else not keys in `excluded`; else contexts any rule
    matches."""

    key: str
    name: str
    description: str
    included: list[str]
    excluded: list[str]
    rules: list[SegmentRule]
    version: int
    updated_at: Millis


class SegmentList(TypedDict):
    segments: list[Segment]


class SnapshotFlag(TypedDict):
    key: str
    type: FlagType
    variations: list[Variation]
    salt: str
    version: int
    on: bool
    client_side: bool
    off_variation: Index | None
    prerequisites: NotRequired[list[Prerequisite]]
    targets: list[Target]
    rules: list[Rule]
    fallthrough: Serve | None
    metadata: NotRequired[dict[str, str | bool | float]]


class SnapshotSegment(TypedDict):
    key: str
    version: int
    included: list[str]
    excluded: list[str]
    rules: list[SegmentRule]


class Snapshot(TypedDict):
    """What SDKs download and the engine compiles (spec/schemas/snapshot.schema.json);
    archived flags are left out."""

    schema_version: Literal[2]
    project: str
    environment: str
    version: Annotated[int, Field(description="The environment's version")]
    flags: dict[str, SnapshotFlag]
    segments: dict[str, SnapshotSegment]


# --- organizations, projects, environments ----------------------------------------------------


class Organization(TypedDict):
    """An organization, with the caller's role in it."""

    key: str
    name: str
    role: Role


class OrganizationList(TypedDict):
    organizations: list[Organization]


class Member(TypedDict):
    user_id: int
    email: str
    name: str
    role: Role


class MemberList(TypedDict):
    members: list[Member]


class SdkKey(TypedDict):
    kind: Literal["server", "client"]
    prefix: Annotated[str, Field(description="The key's first characters, to recognize it")]
    created_at: Millis
    expires_at: Annotated[
        Millis | None, Field(description="Set once rotated: the end of its grace period")
    ]
    key: NotRequired[
        Annotated[
            str,
            Field(
                description="The key in full: always for a client key (it is public), for a "
                "server key only in the answer that created it"
            ),
        ]
    ]


class Environment(TypedDict):
    key: str
    name: str
    version: Annotated[int, Field(description="Grows with every change to what it serves")]
    created_at: Millis
    protected: Annotated[bool, Field(description="Changes need an approved change request")]
    required_approvals: Annotated[
        int, Field(description="Approvals a change request needs here (by others than its author)")
    ]
    confirm_changes: Annotated[
        bool,
        Field(
            description="The dashboard asks to confirm each toggle or saved configuration "
            "here, with an optional comment (on by default for production)"
        ),
    ]
    sdk_keys: list[SdkKey]


class EnvironmentList(TypedDict):
    environments: list[Environment]


class RotatedSdkKey(TypedDict):
    """The new key, in full only here."""

    kind: Literal["server", "client"]
    key: str
    prefix: str
    created_at: Millis
    previous_key_expires_at: Annotated[
        Millis, Field(description="When the key it replaces stops working")
    ]


class Project(TypedDict):
    key: str
    name: str
    created_at: Millis
    environments: list[Environment]


class ProjectList(TypedDict):
    projects: list[Project]


# --- accounts, tokens, invitations, audit -----------------------------------------------------


class User(TypedDict):
    id: int
    email: str
    name: str


class Me(TypedDict):
    """The logged-in user and their organizations."""

    user: User
    organizations: list[Organization]
    csrf_token: NotRequired[
        Annotated[
            str,
            Field(
                description="Cookie sessions only: send it as X-CSRF-Token with every unsafe "
                "request"
            ),
        ]
    ]


class Token(TypedDict):
    id: int
    name: str
    prefix: str
    created_at: Millis
    last_used_at: Millis | None


class NewToken(Token):
    token: Annotated[str, Field(description="The token in full: shown here only, ever")]


class TokenList(TypedDict):
    tokens: list[Token]


class Invitation(TypedDict):
    id: int
    email: Annotated[str | None, Field(description="Only this email may accept it, if set")]
    role: Role
    invited_by: str
    created_at: Millis
    expires_at: Millis


class NewInvitation(Invitation):
    token: Annotated[str, Field(description="Shown here only, ever")]
    url: Annotated[str, Field(description="The sign-up link to send")]
    emailed: Annotated[
        bool,
        Field(description="The link was also emailed to `email` (the server has SMTP set up)"),
    ]


class InvitationList(TypedDict):
    invitations: list[Invitation]


class AuditEntry(TypedDict):
    id: int
    at: Millis
    actor: Annotated[str, Field(description="The email of who made the change, or `system`")]
    actor_name: Annotated[
        str | None, Field(description="Their name today (null once the account is gone)")
    ]
    action: Annotated[str, Field(description="Like `flag.toggled` or `member.added`")]
    resource: str
    project: str | None
    environment: str | None
    flag: str | None
    before: AnyJSON
    after: AnyJSON
    comment: Annotated[
        str | None,
        Field(description="Why, as given with the change (X-LaunchSequence-Comment header)"),
    ]


class AuditPage(TypedDict):
    """Entries newest first."""

    entries: list[AuditEntry]
    next: Annotated[
        int | None, Field(description="Pass as `before` for the next page; null at the end")
    ]


# --- export and import ------------------------------------------------------------------------


class ExportProject(TypedDict):
    key: str
    name: str


class ExportEnvironment(TypedDict):
    key: str
    name: str


class ExportDefaults(FlagDefaults):
    client_side: bool


class ExportConfig(TypedDict):
    on: bool
    off_variation: Index | None
    prerequisites: list[Prerequisite]
    targets: list[Target]
    rules: list[Rule]
    fallthrough: Serve | None
    client_side: bool


class ExportFlag(TypedDict):
    key: str
    name: str
    description: str
    tags: list[str]
    type: FlagType
    variations: list[Variation]
    salt: str
    defaults: ExportDefaults
    metadata: dict[str, str | bool | float]
    archived: bool
    owner: NotRequired[
        Annotated[
            str | None,
            Field(description="A member's email; one who is not a member imports as none"),
        ]
    ]
    kind: NotRequired[Literal["temporary", "permanent"]]
    removal_date: NotRequired[str | None]
    environments: dict[str, ExportConfig]


class ExportSegment(TypedDict):
    key: str
    name: str
    description: str
    included: list[str]
    excluded: list[str]
    rules: list[SegmentRule]


class ExportDocument(TypedDict):
    """A project's flags and segments; what import reads."""

    format: Literal["launchsequence-project"]
    version: Literal[1]
    project: ExportProject
    environments: list[ExportEnvironment]
    flags: list[ExportFlag]
    segments: Annotated[dict[str, list[ExportSegment]], Field(description="By environment key")]


class ImportCounts(TypedDict):
    created: int
    updated: int
    unchanged: int


class ImportSummary(TypedDict):
    project: str
    project_created: bool
    environments_created: list[str]
    flags: ImportCounts
    segments: ImportCounts


# --- scheduled changes ------------------------------------------------------------------------


class Schedule(TypedDict):
    id: int
    project: str
    flag: Annotated[str, Field(description="The flag's key (kept after it is deleted)")]
    environment: str
    at: Annotated[int, Field(description="When it applies (Unix ms)")]
    changes: Annotated[
        dict[str, Any], Field(description="The PATCH body it applies: configuration fields")
    ]
    comment: str
    author: Annotated[str, Field(description="Email of who scheduled it")]
    status: Literal["pending", "applied", "failed", "cancelled"]
    reason: Annotated[str | None, Field(description="Why it failed")]
    note: Annotated[str | None, Field(description='How it applied, e.g. "applied 3 h late"')]
    version: Annotated[int | None, Field(description="The configuration version it made")]
    created_at: Millis
    updated_at: Millis
    finished_at: Annotated[int | None, Field(description="Applied, failed or cancelled (ms)")]
    change_request: Annotated[
        int | None, Field(description="The approved change request it applies, if any")
    ]


class ScheduleList(TypedDict):
    schedules: list[Schedule]


# --- change requests --------------------------------------------------------------------------


class RequestApproval(TypedDict):
    by: Annotated[str, Field(description="Email of the approver")]
    at: Millis


class RequestDiff(TypedDict):
    before: Annotated[
        dict[str, Any], Field(description="The fields it sets, as they were when it was made")
    ]
    after: Annotated[dict[str, Any], Field(description="The fields it sets, as it sets them")]
    current: Annotated[dict[str, Any] | None, Field(description="The same fields as they are now")]
    current_version: int | None
    conflict: Annotated[
        str | None, Field(description="Why it would not apply now (the flag changed since)")
    ]


class ChangeRequest(TypedDict):
    id: int
    project: str
    flag: Annotated[str, Field(description="The flag's key (kept after it is deleted)")]
    environment: str
    changes: Annotated[
        dict[str, Any], Field(description="The PATCH body it applies: configuration fields")
    ]
    base: Annotated[dict[str, Any], Field(description="Those fields when it was made")]
    base_version: int
    comment: str
    author: Annotated[str, Field(description="Email of who opened it")]
    state: Literal["open", "approved", "scheduled", "applied", "rejected", "cancelled", "failed"]
    revision: Annotated[int, Field(description="Grows with each edit; edits void approvals")]
    approvals: Annotated[
        list[RequestApproval], Field(description="Approvals of the current revision that count")
    ]
    approvals_required: int
    voided_approvals: Annotated[int, Field(description="Approvals of earlier revisions")]
    apply_at: Annotated[int | None, Field(description="When it applies, if scheduled (ms)")]
    schedule: Annotated[int | None, Field(description="Its scheduled change's id, if any")]
    closed_by: str | None
    reason: Annotated[str | None, Field(description="Why it was rejected, or failed")]
    version: Annotated[int | None, Field(description="The configuration version it made")]
    created_at: Millis
    updated_at: Millis
    closed_at: Millis | None
    diff: NotRequired[RequestDiff]
    may: NotRequired[
        Annotated[dict[str, bool], Field(description="What the caller may do with it now")]
    ]


class ChangeRequestList(TypedDict):
    change_requests: list[ChangeRequest]
