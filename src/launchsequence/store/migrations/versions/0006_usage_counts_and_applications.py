"""Usage counts (hourly and daily), the applications seen, and leases for background work

Revision ID: 0006
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None


def _usage(name: str) -> None:
    op.create_table(
        name,
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("flag_key", sa.String(length=64), nullable=False),
        sa.Column("variation", sa.Integer(), nullable=False),
        sa.Column("application", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f(f"fk_{name}_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "environment_id",
            "flag_key",
            "variation",
            "application",
            "bucket",
            name=op.f(f"pk_{name}"),
        ),
    )
    op.create_index(f"ix_{name}_bucket", name, ["bucket"])


def upgrade() -> None:
    _usage("usage_hourly")
    _usage("usage_daily")
    op.create_table(
        "usage_applications",
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("application", sa.String(length=100), nullable=False),
        sa.Column("sdk", sa.String(length=64), nullable=False),
        sa.Column("sdk_version", sa.String(length=64), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_usage_applications_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "environment_id",
            "application",
            "sdk",
            "sdk_version",
            name=op.f("pk_usage_applications"),
        ),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("usage_applications")
    op.drop_index("ix_usage_daily_bucket", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_index("ix_usage_hourly_bucket", table_name="usage_hourly")
    op.drop_table("usage_hourly")
