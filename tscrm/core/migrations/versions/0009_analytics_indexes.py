"""analytics indexes: covering indexes for the calls, deals, leads and tasks reports (see tscrm.core.analytics)

A year of analytics reads every call, deal, lead and task of the year. Through the old indexes each
row was one lookup in the table, in index order (random pages): most of the time of the report. These
indexes carry every column the reports read, so the database answers from the index alone, in order:

- ``call (started_at, agent_id, direction, answered_at, ended_at, outcome)``: the calls per day (and
  per agent when the planner has no statistics); replaces ``ix_call_started_at``, its prefix.
- ``call (agent_id, started_at, direction, answered_at, ended_at, outcome)``: the calls per agent
  (one agent's, or everybody's by skip-scan); replaces ``ix_call_agent_started``, its prefix.
- ``task (assignee_id, due_at, completed_at)``: tasks due, and overdue; replaces ``ix_task_assignee_due``.
- ``task (due_at, assignee_id, completed_at)``: the same without statistics; replaces ``ix_task_due_at``.
- ``task (completed_at, assignee_id)``: tasks done; replaces ``ix_task_completed_at``.
- ``deal (created_at, owner_id, status, currency, amount)``: the funnel and the deals created per
  owner; replaces ``ix_deal_created_at``.
- ``deal (closed_at, owner_id, status, currency, amount)``: deals won and cancelled (new).
- ``lead (created_at, source_id, owner_id)``: leads created per source; replaces ``ix_lead_created_at``.
- ``lead (claimed_at, owner_id)``: leads claimed (new).
- ``lead (closed_at, owner_id, status)``: leads converted and bad quality (new).

Every query the replaced indexes served is served by the new ones (same leading columns).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (table, old index, old columns, new index, new columns)
REPLACED = [
    ("call", "ix_call_started_at", ["started_at"], "ix_call_started_cover",
     ["started_at", "agent_id", "direction", "answered_at", "ended_at", "outcome"]),
    ("call", "ix_call_agent_started", ["agent_id", "started_at"], "ix_call_agent_cover",
     ["agent_id", "started_at", "direction", "answered_at", "ended_at", "outcome"]),
    ("task", "ix_task_assignee_due", ["assignee_id", "due_at"], "ix_task_assignee_due_done",
     ["assignee_id", "due_at", "completed_at"]),
    ("task", "ix_task_due_at", ["due_at"], "ix_task_due_cover", ["due_at", "assignee_id", "completed_at"]),
    ("task", "ix_task_completed_at", ["completed_at"], "ix_task_completed_assignee",
     ["completed_at", "assignee_id"]),
    ("deal", "ix_deal_created_at", ["created_at"], "ix_deal_created_cover",
     ["created_at", "owner_id", "status", "currency", "amount"]),
    ("lead", "ix_lead_created_at", ["created_at"], "ix_lead_created_cover", ["created_at", "source_id", "owner_id"]),
]

# (table, new index, columns): no old index is a prefix of these
ADDED = [
    ("deal", "ix_deal_closed_cover", ["closed_at", "owner_id", "status", "currency", "amount"]),
    ("lead", "ix_lead_claimed_owner", ["claimed_at", "owner_id"]),
    ("lead", "ix_lead_closed_cover", ["closed_at", "owner_id", "status"]),
]


def upgrade() -> None:
    for table, old, _old_columns, new, new_columns in REPLACED:
        op.create_index(new, table, new_columns, unique=False)
        op.drop_index(old, table_name=table)
    for table, new, columns in ADDED:
        op.create_index(new, table, columns, unique=False)


def downgrade() -> None:
    for table, new, _columns in reversed(ADDED):
        op.drop_index(new, table_name=table)
    for table, old, old_columns, new, _new_columns in reversed(REPLACED):
        op.create_index(old, table, old_columns, unique=False)
        op.drop_index(new, table_name=table)
