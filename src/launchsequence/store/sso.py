"""Single sign-on rows: provider links (provider + subject -> user) and organizations' SSO
settings (allowed email domains, the default role of members they bring, "SSO required")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, exists, insert, or_, select, update

from .tables import memberships, org_sso, org_sso_domains, organizations, sso_links

__all__ = [
    "create_link",
    "get_link",
    "get_settings",
    "orgs_allowing_domain",
    "password_refused",
    "put_settings",
    "touch_link",
    "uses_sso",
]


def get_link(conn: Connection, *, provider: str, subject: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(sso_links).where(sso_links.c.provider == provider, sso_links.c.subject == subject)
    ).first()
    return dict(row._mapping) if row else None


def create_link(
    conn: Connection, *, user_id: int, provider: str, subject: str, email: str, at: int
) -> None:
    conn.execute(
        insert(sso_links).values(
            user_id=user_id,
            provider=provider,
            subject=subject,
            email=email,
            created_at=at,
            last_used_at=at,
        )
    )


def touch_link(conn: Connection, link_id: int, *, email: str, at: int) -> None:
    conn.execute(
        update(sso_links).where(sso_links.c.id == link_id).values(email=email, last_used_at=at)
    )


def get_settings(conn: Connection, org_id: int) -> dict[str, Any]:
    """The organization's SSO settings; the defaults when it never set them."""
    row = conn.execute(select(org_sso).where(org_sso.c.org_id == org_id)).first()
    domains = conn.execute(
        select(org_sso_domains.c.domain)
        .where(org_sso_domains.c.org_id == org_id)
        .order_by(org_sso_domains.c.domain)
    ).scalars()
    return {
        "allowed_domains": list(domains),
        "default_role": row.default_role if row else "viewer",
        "required": bool(row.required) if row else False,
    }


def put_settings(
    conn: Connection,
    org_id: int,
    *,
    allowed_domains: list[str],
    default_role: str,
    required: bool,
    at: int,
) -> None:
    """Replace the organization's SSO settings (the caller holds the organization's lock)."""
    conn.execute(delete(org_sso).where(org_sso.c.org_id == org_id))
    conn.execute(
        insert(org_sso).values(
            org_id=org_id, default_role=default_role, required=required, updated_at=at
        )
    )
    conn.execute(delete(org_sso_domains).where(org_sso_domains.c.org_id == org_id))
    if allowed_domains:
        conn.execute(
            insert(org_sso_domains), [{"org_id": org_id, "domain": d} for d in allowed_domains]
        )


def uses_sso(conn: Connection, org_id: int) -> bool:
    """Whether the organization uses single sign-on: it requires it, or takes members from an
    email domain through it."""
    query = select(
        or_(
            exists().where(org_sso.c.org_id == org_id, org_sso.c.required.is_(True)),
            exists().where(org_sso_domains.c.org_id == org_id),
        )
    )
    return bool(conn.execute(query).scalar())


def orgs_allowing_domain(conn: Connection, domain: str) -> list[dict[str, Any]]:
    """Organizations that take new members with an email at `domain`: id, key, default_role."""
    rows = conn.execute(
        select(organizations.c.id, organizations.c.key, org_sso.c.default_role)
        .join(org_sso_domains, org_sso_domains.c.org_id == organizations.c.id)
        .outerjoin(org_sso, org_sso.c.org_id == organizations.c.id)
        .where(org_sso_domains.c.domain == domain)
        .order_by(organizations.c.id)
    )
    return [{"id": r.id, "key": r.key, "default_role": r.default_role or "viewer"} for r in rows]


def password_refused(conn: Connection, user_id: int) -> bool:
    """Whether the user may not log in with a password: they are a member, other than an owner
    (the break-glass path), of an organization that requires single sign-on."""
    row = conn.execute(
        select(memberships.c.org_id)
        .join(org_sso, org_sso.c.org_id == memberships.c.org_id)
        .where(
            memberships.c.user_id == user_id,
            org_sso.c.required.is_(True),
            memberships.c.role != "owner",
        )
        .limit(1)
    ).first()
    return row is not None
