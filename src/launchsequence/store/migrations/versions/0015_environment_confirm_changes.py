"""Environments may ask the dashboard to confirm each change; projects keep their checklist's
dismissal

`environments.confirm_changes`: on, a toggle or a saved configuration in the environment asks
for confirmation (and an optional comment) in the dashboard. On for the existing environments
whose key or name is "production" (any case), off for the others.

`projects.onboarding_closed_at`: when the project's first-steps checklist was dismissed or
found complete (Unix ms), or NULL.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(
            sa.Column("confirm_changes", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    environments = sa.table(
        "environments",
        sa.column("key", sa.String),
        sa.column("name", sa.String),
        sa.column("confirm_changes", sa.Boolean),
    )
    op.execute(
        environments.update()
        .where(
            sa.or_(
                sa.func.lower(environments.c.key) == "production",
                sa.func.lower(environments.c.name) == "production",
            )
        )
        .values(confirm_changes=True)
    )
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("onboarding_closed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("onboarding_closed_at")
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("confirm_changes")
