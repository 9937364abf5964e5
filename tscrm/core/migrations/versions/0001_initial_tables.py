"""initial tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tscrm.core.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('base_currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('default_region', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
    sa.Column('dial_without_country_code', sa.Boolean(), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('custom_field',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entity', 'key')
    )
    op.create_table('search_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('digits', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'ref_id')
    )
    with op.batch_alter_table('search_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_entry_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_searchentry_name_key', ['name_key'], unique=False)

    op.create_table('source_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('user_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('rights', sa.JSON(), nullable=False),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('extension', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('week_start', sa.Integer(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('last_seen_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['user_group.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email'),
    sa.UniqueConstraint('extension')
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_group_id'), ['group_id'], unique=False)

    op.create_table('currency_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('rate', tscrm.core.types.Money(precision=24, scale=10), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('company_id', 'currency')
    )
    with op.batch_alter_table('currency_rate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_currency_rate_company_id'), ['company_id'], unique=False)

    op.create_table('client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('company_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('position', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('custom', sa.JSON(), nullable=False),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['source_label.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.create_index('ix_client_company', ['company_name', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_external_ref'), ['external_ref'], unique=False)
        batch_op.create_index('ix_client_name', ['name', 'id'], unique=False)
        batch_op.create_index('ix_client_owner_created', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_client_owner_name', ['owner_id', 'name', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_source_id'), ['source_id'], unique=False)

    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('started_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('error_sample', sa.JSON(), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('undone_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.Column('undo_report', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['undone_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batch_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_batch_user_id'), ['user_id'], unique=False)

    op.create_table('saved_mapping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entity', 'name')
    )
    op.create_table('client_tag',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', 'tag_id')
    )
    with op.batch_alter_table('client_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_tag_tag_id'), ['tag_id'], unique=False)

    op.create_table('deal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('amount', tscrm.core.types.Money(precision=24, scale=4), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deal_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deal_external_ref'), ['external_ref'], unique=False)
        batch_op.create_index('ix_deal_status_owner', ['status', 'owner_id'], unique=False)

    op.create_table('import_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=True),
    sa.Column('previous', sa.JSON(), nullable=True),
    sa.Column('stamp', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_record_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_import_record_entity_record', ['entity', 'record_id'], unique=False)

    op.create_table('lead',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('company_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('position', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('utm_source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('utm_medium', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('utm_campaign', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('utm_term', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('utm_content', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('custom', sa.JSON(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['source_label.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_external_ref'), ['external_ref'], unique=False)
        batch_op.create_index('ix_lead_owner_status', ['owner_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_source_id'), ['source_id'], unique=False)
        batch_op.create_index('ix_lead_status_created', ['status', 'created_at'], unique=False)

    op.create_table('activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_client_time', ['client_id', 'created_at'], unique=False)
        batch_op.create_index('ix_activity_deal_time', ['deal_id', 'created_at'], unique=False)
        batch_op.create_index('ix_activity_lead_time', ['lead_id', 'created_at'], unique=False)

    op.create_table('call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('our_number', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('their_number', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('started_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('recording_ref', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('transcript', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('source_did', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.create_index('ix_call_agent_started', ['agent_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_their_number'), ['their_number'], unique=False)

    op.create_table('email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('(client_id IS NULL) <> (lead_id IS NULL)', name='email_one_owner'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_lead_id'), ['lead_id'], unique=False)

    op.create_table('lead_tag',
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('lead_id', 'tag_id')
    )
    with op.batch_alter_table('lead_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_tag_tag_id'), ['tag_id'], unique=False)

    op.create_table('phone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('e164', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('rdigits', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('(client_id IS NULL) <> (lead_id IS NULL)', name='phone_one_owner'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('phone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_e164'), ['e164'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_rdigits'), ['rdigits'], unique=False)

    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('start_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sms_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('meeting_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_at', tscrm.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_assignee_due', ['assignee_id', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_completed_at'), ['completed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_external_ref'), ['external_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_lead_id'), ['lead_id'], unique=False)

    op.create_table('task_participant',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'user_id')
    )
    with op.batch_alter_table('task_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_participant_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_participant_user_id'))

    op.drop_table('task_participant')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_lead_id'))
        batch_op.drop_index(batch_op.f('ix_task_external_ref'))
        batch_op.drop_index(batch_op.f('ix_task_due_at'))
        batch_op.drop_index(batch_op.f('ix_task_deal_id'))
        batch_op.drop_index(batch_op.f('ix_task_completed_at'))
        batch_op.drop_index(batch_op.f('ix_task_client_id'))
        batch_op.drop_index('ix_task_assignee_due')

    op.drop_table('task')
    with op.batch_alter_table('phone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_rdigits'))
        batch_op.drop_index(batch_op.f('ix_phone_lead_id'))
        batch_op.drop_index(batch_op.f('ix_phone_e164'))
        batch_op.drop_index(batch_op.f('ix_phone_client_id'))

    op.drop_table('phone')
    with op.batch_alter_table('lead_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_tag_tag_id'))

    op.drop_table('lead_tag')
    with op.batch_alter_table('email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_lead_id'))
        batch_op.drop_index(batch_op.f('ix_email_client_id'))
        batch_op.drop_index(batch_op.f('ix_email_address'))

    op.drop_table('email')
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_their_number'))
        batch_op.drop_index(batch_op.f('ix_call_started_at'))
        batch_op.drop_index(batch_op.f('ix_call_lead_id'))
        batch_op.drop_index(batch_op.f('ix_call_client_id'))
        batch_op.drop_index('ix_call_agent_started')

    op.drop_table('call')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_lead_time')
        batch_op.drop_index('ix_activity_deal_time')
        batch_op.drop_index('ix_activity_client_time')

    op.drop_table('activity')
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_status_created')
        batch_op.drop_index(batch_op.f('ix_lead_source_id'))
        batch_op.drop_index('ix_lead_owner_status')
        batch_op.drop_index(batch_op.f('ix_lead_external_ref'))
        batch_op.drop_index(batch_op.f('ix_lead_created_at'))
        batch_op.drop_index(batch_op.f('ix_lead_client_id'))

    op.drop_table('lead')
    with op.batch_alter_table('import_record', schema=None) as batch_op:
        batch_op.drop_index('ix_import_record_entity_record')
        batch_op.drop_index(batch_op.f('ix_import_record_batch_id'))

    op.drop_table('import_record')
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_status_owner')
        batch_op.drop_index(batch_op.f('ix_deal_external_ref'))
        batch_op.drop_index(batch_op.f('ix_deal_created_at'))
        batch_op.drop_index(batch_op.f('ix_deal_client_id'))

    op.drop_table('deal')
    with op.batch_alter_table('client_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_tag_tag_id'))

    op.drop_table('client_tag')
    op.drop_table('saved_mapping')
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_user_id'))
        batch_op.drop_index(batch_op.f('ix_import_batch_started_at'))

    op.drop_table('import_batch')
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_source_id'))
        batch_op.drop_index('ix_client_owner_name')
        batch_op.drop_index('ix_client_owner_created')
        batch_op.drop_index('ix_client_name')
        batch_op.drop_index(batch_op.f('ix_client_external_ref'))
        batch_op.drop_index(batch_op.f('ix_client_created_at'))
        batch_op.drop_index('ix_client_company')

    op.drop_table('client')
    with op.batch_alter_table('currency_rate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_currency_rate_company_id'))

    op.drop_table('currency_rate')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_group_id'))

    op.drop_table('app_user')
    op.drop_table('user_group')
    op.drop_table('tag')
    op.drop_table('source_label')
    with op.batch_alter_table('search_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_searchentry_name_key')
        batch_op.drop_index(batch_op.f('ix_search_entry_owner_id'))

    op.drop_table('search_entry')
    op.drop_table('custom_field')
    op.drop_table('company')
