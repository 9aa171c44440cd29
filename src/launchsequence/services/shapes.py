"""The shapes of request bodies (admin API, imports). Strict: no coercion, unknown fields refused.

They check shapes and limits; the services check meaning (and the engine, flag configurations).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SegmentWrite",
    "RejectionIn",
    "EnvironmentPatchIn",
    "ConfigPutWrite",
    "ConfigPatchWrite",
    "ChangeRequestIn",
    "ChangeRequestEdit",
    "ApprovalIn",
    "ApplyIn",
    "MAX_ID",
    "ConfigPatch",
    "ConfigPut",
    "Metadata",
    "EnvironmentIn",
    "FlagIn",
    "FlagPatch",
    "InvitationIn",
    "LoginIn",
    "MemberIn",
    "NameIn",
    "Operator",
    "OrgIn",
    "ProjectIn",
    "ProjectRoleIn",
    "RoleIn",
    "ScheduleEdit",
    "ScheduleIn",
    "SdkKeyIn",
    "SegmentIn",
    "SignupIn",
    "TokenIn",
    "WebhookIn",
    "WebhookPatch",
]

#: The largest row id (the id columns are 32-bit): a larger id in a path or query is refused
#: before it reaches the database, which could not bind it. Ids start at 1: the routes take
#: `ge=1` too (SQLite cannot bind an integer below -2**63 either: that was a 500).
MAX_ID = 2**31 - 1
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ContextKey = Annotated[str, Field(min_length=1, max_length=1024)]
Operator = Literal[
    "in", "contains", "starts_with", "ends_with", "lt", "lte", "gt", "gte",
    "semver_eq", "semver_lt", "semver_gt", "before", "after", "segment_match",
]  # fmt: skip


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SignupIn(Strict):
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1024)]
    name: Annotated[str, Field(max_length=200)] | None = None
    invitation: Annotated[str, Field(max_length=100)] | None = None
    organization: (
        Annotated[
            str,
            Field(
                max_length=200,
                description="The team's name, for the new organization (default: your name)",
            ),
        ]
        | None
    ) = None


class InvitationIn(Strict):
    role: Literal["owner", "admin", "viewer"]
    email: Annotated[str, Field(max_length=320)] | None = None


class LoginIn(Strict):
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1024)]
    code: Annotated[
        str | None,
        Field(
            max_length=64,
            description="For a user with a second factor: the code from the authenticator "
            "app, or a recovery code",
        ),
    ] = None


class TokenIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class NameIn(Strict):
    name: Name


class OrgIn(Strict):
    key: Key
    name: Name


class MemberIn(Strict):
    email: Annotated[str, Field(max_length=320)]
    role: Literal["owner", "admin", "viewer"]


class RoleIn(Strict):
    role: Literal["owner", "admin", "viewer"]


class ProjectRoleIn(Strict):
    role: Annotated[
        Literal["admin", "viewer"],
        Field(description="`admin` changes what the project serves; `viewer` reads only"),
    ]


class EnvironmentIn(Strict):
    key: Key
    name: Name | None = None


class EnvironmentPatchIn(Strict):
    """The settings of an environment to change; each optional, those left out stay. One
    field per setting, named as `Orgs.update_environment` takes it (protection also in
    `services/environment_settings.py`)."""

    name: Name | None = None
    confirm_changes: Annotated[
        bool | None,
        Field(
            description="The dashboard asks to confirm each toggle or saved configuration in "
            "this environment, with an optional comment (the API never asks)"
        ),
    ] = None
    protected: bool | None = Field(
        default=None, description="Changes need an approved change request (admins and owners)"
    )
    required_approvals: Annotated[int, Field(ge=1, le=10)] | None = Field(
        default=None, description="Approvals a change request needs, by others than its author"
    )

    def changes(self) -> dict[str, Any]:
        """The settings sent (a null is refused by the service, naming the field)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Bypass(Strict):
    """An owner's emergency write to a protected environment, without a change request: loud
    in the audit log and webhooks (`protection.bypassed`)."""

    bypass_protection: bool | None = Field(
        default=None, description="Owners only: write past a protected environment's gate"
    )
    bypass_reason: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, description="Required with bypass_protection: why"
    )


class ProjectIn(Strict):
    key: Key
    name: Name
    environments: Annotated[list[EnvironmentIn], Field(max_length=50)] | None = None


class SdkKeyIn(Strict):
    kind: Literal["server", "client"]
    grace_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] | None = Field(
        default=None,
        description="How long the replaced key keeps working; default: the server's setting.",
    )


class VariationIn(Strict):
    value: Any
    name: Annotated[str, Field(max_length=100)] | None = None


class DefaultsIn(Strict):
    on_variation: Annotated[int, Field(ge=0, lt=100)] | None = None
    off_variation: Annotated[int, Field(ge=0, lt=100)] | None = None


#: Flag metadata: small labels (owner, team, ticket, ...); the service checks the limits
#: (`services/flags.py`: entries, name and string lengths), the engine checks them again.
Metadata = Annotated[dict[str, str | bool | int | float], Field(max_length=32)]


Owner = Annotated[
    str,
    Field(max_length=320, description="The email of a member of the organization; null: nobody"),
]
Kind = Annotated[
    Literal["temporary", "permanent"],
    Field(description="A temporary flag is meant to be removed once launched (the default)"),
]
RemovalDate = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description="The day (UTC) a temporary flag is expected to be removed; null: none",
    ),
]


class FlagIn(Strict):
    key: Key
    name: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=10_000)] = ""
    tags: Annotated[list[str], Field(max_length=50)] = []
    type: Literal["boolean", "string", "number", "json"] = "boolean"
    variations: Annotated[list[VariationIn], Field(min_length=1, max_length=100)] | None = None
    defaults: DefaultsIn | None = None
    client_side: bool = False
    metadata: Metadata | None = None
    owner: Owner | None = None
    kind: Kind | None = None
    removal_date: RemovalDate | None = None


class FlagPatch(Strict):
    name: Name | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    tags: Annotated[list[str], Field(max_length=50)] | None = None
    variations: Annotated[list[VariationIn], Field(min_length=1, max_length=100)] | None = None
    defaults: DefaultsIn | None = None
    archived: bool | None = None
    metadata: Metadata | None = None
    owner: Owner | None = None
    kind: Kind | None = None
    removal_date: RemovalDate | None = None


class PrerequisiteIn(Strict):
    flag: Key
    variation: Annotated[int, Field(ge=0, lt=100)]


class TargetIn(Strict):
    variation: int
    values: Annotated[list[ContextKey], Field(max_length=10_000)]


class ClauseIn(Strict):
    attribute: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    op: Operator
    values: Annotated[list[Any], Field(min_length=1, max_length=10_000)]
    negate: bool = False


class WeightIn(Strict):
    variation: int
    weight: Annotated[int, Field(ge=0, le=100_000)]


class RolloutIn(Strict):
    bucket_by: Annotated[str, Field(min_length=1, max_length=256)] = "key"
    weights: Annotated[list[WeightIn], Field(min_length=1, max_length=100)]


class ServeIn(Strict):
    variation: int | None = None
    rollout: RolloutIn | None = None


class RuleIn(Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    clauses: Annotated[list[ClauseIn], Field(max_length=100)] = []
    serve: ServeIn


class SegmentRuleIn(Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    clauses: Annotated[list[ClauseIn], Field(max_length=100)] = []


class ConfigPut(Strict):
    on: bool
    # Required, but may be null: the flag then serves the application's own default.
    off_variation: int | None
    prerequisites: Annotated[list[PrerequisiteIn], Field(max_length=100)] = []
    targets: Annotated[list[TargetIn], Field(max_length=100)] = []
    rules: Annotated[list[RuleIn], Field(max_length=1000)] = []
    fallthrough: ServeIn | None
    client_side: bool | None = None


class ConfigPatch(Strict):
    on: bool | None = None
    off_variation: int | None = None  # null: serve the application's default
    prerequisites: Annotated[list[PrerequisiteIn], Field(max_length=100)] | None = None
    targets: Annotated[list[TargetIn], Field(max_length=100)] | None = None
    rules: Annotated[list[RuleIn], Field(max_length=1000)] | None = None
    fallthrough: ServeIn | None = None
    client_side: bool | None = None


class ConfigPutWrite(ConfigPut, Bypass):
    pass


class ConfigPatchWrite(ConfigPatch, Bypass):
    pass


class ChangeRequestIn(Strict):
    flag: Key
    environment: Key
    changes: ConfigPatch
    comment: Annotated[str, Field(max_length=1000)] | None = None


class ChangeRequestEdit(Strict):
    changes: ConfigPatch | None = None
    comment: Annotated[str, Field(max_length=1000)] | None = None


class ApprovalIn(Strict):
    revision: Annotated[int, Field(ge=1, le=MAX_ID)] | None = Field(
        default=None, description="Approve only this revision (409 request_changed if edited)"
    )


class RejectionIn(Strict):
    reason: Annotated[str, Field(max_length=1000)] | None = None


class ApplyIn(Strict):
    at: (
        Annotated[
            int | Annotated[str, Field(max_length=64)],
            Field(description="Apply at this time instead of now: ISO 8601 or Unix ms"),
        ]
        | None
    ) = None


class ScheduleIn(Strict):
    environment: Key
    at: Annotated[
        int | Annotated[str, Field(max_length=64)],
        Field(description='When: ISO 8601 with a time zone ("2026-12-24T09:00:00Z") or Unix ms'),
    ]
    changes: ConfigPatch
    comment: Annotated[str, Field(max_length=1000)] | None = None


class ScheduleEdit(Strict):
    at: (
        Annotated[
            int | Annotated[str, Field(max_length=64)],
            Field(
                description='When: ISO 8601 with a time zone ("2026-12-24T09:00:00Z") or Unix ms'
            ),
        ]
        | None
    ) = None
    changes: ConfigPatch | None = None
    comment: Annotated[str, Field(max_length=1000)] | None = None


class SegmentIn(Strict):
    name: Name | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    included: Annotated[list[ContextKey], Field(max_length=10_000)] | None = None
    excluded: Annotated[list[ContextKey], Field(max_length=10_000)] | None = None
    rules: Annotated[list[SegmentRuleIn], Field(max_length=1000)] | None = None


class SegmentWrite(SegmentIn, Bypass):
    pass


EventTypes = Annotated[
    list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=50)
]


class WebhookIn(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    project: Key | None = None
    events: EventTypes = ["*"]
    format: Literal["json", "slack"] = "json"
    enabled: bool = True
    description: Annotated[str, Field(max_length=200)] = ""


class WebhookPatch(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    events: EventTypes | None = None
    format: Literal["json", "slack"] | None = None
    enabled: bool | None = None
    description: Annotated[str, Field(max_length=200)] | None = None
