"""Code references: the latest scan per (project, repository, branch) and its references

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_ref_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=False),
        sa.Column("link_template", sa.String(500), nullable=True),
        sa.Column("ref_count", sa.Integer(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("scanned_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_code_ref_scans_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_code_ref_scans_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_ref_scans")),
        sa.UniqueConstraint("project_id", "repository", "branch", name="uq_code_ref_scans_branch"),
    )
    op.create_table(
        "code_refs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("flag_key", sa.String(64), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["code_ref_scans.id"],
            name=op.f("fk_code_refs_scan_id_code_ref_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_refs")),
    )
    op.create_index("ix_code_refs_scan_flag", "code_refs", ["scan_id", "flag_key"])


def downgrade() -> None:
    op.drop_index("ix_code_refs_scan_flag", table_name="code_refs")
    op.drop_table("code_refs")
    op.drop_table("code_ref_scans")
