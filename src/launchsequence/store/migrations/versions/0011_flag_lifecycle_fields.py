"""Flag lifecycle fields: owner, kind and expected removal date

Revision ID: 0011
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=320), nullable=True))
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="temporary")
        )
        batch.add_column(sa.Column("removal_date", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("removal_date")
        batch.drop_column("kind")
        batch.drop_column("owner")
