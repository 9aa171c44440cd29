"""Flag metadata, prerequisites, and unset off variations and fallthroughs

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("metadata", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("flag_configs") as batch:
        batch.add_column(sa.Column("prerequisites", sa.JSON(), nullable=False, server_default="[]"))
        # Unset: the flag answers the caller's own default (OpenFeature's code default).
        batch.alter_column("off_variation", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("fallthrough", existing_type=sa.JSON(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("flag_configs") as batch:
        batch.alter_column("fallthrough", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("off_variation", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("prerequisites")
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("metadata")
