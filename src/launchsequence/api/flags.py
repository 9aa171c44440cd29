"""Flags and their configuration per environment."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response

from ..services import Invalid
from ..services.protection import bypass_from
from ..services.shapes import ConfigPatch, ConfigPatchWrite, ConfigPutWrite, FlagIn, FlagPatch
from .auth import CurrentActor, ServicesDep
from .errors import ERROR_RESPONSES
from .models import CONFIG_ETAG, CURRENT_ETAG, Flag, FlagConfig, FlagList, Force, answer
from .numbers import VariationIndex
from .responses import JSONBytes
from .routing import StrictJSONRoute

__all__ = ["IfMatch", "if_match_version", "patch_body", "router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}/flags",
    tags=["flags"],
    route_class=StrictJSONRoute,
)

# ASCII digits, as the ETag is written (`\d` would take other scripts' digits too).
_ETAG = re.compile(r'\s*(?:W/)?"?([0-9]{1,12})"?\s*')


def if_match_version(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.fullmatch(value)
    if match is None:
        raise Invalid('must be the ETag of the configuration, like "7"', field="If-Match")
    return int(match.group(1))


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The configuration's ETag as read; a stale one answers 412 and changes "
        "nothing.",
    ),
]


@router.get(
    "",
    summary="Flags of a project",
    responses=answer(FlagList, "The flags, with their state in each environment"),
)
def list_flags(
    org: str,
    project: str,
    actor: CurrentActor,
    services: ServicesDep,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search keys and names")] = None,
    archived: Literal["false", "true", "all"] = "false",
) -> Any:
    which = {"false": False, "true": True, "all": None}[archived]
    flags = services.flags.list_flags(actor, org, project, archived=which, tag=tag, search=q)
    # Encoded here, by orjson: FastAPI's generic serialization of a large list (a walk over
    # every value) took longer than reading the flags from the database.
    return JSONBytes({"flags": flags})


@router.post(
    "",
    status_code=201,
    summary="Create a flag",
    responses=answer(Flag, "The new flag", 201),
)
def create_flag(
    org: str, project: str, body: FlagIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """A boolean flag needs no variations (`true` "On", `false` "Off"). Every environment gets
    the flag off, serving `defaults.off_variation`, with `defaults.on_variation` as the
    fallthrough once turned on."""
    return services.flags.create_flag(actor, org, project, body.model_dump(exclude_none=True))


@router.get(
    "/{flag}",
    summary="One flag, with its state in each environment",
    responses=answer(Flag, "The flag"),
)
def get_flag(org: str, project: str, flag: str, actor: CurrentActor, services: ServicesDep) -> Any:
    return services.flags.get_flag(actor, org, project, flag)


@router.patch(
    "/{flag}",
    summary="Update, archive or restore a flag",
    responses=answer(Flag, "The flag, changed"),
)
def update_flag(
    org: str,
    project: str,
    flag: str,
    body: FlagPatch,
    actor: CurrentActor,
    services: ServicesDep,
    force: Force = False,
) -> Any:
    """Archived flags are no longer served (SDKs answer FLAG_NOT_FOUND) and are listed apart.
    Archiving a flag that is on in any environment answers 409 `flag_in_use`, listing those
    `environments`, and one that other served flags require as a prerequisite answers 409
    `flag_has_dependents`, listing them by environment in `dependents`; one off everywhere
    but evaluated in the last LIFECYCLE_RECENT_DAYS answers 409 `flag_evaluated`. Each
    names the applications that evaluated it lately in `applications` and the message; none
    changes anything, unless `force=true`."""
    data = body.model_dump(exclude_unset=True)
    return services.flags.update_flag(actor, org, project, flag, data, force=force)


@router.delete(
    "/{flag}/variations/{index}",
    summary="Remove a variation, renumbering the ones after it",
    responses=answer(Flag, "The flag without the variation"),
)
def remove_variation(
    org: str,
    project: str,
    flag: str,
    index: VariationIndex,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    """Every environment's configuration (off variation, targets, rules, the default rule and
    rollouts) and the flag's defaults are renumbered to match, in one change. A variation that
    any environment serves, or that is a default for new environments, answers 422
    `variation_in_use` naming where; serve another one there first. A boolean flag keeps its
    two variations. Answers the flag as `GET` does."""
    return services.flags.remove_variation(actor, org, project, flag, index)


@router.delete("/{flag}", status_code=204, summary="Delete a flag in every environment")
def delete_flag(
    org: str,
    project: str,
    flag: str,
    actor: CurrentActor,
    services: ServicesDep,
    force: Force = False,
) -> Response:
    """A flag that is on in any environment answers 409 `flag_in_use`, listing those
    `environments`, and stays, unless `force=true`: SDKs would answer FLAG_NOT_FOUND for it at
    once and applications fall back to their code default. One that other served flags
    require as a prerequisite answers 409 `flag_has_dependents` listing them in `dependents`
    (their prerequisite would fail, so they would serve their off result). One off
    everywhere but evaluated in the last LIFECYCLE_RECENT_DAYS answers 409 `flag_evaluated`.
    Each names the applications that evaluated it lately (`applications`, and the message)."""
    services.flags.delete_flag(actor, org, project, flag, force=force)
    return Response(status_code=204)


_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **answer(FlagConfig, "The configuration as stored", headers=CONFIG_ETAG),
    412: {**ERROR_RESPONSES[412], "headers": CURRENT_ETAG},
}


def _answer(response: Response, config: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = f'"{config["version"]}"'
    return config


@router.get(
    "/{flag}/environments/{env}",
    summary="A flag's configuration in one environment",
    responses=answer(FlagConfig, "The configuration", headers=CONFIG_ETAG),
)
def get_config(
    org: str,
    project: str,
    flag: str,
    env: str,
    response: Response,
    actor: CurrentActor,
    services: ServicesDep,
) -> Any:
    """The ETag header is the configuration's version: send it back as If-Match."""
    return _answer(response, services.flags.get_config(actor, org, project, flag, env))


@router.put(
    "/{flag}/environments/{env}",
    summary="Replace a flag's configuration",
    responses=_WRITE_RESPONSES,
)
def put_config(
    org: str,
    project: str,
    flag: str,
    env: str,
    body: ConfigPutWrite,
    response: Response,
    actor: CurrentActor,
    services: ServicesDep,
    if_match: IfMatch = None,
) -> Any:
    """In a protected environment: 409 `protected_environment` (open a change request), or
    an owner's `bypass_protection` with a `bypass_reason`."""
    data = body.model_dump(exclude_unset=True, exclude_none=True)
    passage = bypass_from(data)
    # Null here means "unset": the flag serves the application's default.
    data.setdefault("off_variation", None)
    data.setdefault("fallthrough", None)
    config = services.flags.write_config(
        actor, org, project, flag, env, data, if_match=if_match_version(if_match), replace=True,
        passage=passage,
    )  # fmt: skip
    return _answer(response, config)


@router.patch(
    "/{flag}/environments/{env}",
    summary="Change part of a configuration, or toggle",
    responses=_WRITE_RESPONSES,
)
def patch_config(
    org: str,
    project: str,
    flag: str,
    env: str,
    body: ConfigPatchWrite,
    response: Response,
    actor: CurrentActor,
    services: ServicesDep,
    if_match: IfMatch = None,
) -> Any:
    """`{"on": true}` turns the flag on. Fields left out keep their values. In a protected
    environment: 409 `protected_environment` (open a change request with this very body), or
    an owner's `bypass_protection: true` with a `bypass_reason`."""
    data = patch_body(body)
    passage = bypass_from(data)
    config = services.flags.write_config(
        actor, org, project, flag, env, data, if_match=if_match_version(if_match), replace=False,
        passage=passage,
    )  # fmt: skip
    return _answer(response, config)


def patch_body(body: ConfigPatch) -> dict[str, Any]:
    """A PATCH body as the services take it: the fields given, with null inside targets,
    rules and the fallthrough meaning "left out" (null at the top level means "unset")."""
    data = body.model_dump(exclude_unset=True)
    for name in ("rules", "targets"):
        if data.get(name) is not None:
            data[name] = [_strip_none(item) for item in data[name]]
    if data.get("fallthrough") is not None:
        data["fallthrough"] = _strip_none(data["fallthrough"])
    return data


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value
