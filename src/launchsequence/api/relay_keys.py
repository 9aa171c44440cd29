"""Relay keys of a project: what edge nodes authenticate to the core with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import Field
from typing_extensions import TypedDict

from ..services.shapes import NameIn
from .auth import CurrentActor, ServicesDep
from .models import Millis, answer
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/orgs/{org}/projects/{project}/relay-keys",
    tags=["relay keys"],
    route_class=StrictJSONRoute,
)


class RelayKey(TypedDict):
    """A relay key: it lets an edge node (`launchseq edge --key`) read every environment of
    the project: snapshots and SDK key digests, nothing else."""

    id: int
    name: str
    prefix: Annotated[str, Field(description="The key's first characters, to recognise it")]
    created_at: Millis
    revoked_at: Annotated[Millis | None, Field(description="Set once revoked")]


class NewRelayKey(RelayKey):
    key: Annotated[str, Field(description="The key in full: shown in this answer only")]


class RelayKeyList(TypedDict):
    relay_keys: list[RelayKey]


@router.get("", summary="Relay keys of a project", responses=answer(RelayKeyList, "The keys"))
def list_relay_keys(org: str, project: str, actor: CurrentActor, services: ServicesDep) -> Any:
    """Revoked keys included, newest first; never the keys themselves."""
    return {"relay_keys": services.relay_keys.list(actor, org, project)}


@router.post(
    "",
    status_code=201,
    summary="Create a relay key",
    responses=answer(NewRelayKey, "The new key, in full (only here)", 201),
)
def create_relay_key(
    org: str, project: str, body: NameIn, actor: CurrentActor, services: ServicesDep
) -> Any:
    """A key for edge nodes covering every environment of the project. Admins and owners."""
    return services.relay_keys.create(actor, org, project, body.name)


@router.delete("/{key_id}", status_code=204, summary="Revoke a relay key")
def revoke_relay_key(
    org: str,
    project: str,
    key_id: Annotated[int, Path(ge=1, le=2**62)],
    actor: CurrentActor,
    services: ServicesDep,
) -> Response:
    """Edges using it lose their upstream stream and stop serving within a second."""
    services.relay_keys.revoke(actor, org, project, key_id)
    return Response(status_code=204)
