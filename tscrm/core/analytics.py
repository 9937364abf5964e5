"""Analytics for managers: calls, deals, leads and tasks, per agent and per period.

Every figure is an aggregate computed by the database (``GROUP BY`` with conditional sums); Python
only turns the few grouped rows into dataclasses. The same SQL runs on SQLite and PostgreSQL: the
one expression that differs (seconds between two times) is a construct compiled per dialect.

A period is the viewing user's: local midnights in their time zone and their first day of the week,
as half-open UTC bounds (see ``tscrm.core.timeutil``), so "today" is 23 or 25 hours long across DST.

Rights: ``Right.SEE_ANALYTICS`` is needed to see anything; without ``Right.SEE_ALL`` a user sees only
their own figures (asking for another agent or for a group is refused, not silently narrowed).

What counts where:
- calls: started in the period, by their agent; answered = has an answer time; missed = inbound and
  not answered; no answer = outbound and not answered (calls still ringing are neither); talk time
  from answer to hang-up, whole seconds per call.
- deals: the funnel is the deals *created* in the period, by their current stage; won and cancelled
  are the deals *closed* in the period; amounts in the company's base currency (each stage's or
  agent's sum per currency times the company's rate, to the cent); win rate = won / (won + cancelled).
- leads: created in the period by source; claimed in the period by their owner; converted (closed as
  a client) and bad quality closed in the period; conversion rate = converted / (converted + bad).
- tasks: due in the period; done = completed in the period; overdue = due in the period, already
  past due and still open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, func, literal, literal_column, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlmodel import Session, col, select

from tscrm.core.errors import PermissionDenied, ValidationError
from tscrm.core.models import (
    DEAL_PIPELINE,
    Call,
    CallDirection,
    Deal,
    DealStatus,
    Lead,
    LeadStatus,
    SourceLabel,
    Task,
    User,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.timeutil import local_date, local_midnight, optional_aware, week_first_day, zone
from tscrm.core.types import money_sum, utcnow
from tscrm.i18n import N_, _

MAX_DAYS = 366  # a custom period is at most a year (one chart bar per day)


# --- periods ----------------------------------------------------------------------------------


class PeriodKind(StrEnum):
    TODAY = "today"
    WEEK = "week"
    MONTH = "month"
    LAST_30 = "30d"
    CUSTOM = "custom"


PERIOD_LABELS: dict[PeriodKind, str] = {
    PeriodKind.TODAY: N_("Today"),
    PeriodKind.WEEK: N_("This week"),
    PeriodKind.MONTH: N_("This month"),
    PeriodKind.LAST_30: N_("Last 30 days"),
    PeriodKind.CUSTOM: N_("Custom"),
}


@dataclass(frozen=True)
class Period:
    """Local days ``first`` to ``last`` (both included) and their UTC bounds ``[start, end)``."""

    kind: PeriodKind
    first: date
    last: date
    start: datetime
    end: datetime
    timezone: str

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def parse_period_kind(value: PeriodKind | str) -> PeriodKind:
    try:
        return PeriodKind(str(value).strip().lower())
    except ValueError as exc:
        raise ValidationError(
            _("period: {value!r} is not one of {choices}").format(value=value, choices=", ".join(k.value for k in PeriodKind)),
            "period",
        ) from exc


def resolve_period(
    kind: PeriodKind | str,
    *,
    timezone: str,
    week_start: int = 0,
    now: datetime | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Period:
    """The period ``kind`` as seen by someone in ``timezone`` at ``now``; custom needs ``first`` and ``last``."""
    kind = parse_period_kind(kind)
    moment = optional_aware(now, "now") or utcnow()
    today = local_date(moment, timezone)
    if kind == PeriodKind.CUSTOM:
        if first is None or last is None:
            raise ValidationError(_("period: a custom period needs a first and a last day"), "from" if first is None else "to")
        if last < first:
            raise ValidationError(_("to: {last} is before {first}").format(last=last, first=first), "to")
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError(_("to: a period is at most {n} days").format(n=MAX_DAYS), "to")
        start_day, last_day = first, last
    elif kind == PeriodKind.TODAY:
        start_day = last_day = today
    elif kind == PeriodKind.WEEK:
        start_day = week_first_day(today, week_start)
        last_day = start_day + timedelta(days=6)
    elif kind == PeriodKind.MONTH:
        start_day = today.replace(day=1)
        last_day = (start_day + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        start_day, last_day = today - timedelta(days=29), today
    start = local_midnight(start_day, timezone)
    end = local_midnight(last_day + timedelta(days=1), timezone)
    return Period(kind, start_day, last_day, start, end, timezone)


# --- who is counted ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose figures: everybody (both None), one agent, or the members of one group."""

    agent_id: int | None = None
    group_id: int | None = None


def check_scope(actor: Actor, scope: Scope | None = None) -> Scope:
    """The scope the actor may see: the right to see analytics, and only their own figures without SEE_ALL."""
    actor.require(Right.SEE_ANALYTICS)
    scope = scope or Scope()
    if actor.can(Right.SEE_ALL):
        return scope
    if scope.group_id is not None or scope.agent_id not in (None, actor.id):
        raise PermissionDenied(_("{user} may only see their own figures").format(user=actor.name))
    return Scope(agent_id=actor.id)


def _in_scope(column: Any, scope: Scope) -> list[Any]:
    if scope.agent_id is not None:
        return [col(column) == scope.agent_id]
    if scope.group_id is not None:
        return [col(column).in_(select(User.id).where(User.group_id == scope.group_id))]
    return []


def _between(column: Any, start: datetime, end: datetime) -> Any:
    return (col(column) >= start) & (col(column) < end)


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _int(value: Any) -> int:
    return int(value or 0)


def _rate(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent with one decimal; None when there is nothing to divide."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


class seconds_between(FunctionElement):  # noqa: N801  (used like a SQL function)
    """Whole seconds from the first time to the second (0 if the second is not later)."""

    type = Integer()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_generic(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CASE WHEN {end} > {start} THEN CAST(FLOOR(EXTRACT(EPOCH FROM ({end} - {start}))) AS INTEGER) ELSE 0 END"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    # julianday counts whole milliseconds, as a double: half a millisecond of slack keeps a whole
    # number of seconds from rounding down, and cannot lift a real 59.999 s to 60
    return f"CASE WHEN {end} > {start} THEN CAST((julianday({end}) - julianday({start})) * 86400.0 + 0.0005 AS INTEGER) ELSE 0 END"


def _agent_names(session: Session, scope: Scope, seen: Iterable[int | None]) -> dict[int, str]:
    """Active users in the scope (so that nobody's zero goes unseen), plus anyone with figures."""
    ids = {i for i in seen if i is not None}
    query = select(User.id, User.name).where(or_(and_(col(User.is_active).is_(True), *_in_scope(User.id, scope)), col(User.id).in_(ids)))
    return {uid: name for uid, name in session.exec(query)}  # type: ignore[misc]


def _ordered(names: dict[int, str], seen: Iterable[int | None]) -> list[int | None]:
    """Agents by name, then the row of calls/records nobody owns (when there is one)."""
    order: list[int | None] = sorted(names, key=lambda i: (names[i].casefold(), i))
    if None in set(seen):
        order.append(None)
    return order


def agent_label(agent_id: int | None, names: dict[int, str]) -> str:
    return names.get(agent_id, "?") if agent_id is not None else _("(nobody)")


# --- calls ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFigures:
    agent_id: int | None
    agent: str
    total: int
    inbound: int
    outbound: int
    answered: int
    missed: int  # inbound, not answered
    no_answer: int  # outbound, not answered
    talk_seconds: int
    average_talk_seconds: int  # per answered call


@dataclass(frozen=True)
class CallDay:
    day: date
    inbound: int
    outbound: int
    answered: int
    missed: int


@dataclass(frozen=True)
class CallReport:
    period: Period
    agents: list[CallFigures]
    total: CallFigures
    days: list[CallDay]


def _call_columns() -> list[Any]:
    answered = col(Call.answered_at).is_not(None)
    finished = or_(col(Call.ended_at).is_not(None), col(Call.outcome).is_not(None))
    unanswered = and_(col(Call.answered_at).is_(None), finished)
    return [
        func.count(),
        _count_if(Call.direction == CallDirection.INBOUND),
        _count_if(Call.direction == CallDirection.OUTBOUND),
        _count_if(answered),
        _count_if(and_(Call.direction == CallDirection.INBOUND, unanswered)),
        _count_if(and_(Call.direction == CallDirection.OUTBOUND, unanswered)),
        func.sum(case((and_(answered, col(Call.ended_at).is_not(None)), seconds_between(Call.answered_at, Call.ended_at)), else_=0)),
    ]


def _call_figures(agent_id: int | None, agent: str, row: Any | None) -> CallFigures:
    total, inbound, outbound, answered, missed, no_answer, talk = (_int(v) for v in row) if row is not None else (0,) * 7
    return CallFigures(agent_id, agent, total, inbound, outbound, answered, missed, no_answer, talk, talk // answered if answered else 0)


class epoch_seconds(FunctionElement):  # noqa: N801  (used like a SQL function)
    """Whole seconds since 1970-01-01 UTC (rounded down) of a stored time, as an integer."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_generic(element: Any, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {value})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(strftime('%s', {value}) AS INTEGER)"


def _offsets(period: Period) -> tuple[int, list[tuple[int, int]]]:
    """The zone's UTC offset (seconds) when the period starts, and each change in it: (epoch, new offset)."""
    tz = zone(period.timezone)

    def offset(epoch: int) -> int:
        delta = datetime.fromtimestamp(epoch, UTC).astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    start, end = int(period.start.timestamp()), int(period.end.timestamp())
    current = first = offset(start)
    changes: list[tuple[int, int]] = []
    step = start
    while step < end:
        following = min(step + 86_400, end)
        if offset(following) != current:  # a change within this day: find its second
            lo, hi = step, following
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == current else (lo, mid)
            current = offset(hi)
            changes.append((hi, current))
        step = following
    return first, changes


def local_day_index(column: Any, period: Period) -> Any:
    """The local day (0 = the period's first) a stored time falls on, computed by the database.

    Local wall-clock seconds are the epoch plus the zone's offset at that instant (a CASE over the
    period's DST changes); whole days since the first day's midnight is the index. Group by its label
    (``LOCAL_DAY``): PostgreSQL would not see two copies of an expression with parameters as one.
    """
    first, changes = _offsets(period)
    if changes:
        whens, previous = [], first
        for at, offset in changes:
            whens.append((col(column) < datetime.fromtimestamp(at, UTC), previous))
            previous = offset
        offset_expr: Any = case(*whens, else_=previous)
    else:
        offset_expr = literal(first, Integer)
    base = int(datetime.combine(period.first, time(0), tzinfo=UTC).timestamp())
    return ((epoch_seconds(column) + offset_expr - base) // 86_400).label(LOCAL_DAY)


LOCAL_DAY = "local_day"


def _sums(rows: Iterable[Iterable[Any]], width: int) -> list[int]:
    """Column sums of grouped rows (a few hundred groups at most, never the records themselves)."""
    total = [0] * width
    for row in rows:
        for i, value in enumerate(row):
            total[i] += _int(value)
    return total


def call_report(session: Session, actor: Actor, period: Period, scope: Scope | None = None) -> CallReport:
    scope = check_scope(actor, scope)
    where = [_between(Call.started_at, period.start, period.end), *_in_scope(Call.agent_id, scope)]
    grouped = {row[0]: row[1:] for row in session.exec(select(Call.agent_id, *_call_columns()).where(*where).group_by(Call.agent_id))}  # type: ignore[call-overload]
    names = _agent_names(session, scope, grouped)
    agents = [_call_figures(a, agent_label(a, names), grouped.get(a)) for a in _ordered(names, grouped)]
    total = _call_figures(None, _("Total"), _sums(grouped.values(), len(_call_columns())))

    answered = col(Call.answered_at).is_not(None)
    finished = or_(col(Call.ended_at).is_not(None), col(Call.outcome).is_not(None))
    per_day = session.exec(
        select(  # type: ignore[call-overload]
            local_day_index(Call.started_at, period),
            _count_if(Call.direction == CallDirection.INBOUND),
            _count_if(Call.direction == CallDirection.OUTBOUND),
            _count_if(answered),
            _count_if(and_(Call.direction == CallDirection.INBOUND, col(Call.answered_at).is_(None), finished)),
        )
        .where(*where)
        .group_by(literal_column(LOCAL_DAY))
    )
    by_day = {int(index): [_int(v) for v in rest] for index, *rest in per_day}
    days = [CallDay(d, *by_day.get(i, (0, 0, 0, 0))) for i, d in enumerate(period.days())]
    return CallReport(period, agents, total, days)


# --- deals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageFigures:
    status: DealStatus
    count: int
    amount: Decimal


@dataclass(frozen=True)
class DealFigures:
    agent_id: int | None
    agent: str
    created: int
    won: int
    won_amount: Decimal
    cancelled: int
    win_rate: Decimal | None  # percent of the deals closed in the period that were won
    average_won: Decimal | None  # average size of a won deal


@dataclass(frozen=True)
class DealReport:
    period: Period
    currency: str  # the company's base currency: every amount is in it
    funnel: list[StageFigures]
    agents: list[DealFigures]
    total: DealFigures


def _rates(session: Session) -> tuple[str, dict[str, Decimal]]:
    from tscrm.core.services.company import get_company, rates

    return get_company(session).base_currency, rates(session)


def _in_base(amounts: Iterable[tuple[str, Any]], table: dict[str, Decimal]) -> Decimal:
    """Sum of (currency, amount) pairs in the base currency, each converted with the company's rate."""
    from tscrm.core.services.company import to_base

    total = Decimal("0.00")
    for currency, amount in amounts:
        if amount is not None:
            total += to_base(Decimal(str(amount)), currency, table)
    return total


def _deal_figures(agent_id: int | None, agent: str, created: int, won: int, won_amount: Decimal, cancelled: int) -> DealFigures:
    average = (won_amount / won).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if won else None
    return DealFigures(agent_id, agent, created, won, won_amount, cancelled, _rate(won, won + cancelled), average)


def deal_report(session: Session, actor: Actor, period: Period, scope: Scope | None = None) -> DealReport:
    scope = check_scope(actor, scope)
    base, table = _rates(session)
    mine = _in_scope(Deal.owner_id, scope)
    created = _between(Deal.created_at, period.start, period.end)
    # created in the period, closed in the period: each its own grouped query on its own covering
    # index (deal (created_at, owner_id, status, currency, amount) and the same on closed_at), not an
    # OR that looks every row up in the table
    stage_rows = session.exec(
        select(Deal.status, Deal.currency, func.count(), money_sum(Deal.amount)).where(created, *mine).group_by(Deal.status, Deal.currency)  # type: ignore[call-overload]
    ).all()
    funnel = []
    for stage in DEAL_PIPELINE:
        rows = [r for r in stage_rows if r[0] == stage]
        funnel.append(StageFigures(stage, sum(_int(r[2]) for r in rows), _in_base(((r[1], r[3]) for r in rows), table)))

    # per (owner, currency): [created, won, won amount, cancelled]
    per_owner: dict[tuple[int | None, str], list[Any]] = {}
    created_rows = session.exec(select(Deal.owner_id, Deal.currency, func.count()).where(created, *mine).group_by(Deal.owner_id, Deal.currency))  # type: ignore[call-overload]
    for owner_id, currency, n in created_rows:
        per_owner[(owner_id, currency)] = [_int(n), 0, None, 0]
    closed_rows = session.exec(
        select(Deal.owner_id, Deal.currency, Deal.status, func.count(), money_sum(Deal.amount))  # type: ignore[call-overload]
        .where(_between(Deal.closed_at, period.start, period.end), *mine)
        .group_by(Deal.owner_id, Deal.currency, Deal.status)
    )
    for owner_id, currency, status, n, amount in closed_rows:
        row = per_owner.setdefault((owner_id, currency), [0, 0, None, 0])
        if status == DealStatus.WON:
            row[1], row[2] = _int(n), amount
        elif status == DealStatus.CANCELLED:
            row[3] = _int(n)
    names = _agent_names(session, scope, (owner for owner, _currency in per_owner))

    def figures(agent_id: int | None, label: str, keys: list[tuple[int | None, str]]) -> DealFigures:
        rows = [(currency, per_owner[(owner, currency)]) for owner, currency in keys]
        return _deal_figures(
            agent_id,
            label,
            sum(r[0] for _c, r in rows),
            sum(r[1] for _c, r in rows),
            _in_base(((c, r[2]) for c, r in rows), table),
            sum(r[3] for _c, r in rows),
        )

    owners = [owner for owner, _currency in per_owner]
    agents = [figures(a, agent_label(a, names), [k for k in per_owner if k[0] == a]) for a in _ordered(names, owners)]
    return DealReport(period, base, funnel, agents, figures(None, _("Total"), list(per_owner)))


# --- leads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFigures:
    source: str | None  # None: leads without a source
    created: int


@dataclass(frozen=True)
class LeadFigures:
    agent_id: int | None
    agent: str
    claimed: int
    converted: int  # closed as a client
    bad_quality: int
    conversion_rate: Decimal | None  # percent of the closed ones that became clients


@dataclass(frozen=True)
class LeadReport:
    period: Period
    created: int
    sources: list[SourceFigures]
    agents: list[LeadFigures]
    total: LeadFigures


def lead_report(session: Session, actor: Actor, period: Period, scope: Scope | None = None) -> LeadReport:
    scope = check_scope(actor, scope)
    mine = _in_scope(Lead.owner_id, scope)
    source_rows = session.exec(
        select(SourceLabel.name, func.count())  # type: ignore[call-overload]
        .select_from(Lead)
        .outerjoin(SourceLabel, col(SourceLabel.id) == col(Lead.source_id))
        .where(_between(Lead.created_at, period.start, period.end), *mine)
        .group_by(SourceLabel.name)
    ).all()
    sources = sorted((SourceFigures(name, _int(n)) for name, n in source_rows), key=lambda s: (-s.created, s.source is None, s.source or ""))

    # claimed in the period, closed in the period: each its own grouped query on its own covering
    # index (lead (claimed_at, owner_id) and lead (closed_at, owner_id, status)), not an OR
    grouped: dict[int | None, list[int]] = {}
    claimed_rows = session.exec(
        select(Lead.owner_id, func.count()).where(_between(Lead.claimed_at, period.start, period.end), *mine).group_by(Lead.owner_id)  # type: ignore[call-overload]
    )
    for owner_id, n in claimed_rows:
        grouped[owner_id] = [_int(n), 0, 0]
    closed_rows = session.exec(
        select(Lead.owner_id, Lead.status, func.count()).where(_between(Lead.closed_at, period.start, period.end), *mine).group_by(Lead.owner_id, Lead.status)  # type: ignore[call-overload]
    )
    place = {LeadStatus.FINISHED: 1, LeadStatus.BAD_QUALITY: 2}
    for owner_id, status, n in closed_rows:
        values = grouped.setdefault(owner_id, [0, 0, 0])  # an owner with other leads closed is still listed
        if status in place:
            values[place[status]] = _int(n)
    names = _agent_names(session, scope, grouped)

    def figures(agent_id: int | None, label: str, values: list[int] | None) -> LeadFigures:
        c, converted, bad = values or (0, 0, 0)
        return LeadFigures(agent_id, label, c, converted, bad, _rate(converted, converted + bad))

    agents = [figures(a, agent_label(a, names), grouped.get(a)) for a in _ordered(names, grouped)]
    return LeadReport(period, sum(s.created for s in sources), sources, agents, figures(None, _("Total"), _sums(grouped.values(), 3)))


# --- tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFigures:
    agent_id: int | None
    agent: str
    due: int  # due in the period
    done: int  # completed in the period
    overdue: int  # due in the period, past due and still open


@dataclass(frozen=True)
class TaskReport:
    period: Period
    agents: list[TaskFigures]
    total: TaskFigures


def task_report(session: Session, actor: Actor, period: Period, scope: Scope | None = None, *, now: datetime | None = None) -> TaskReport:
    scope = check_scope(actor, scope)
    moment = optional_aware(now, "now") or utcnow()
    mine = _in_scope(Task.assignee_id, scope)
    # two range conditions, each on its own column: two grouped queries that each read one index
    # (task (assignee_id, due_at, completed_at) and task (completed_at, assignee_id)), not an OR that
    # looks every row up in the table
    overdue = _count_if(and_(col(Task.due_at) < moment, col(Task.completed_at).is_(None)))
    due_rows = session.exec(
        select(Task.assignee_id, func.count(), overdue).where(_between(Task.due_at, period.start, period.end), *mine).group_by(Task.assignee_id)  # type: ignore[call-overload]
    )
    grouped: dict[int | None, list[int]] = {row[0]: [_int(row[1]), 0, _int(row[2])] for row in due_rows}
    done_rows = session.exec(
        select(Task.assignee_id, func.count()).where(_between(Task.completed_at, period.start, period.end), *mine).group_by(Task.assignee_id)  # type: ignore[call-overload]
    )
    for assignee_id, done in done_rows:
        grouped.setdefault(assignee_id, [0, 0, 0])[1] = _int(done)
    names = _agent_names(session, scope, grouped)
    agents = [TaskFigures(a, agent_label(a, names), *grouped.get(a, (0, 0, 0))) for a in _ordered(names, grouped)]
    return TaskReport(period, agents, TaskFigures(None, _("Total"), *_sums(grouped.values(), 3)))


# --- all of it --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    period: Period
    calls: CallReport
    deals: DealReport
    leads: LeadReport
    tasks: TaskReport
    scope: Scope = field(default_factory=Scope)


def summary(session: Session, actor: Actor, period: Period, scope: Scope | None = None, *, now: datetime | None = None) -> Summary:
    scope = check_scope(actor, scope)
    return Summary(
        period,
        call_report(session, actor, period, scope),
        deal_report(session, actor, period, scope),
        lead_report(session, actor, period, scope),
        task_report(session, actor, period, scope, now=now),
        scope,
    )


def resolve_scope(session: Session, *, agent: str | None = None, group: str | None = None) -> Scope:
    """A scope from an agent (email or extension) or a group name, as typed by a person."""
    from tscrm.core.services.users import find_user, get_group

    if agent and group:
        raise ValidationError(_("agent: choose an agent or a group, not both"), "agent")
    if agent:
        return Scope(agent_id=find_user(session, agent).id)
    if group:
        return Scope(group_id=get_group(session, group).id)
    return Scope()
