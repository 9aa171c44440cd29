"""Request and answer shapes of comparing environments, copying between them, and bulk actions
(OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from ..services.shapes import Key, Strict
from .models import ChangeRequest, FlagConfig, Index

__all__ = [
    "BulkIn",
    "BulkResult",
    "CopyIn",
    "CopyResult",
    "FlagComparison",
    "ProjectComparison",
]

Part = Literal["on", "off_variation", "prerequisites", "targets", "rules", "fallthrough",
               "client_side"]  # fmt: skip
Comment = Annotated[
    str | None,
    Field(max_length=1000, description="Why: kept with the audit entry, sent to webhooks"),
]


class CopyIn(Strict):
    from_: Annotated[Key, Field(alias="from", description="The environment copied from")]
    to: Annotated[Key, Field(description="The environment copied to")]
    parts: Annotated[
        list[Part] | None,
        Field(min_length=1, max_length=7, description="What to copy; left out: all of it"),
    ] = None
    comment: Comment = None


class BulkIn(Strict):
    action: Literal["on", "off", "archive", "add_tag", "remove_tag"]
    flags: Annotated[list[Key], Field(min_length=1, max_length=500)]
    environment: Annotated[Key | None, Field(description="For `on` and `off`")] = None
    tag: Annotated[
        str | None, Field(max_length=64, description="For `add_tag` and `remove_tag`")
    ] = None
    comment: Comment = None


class Line(TypedDict):
    kind: Annotated[
        Literal["same", "changed", "removed", "added"],
        Field(description="`removed`: only in `from`; `added`: only in `to`"),
    ]
    from_: Annotated[str | None, Field(alias="from")]
    to: str | None


class PartComparison(TypedDict):
    part: Part
    label: str
    differs: bool
    lines: Annotated[list[Line], Field(description="The part in words, side by side")]


class ComparedFlag(TypedDict):
    key: str
    name: str
    archived: bool


class ConfigView(TypedDict):
    version: int
    on: bool
    off_variation: Index | None
    prerequisites: list[Any]
    targets: list[Any]
    rules: list[Any]
    fallthrough: Any
    client_side: bool


class FlagComparison(TypedDict):
    flag: ComparedFlag
    from_: Annotated[str, Field(alias="from")]
    to: str
    differs: bool
    differing_parts: list[Part]
    parts: list[PartComparison]
    from_config: ConfigView
    to_config: ConfigView
    to_protected: Annotated[
        bool, Field(description="`to` is protected: a copy there opens a change request")
    ]
    segments_missing: Annotated[
        list[str],
        Field(description="Segments the `from` rules use that `to` does not have: copying "
              "the rules is refused until they exist there"),
    ]  # fmt: skip


class ProjectFlagRow(TypedDict):
    key: str
    name: str
    archived: bool
    differs: bool
    differing_parts: list[Part]
    from_on: bool
    to_on: bool


class ProjectComparison(TypedDict):
    from_: Annotated[str, Field(alias="from")]
    to: str
    differing: Annotated[int, Field(description="How many flags differ")]
    flags: Annotated[list[ProjectFlagRow], Field(description="Those that differ first")]


class CopyResult(TypedDict):
    flag: str
    from_: Annotated[str, Field(alias="from")]
    to: str
    parts: list[Part]
    changed: Annotated[
        list[Part],
        Field(
            description="The parts that changed; empty: `to` already matched, or `to` is "
            "protected and the copy is a change request"
        ),
    ]
    config: FlagConfig
    request: NotRequired[
        Annotated[
            ChangeRequest,
            Field(
                description="When `to` is protected: the change request the copy opened "
                "(`config` is `to`'s configuration, unchanged until it is approved and applied)"
            ),
        ]
    ]


class BulkError(TypedDict):
    code: str
    message: str


class BulkFlagResult(TypedDict):
    flag: str
    ok: bool
    changed: NotRequired[
        Annotated[bool, Field(description="With `ok`: false when it already was so")]
    ]
    error: NotRequired[
        Annotated[BulkError, Field(description="Without `ok`: why this flag was refused")]
    ]


class BulkResult(TypedDict):
    action: str
    environment: str | None
    tag: str | None
    succeeded: int
    failed: int
    results: Annotated[list[BulkFlagResult], Field(description="One per flag, in order")]
