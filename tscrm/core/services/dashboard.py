"""The dashboard's counters: each one a single COUNT that an index answers.

"Today" and "this week" are the actor's: local midnights in their time zone, their first day of the
week, turned into UTC bounds (see ``tscrm.core.timeutil``), so the numbers are right across DST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from tscrm.core.models import Call, CallDirection, Client, Lead, LeadStatus, Task
from tscrm.core.permissions import Actor, Right
from tscrm.core.services.leads import OPEN_STATUSES
from tscrm.core.timeutil import day_bounds, optional_aware, week_bounds
from tscrm.core.types import utcnow


@dataclass(frozen=True)
class DashboardCounters:
    clients_total: int
    clients_new_week: int
    clients_new_today: int
    my_leads: int  # open leads the actor owns
    pool_unprocessed: int  # unprocessed leads nobody owns
    tasks_done_week: int  # the actor's tasks due this week that are done ...
    tasks_week: int  # ... out of all the actor's tasks due this week
    my_overdue_tasks: int
    my_open_tasks: int
    calls_in_today: int
    calls_out_today: int
    calls_in_week: int
    calls_out_week: int
    leads_new_today: int  # every lead created, closed ones included
    leads_new_week: int


def _count(session: Session, model: type, *conditions: Any) -> int:
    query = select(func.count()).select_from(model)
    for condition in conditions:
        query = query.where(condition)
    return int(session.exec(query).one())


def _between(column: Any, bounds: tuple[datetime, datetime]) -> Any:
    start, end = bounds
    return (col(column) >= start) & (col(column) < end)


def counters(session: Session, actor: Actor, now: datetime | None = None) -> DashboardCounters:
    moment = optional_aware(now, "now") or utcnow()
    today = day_bounds(moment, actor.timezone)
    week = week_bounds(moment, actor.timezone, actor.week_start)

    # the same visibility as the client list: one's own, or every client with the right
    visible_clients = [] if actor.can(Right.SEE_ALL) else [Client.owner_id == actor.id]
    open_statuses = [s.value for s in OPEN_STATUSES]
    mine = Task.assignee_id == actor.id
    is_open = col(Task.completed_at).is_(None)
    my_calls = Call.agent_id == actor.id
    inbound = Call.direction == CallDirection.INBOUND
    outbound = Call.direction == CallDirection.OUTBOUND

    return DashboardCounters(
        clients_total=_count(session, Client, *visible_clients),
        clients_new_week=_count(session, Client, *visible_clients, _between(Client.created_at, week)),
        clients_new_today=_count(session, Client, *visible_clients, _between(Client.created_at, today)),
        my_leads=_count(session, Lead, Lead.owner_id == actor.id, col(Lead.status).in_(open_statuses)),
        pool_unprocessed=_count(session, Lead, col(Lead.owner_id).is_(None), Lead.status == LeadStatus.UNPROCESSED),
        tasks_done_week=_count(session, Task, mine, _between(Task.due_at, week), col(Task.completed_at).is_not(None)),
        tasks_week=_count(session, Task, mine, _between(Task.due_at, week)),
        my_overdue_tasks=_count(session, Task, mine, is_open, col(Task.due_at) < moment),
        my_open_tasks=_count(session, Task, mine, is_open),
        calls_in_today=_count(session, Call, my_calls, inbound, _between(Call.started_at, today)),
        calls_out_today=_count(session, Call, my_calls, outbound, _between(Call.started_at, today)),
        calls_in_week=_count(session, Call, my_calls, inbound, _between(Call.started_at, week)),
        calls_out_week=_count(session, Call, my_calls, outbound, _between(Call.started_at, week)),
        leads_new_today=_count(session, Lead, _between(Lead.created_at, today)),
        leads_new_week=_count(session, Lead, _between(Lead.created_at, week)),
    )
