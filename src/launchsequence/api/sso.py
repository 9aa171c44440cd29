"""An organization's single sign-on settings (the sign-in itself is the dashboard's: it is a
browser redirect flow, see web/sso_pages.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field
from typing_extensions import TypedDict

from ..services.shapes import Strict
from .auth import CurrentActor, ServicesDep
from .models import answer
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/orgs", tags=["organizations"], route_class=StrictJSONRoute)

Domain = Annotated[str, Field(min_length=1, max_length=253)]


class SsoSettingsIn(Strict):
    """The whole of an organization's single sign-on settings."""

    allowed_domains: Annotated[list[Domain], Field(max_length=50)] = Field(
        description="Email domains (like `example.com`) whose people, signing in with a "
        "verified address for the first time, get an account and join this organization."
    )
    default_role: Literal["admin", "viewer"] = Field(
        description="The role of members who join through `allowed_domains`."
    )
    required: bool = Field(
        description="Members must sign in with single sign-on: their password log-in is "
        "refused (`sso_required`). Owners keep their password, the break-glass path."
    )


class SsoSettings(TypedDict):
    """An organization's single sign-on settings."""

    allowed_domains: list[str]
    default_role: Literal["admin", "viewer"]
    required: bool


@router.get(
    "/{org}/sso",
    summary="Single sign-on settings",
    responses=answer(SsoSettings, "The organization's single sign-on settings"),
)
def get_sso(org: str, actor: CurrentActor, services: ServicesDep) -> Any:
    """Any member may read them."""
    return services.sso.get_settings(actor, org)


@router.put(
    "/{org}/sso",
    summary="Change the single sign-on settings",
    responses=answer(SsoSettings, "The settings as saved (domains lowercased and sorted)"),
)
def put_sso(org: str, body: SsoSettingsIn, actor: CurrentActor, services: ServicesDep) -> Any:
    """Owners and admins; recorded in the audit log as `org.sso_changed`."""
    return services.sso.update_settings(
        actor,
        org,
        allowed_domains=body.allowed_domains,
        default_role=body.default_role,
        required=body.required,
    )
