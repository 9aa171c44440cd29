"""Export and import of a project's flags and segments as one JSON document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from .auth import CurrentActor, ServicesDep
from .models import ExportDocument, ImportSummary, answer
from .responses import JSONBytes
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["transfer"], route_class=StrictJSONRoute)


@router.get(
    "/projects/{project}/export",
    summary="Export a project's flags and segments",
    responses=answer(ExportDocument, "The document"),
)
def export_project(org: str, project: str, actor: CurrentActor, services: ServicesDep) -> Any:
    """A versioned document (`format` "launchsequence-project", `version` 1) with the project's
    environments, every flag (archived ones too) with its configuration in each environment and
    its `salt`, and every segment. No SDK keys, no versions. Viewers may export."""
    return JSONBytes(services.transfer.export_project(actor, org, project))


@router.post(
    "/import",
    summary="Import a project's flags and segments",
    responses=answer(ImportSummary, "What was created, updated and left unchanged"),
)
def import_project(
    org: str,
    document: Annotated[dict[str, Any], Body(description="A document made by export")],
    actor: CurrentActor,
    services: ServicesDep,
    project: Annotated[
        str | None, Query(max_length=64, description="Import under this project key instead")
    ] = None,
) -> Any:
    """Creates the project and its missing environments if needed, then creates or replaces
    every segment and flag of the document, in one transaction: if anything is invalid, nothing
    is written and the error names the flag or segment, the environment and the field. Admins
    and owners only."""
    return services.transfer.import_project(actor, org, document, project)
