"""Single sign-on: provider links, organization SSO settings and allowed email domains

Revision ID: 0009
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_sso_links_user_id_users"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sso_links"),
        sa.UniqueConstraint("provider", "subject", name="uq_sso_links_provider_subject"),
    )
    op.create_index("ix_sso_links_user_id", "sso_links", ["user_id"])
    op.create_table(
        "org_sso",
        sa.Column(
            "org_id",
            sa.Integer(),
            sa.ForeignKey(
                "organizations.id", ondelete="CASCADE", name="fk_org_sso_org_id_organizations"
            ),
            nullable=False,
        ),
        sa.Column("default_role", sa.String(16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_org_sso"),
    )
    op.create_table(
        "org_sso_domains",
        sa.Column(
            "org_id",
            sa.Integer(),
            sa.ForeignKey(
                "organizations.id",
                ondelete="CASCADE",
                name="fk_org_sso_domains_org_id_organizations",
            ),
            nullable=False,
        ),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "domain", name="pk_org_sso_domains"),
    )
    op.create_index("ix_org_sso_domains_domain", "org_sso_domains", ["domain"])


def downgrade() -> None:
    op.drop_index("ix_org_sso_domains_domain", table_name="org_sso_domains")
    op.drop_table("org_sso_domains")
    op.drop_table("org_sso")
    op.drop_index("ix_sso_links_user_id", table_name="sso_links")
    op.drop_table("sso_links")
