"""dialer tables: call lists, dialer entries, SMS templates and deliveries, scheduler (issue 6)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tscrm.core.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduler_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scheduler_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduler_run_started_at'), ['started_at'], unique=False)

    op.create_table('sms_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('call_list',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('ring_timeout_s', sa.Integer(), nullable=False),
    sa.Column('gap_s', sa.Integer(), nullable=False),
    sa.Column('all_phones', sa.Boolean(), nullable=False),
    sa.Column('check_hours', sa.Boolean(), nullable=False),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('call_list', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_list_owner_id'), ['owner_id'], unique=False)

    op.create_table('do_not_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['set_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_table('call_list_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('skip_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('backend_call_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('dialled_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['list_id'], ['call_list.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_id', 'position')
    )
    with op.batch_alter_table('call_list_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_list_entry_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_list_entry_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index('ix_call_list_entry_list_state_position', ['list_id', 'state', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_list_entry_number'), ['number'], unique=False)

    op.create_table('sms_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('cost', tscrm.core.types.Money(precision=24, scale=4), nullable=True),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('batch_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('task_id')
    )
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_message_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_number'), ['number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_message_number'))
        batch_op.drop_index(batch_op.f('ix_sms_message_lead_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_client_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_batch_id'))

    op.drop_table('sms_message')
    with op.batch_alter_table('call_list_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_list_entry_number'))
        batch_op.drop_index('ix_call_list_entry_list_state_position')
        batch_op.drop_index(batch_op.f('ix_call_list_entry_lead_id'))
        batch_op.drop_index(batch_op.f('ix_call_list_entry_client_id'))

    op.drop_table('call_list_entry')
    op.drop_table('do_not_call')
    with op.batch_alter_table('call_list', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_list_owner_id'))

    op.drop_table('call_list')
    op.drop_table('sms_template')
    with op.batch_alter_table('scheduler_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduler_run_started_at'))

    op.drop_table('scheduler_run')
