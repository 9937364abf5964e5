"""calendar sync: CalDAV accounts, the per-event sync status, task.updated_at

``task.updated_at`` is stamped by the ORM on every change of a task; the calendar sync compares it
with the event's LAST-MODIFIED when both sides changed (the most recent change wins).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from tscrm.core.types import UTCDateTime

    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))

    op.create_table(
        "calendar_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("secret_ref", sa.String(length=300), nullable=True),
        sa.Column("calendar", sa.String(length=1000), nullable=False),
        sa.Column("calendar_url", sa.String(length=1000), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_sync_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calendar_account_owner_id", "calendar_account", ["owner_id"])

    op.create_table(
        "calendar_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("uid", sa.String(length=500), nullable=False),
        sa.Column("href", sa.String(length=1000), nullable=False),
        sa.Column("etag", sa.String(length=300), nullable=True),
        sa.Column("local_hash", sa.String(length=64), nullable=True),
        sa.Column("remote_hash", sa.String(length=64), nullable=True),
        sa.Column("ignored", sa.Boolean(), nullable=False),
        sa.Column("synced_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["calendar_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "uid"),
    )
    op.create_index("ix_calendar_item_account_href", "calendar_item", ["account_id", "href"])
    op.create_index("ix_calendar_item_task_id", "calendar_item", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_calendar_item_task_id", table_name="calendar_item")
    op.drop_index("ix_calendar_item_account_href", table_name="calendar_item")
    op.drop_table("calendar_item")
    op.drop_index("ix_calendar_account_owner_id", table_name="calendar_account")
    op.drop_table("calendar_account")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("updated_at")
