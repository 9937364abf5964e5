"""telephony tables: PBX events, telephony settings (issue 5)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from tscrm.core.types import UTCDateTime

    op.create_table(
        "stored_secret",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ciphertext", sa.String(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "user_telephony",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=30), nullable=False),
        sa.Column("sip_server", sa.String(length=200), nullable=True),
        sa.Column("sip_port", sa.Integer(), nullable=False),
        sa.Column("sip_username", sa.String(length=100), nullable=True),
        sa.Column("sip_secret_ref", sa.String(length=300), nullable=True),
        sa.Column("widget_side", sa.String(length=5), nullable=False),
        sa.Column("auto_lead_incoming", sa.Boolean(), nullable=False),
        sa.Column("auto_lead_outgoing", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "company_telephony",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zadarma_key", sa.String(length=100), nullable=True),
        sa.Column("zadarma_secret_ref", sa.String(length=300), nullable=True),
        sa.Column("route_to_owner", sa.Boolean(), nullable=False),
        sa.Column("dial_all_phones", sa.Boolean(), nullable=False),
        sa.Column("pbx_timezone", sa.String(length=64), nullable=True),
        sa.Column("auto_lead_incoming", sa.Boolean(), nullable=False),
        sa.Column("auto_lead_outgoing", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "did_label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("did", sa.String(length=32), nullable=False),
        sa.Column("source_label_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_label_id"], ["source_label.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("did"),
    )
    with op.batch_alter_table("did_label", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_did_label_source_label_id"), ["source_label_id"], unique=False)
    op.create_table(
        "pbx_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("pbx_call_id", sa.String(length=100), nullable=False),
        sa.Column("extension", sa.String(length=20), nullable=True),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event", "pbx_call_id", "dedup_key"),
    )
    with op.batch_alter_table("pbx_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pbx_event_pbx_call_id"), ["pbx_call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pbx_event_extension"), ["extension"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pbx_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pbx_event_extension"))
        batch_op.drop_index(batch_op.f("ix_pbx_event_pbx_call_id"))
    op.drop_table("pbx_event")
    with op.batch_alter_table("did_label", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_did_label_source_label_id"))
    op.drop_table("did_label")
    op.drop_table("company_telephony")
    op.drop_table("user_telephony")
    op.drop_table("stored_secret")
