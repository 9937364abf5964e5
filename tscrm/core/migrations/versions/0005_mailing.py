"""mailing tables: mailings, signatures, reminders (issue 8: sending)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tscrm.core.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "name"),
    )
    with op.batch_alter_table("mail_signature", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_signature_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "mailing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("in_reply_to", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mail_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["signature_id"], ["mail_signature.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mailing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailing_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mailing_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mailing_created_by"), ["created_by"], unique=False)

    op.create_table(
        "mailing_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailing_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("sent_at", tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["mailing_id"], ["mailing.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailing_id", "address"),
    )
    with op.batch_alter_table("mailing_recipient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailing_recipient_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mailing_recipient_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index("ix_mailing_recipient_status", ["mailing_id", "status"], unique=False)

    op.create_table(
        "task_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("created_at", tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )


def downgrade() -> None:
    op.drop_table("task_reminder")
    with op.batch_alter_table("mailing_recipient", schema=None) as batch_op:
        batch_op.drop_index("ix_mailing_recipient_status")
        batch_op.drop_index(batch_op.f("ix_mailing_recipient_lead_id"))
        batch_op.drop_index(batch_op.f("ix_mailing_recipient_client_id"))
    op.drop_table("mailing_recipient")
    with op.batch_alter_table("mailing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailing_created_by"))
        batch_op.drop_index(batch_op.f("ix_mailing_created_at"))
        batch_op.drop_index(batch_op.f("ix_mailing_account_id"))
    op.drop_table("mailing")
    with op.batch_alter_table("mail_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_signature_owner_id"))
    op.drop_table("mail_signature")
