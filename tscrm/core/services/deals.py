"""Deals: a sale in progress for a client, moved through the pipeline, shown as a board.

Money is exact: amounts are ``Decimal`` with at most two decimals, in the company's base currency
or in one with an exchange rate. Board totals are summed per currency exactly and converted once.

On SQLite the amount column is text (its NUMERIC would be a float). Amounts are never negative and
always stored with four decimals, so ordering by ``(length, text)`` is the numeric order; the
helpers ``_amount_order``/``_amount_at_least``/``_amount_at_most`` use that on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_
from sqlmodel import Session, col, select

from tscrm.core import search
from tscrm.core.errors import NotFound, ValidationError
from tscrm.core.models import DEAL_PIPELINE, FINAL_DEAL_STATUSES, ActivityKind, Deal, DealStatus
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity, company
from tscrm.core.services.clients import _check_owner as check_owner  # one rule for giving records away
from tscrm.core.services.clients import get_client
from tscrm.core.timeutil import optional_aware
from tscrm.core.validation import required_text
from tscrm.core.types import money_sum, utcnow
from tscrm.i18n import N_, Phrase, _
from tscrm.labels import DEAL_STATUSES

CENT = Decimal("0.01")
# NUMERIC(24, 4): twenty digits before the point
MAX_AMOUNT = Decimal(10) ** 20


# --- validation -------------------------------------------------------------------------------


def parse_amount(value: Decimal | str | int, field_name: str = "amount") -> Decimal:
    """An amount of money: >= 0, at most two decimals. "1234,50" is accepted like "1234.50"."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(_("{field}: {value!r} is not an amount").format(field=field_name, value=value), field_name)
    text = str(value).strip().replace(" ", "").replace("_", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(
            _("{field}: {value!r} is not an amount").format(field=field_name, value=value), field_name
        ) from exc
    if not amount.is_finite():
        raise ValidationError(_("{field}: {value!r} is not an amount").format(field=field_name, value=value), field_name)
    if amount < 0:
        raise ValidationError(_("{field}: must not be negative ({value})").format(field=field_name, value=value), field_name)
    if amount != amount.quantize(CENT):
        raise ValidationError(
            _("{field}: at most 2 decimals ({value})").format(field=field_name, value=value), field_name
        )
    if amount >= MAX_AMOUNT:
        raise ValidationError(_("{field}: {value} is too large").format(field=field_name, value=value), field_name)
    return amount.quantize(CENT)


def check_deal_currency(session: Session, code: str | None) -> str:
    """The base currency when ``code`` is None; else a currency the company has a rate for."""
    table = company.rates(session)
    if code is None or not str(code).strip():
        return company.get_company(session).base_currency
    value = company.check_currency(str(code))
    if value not in table:
        raise ValidationError(
            _("currency: {code} has no exchange rate; add it in the company settings (known: {known})").format(
                code=value, known=", ".join(sorted(table))
            ),
            "currency",
        )
    return value


def _title(value: str) -> str:
    return required_text(value, "title")


def parse_status(value: DealStatus | str) -> DealStatus:
    try:
        return DealStatus(str(value).strip().lower())
    except ValueError as exc:
        raise ValidationError(
            _("status: {value!r} is not one of {choices}").format(
                value=value, choices=", ".join(s.value for s in DEAL_PIPELINE)
            ),
            "status",
        ) from exc


def _what(deal: Deal) -> str:
    return _("deal {title}").format(title=deal.title)


# --- create, read, change ---------------------------------------------------------------------


def create_deal(
    session: Session,
    actor: Actor,
    *,
    client_id: int,
    title: str,
    amount: Decimal | str | int = 0,
    currency: str | None = None,
    status: DealStatus | str = DealStatus.NEW,
    owner_id: int | None = -1,
    external_ref: str | None = None,
    created_at: datetime | None = None,
) -> Deal:
    """Open a deal for a client the actor can see. The owner is the actor unless another user is named."""
    client = get_client(session, actor, client_id)
    clean_title = _title(title)
    value = parse_amount(amount)
    code = check_deal_currency(session, currency)
    stage = parse_status(status)
    owner = actor.id if owner_id == -1 else check_owner(session, actor, owner_id)
    now = optional_aware(created_at, "created_at") or utcnow()
    deal = Deal(
        client_id=client.id,  # type: ignore[arg-type]
        title=clean_title,
        amount=value,
        currency=code,
        status=stage,
        owner_id=owner,
        created_by_id=actor.id,
        external_ref=external_ref,
        created_at=now,
        updated_at=now,
        closed_at=now if stage in FINAL_DEAL_STATUSES else None,
    )
    session.add(deal)
    session.flush()
    entry = activity.record(
        session,
        ActivityKind.DEAL,
        author_id=actor.id,
        client_id=client.id,
        deal_id=deal.id,
        text=Phrase(N_("Deal created: {title}"), {"title": clean_title}),
        data={"amount": str(value), "currency": code, "status": stage.value},
    )
    entry.created_at = now
    search.index_deal(session, deal, client.name)
    return deal


def get_deal(session: Session, actor: Actor, deal_id: int) -> Deal:
    deal = session.get(Deal, deal_id)
    if deal is None or not (deal.owner_id == actor.id or actor.can(Right.SEE_ALL)):
        raise NotFound(_("No deal with id {id}").format(id=deal_id))
    return deal


def move_deal(
    session: Session, actor: Actor, deal_id: int, status: DealStatus | str, *, at: datetime | None = None
) -> Deal:
    """Move a deal to another pipeline stage. ``closed_at`` follows won/cancelled in and out."""
    deal = get_deal(session, actor, deal_id)
    actor.require_edit(deal.owner_id, _what(deal))
    new = parse_status(status)
    old = deal.status
    if new == old:
        return deal
    now = optional_aware(at, "at") or utcnow()
    deal.status = new
    deal.updated_at = now
    if new in FINAL_DEAL_STATUSES:
        deal.closed_at = now
    else:
        deal.closed_at = None  # reopened: it is in the pipeline again
    entry = activity.record(
        session,
        ActivityKind.STATUS_CHANGED,
        author_id=actor.id,
        client_id=deal.client_id,
        deal_id=deal.id,
        text=Phrase(
            N_("Deal {title}: {old} → {new}"),
            {"title": deal.title, "old": DEAL_STATUSES[old.value], "new": DEAL_STATUSES[new.value]},
            ("old", "new"),
        ),
        data={"from": old.value, "to": new.value},
    )
    entry.created_at = now
    session.flush()
    return deal


_EDITABLE = ("title", "amount", "currency", "owner_id", "status")


def update_deal(session: Session, actor: Actor, deal_id: int, **changes: Any) -> Deal:
    """Change any of: title, amount, currency, owner_id (and status, which goes through ``move_deal``)."""
    deal = get_deal(session, actor, deal_id)
    actor.require_edit(deal.owner_id, _what(deal))
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValidationError(
            _("Unknown deal field: {field}").format(field=", ".join(sorted(unknown))), sorted(unknown)[0]
        )
    changed: list[str] = []
    if "title" in changes:
        title = _title(changes["title"])
        if title != deal.title:
            deal.title = title
            changed.append("title")
    if "amount" in changes:
        amount = parse_amount(changes["amount"])
        if amount != deal.amount:
            deal.amount = amount
            changed.append("amount")
    if "currency" in changes:
        code = check_deal_currency(session, changes["currency"])
        if code != deal.currency:
            deal.currency = code
            changed.append("currency")
    if "owner_id" in changes:
        owner = actor.id if changes["owner_id"] == -1 else changes["owner_id"]
        if owner != deal.owner_id:
            old_owner = deal.owner_id
            deal.owner_id = check_owner(session, actor, owner)
            activity.record(
                session,
                ActivityKind.OWNER_CHANGED,
                author_id=actor.id,
                client_id=deal.client_id,
                deal_id=deal.id,
                text=Phrase(N_("Responsible changed")),
                data={"from": old_owner, "to": deal.owner_id},
            )
            changed.append("owner_id")
    if changed:
        deal.updated_at = utcnow()
        edited = [f for f in changed if f != "owner_id"]
        if edited:
            activity.record(
                session,
                ActivityKind.EDITED,
                author_id=actor.id,
                client_id=deal.client_id,
                deal_id=deal.id,
                text=Phrase(N_("Deal edited")),
                data={"fields": edited},
            )
        search.index_deal(session, deal)
    if "status" in changes:
        move_deal(session, actor, deal_id, changes["status"])
    session.flush()
    return deal


def delete_deal(session: Session, actor: Actor, deal_id: int) -> None:
    """Delete a deal (its own feed and tasks go with it); the client's feed keeps a trace."""
    deal = get_deal(session, actor, deal_id)
    actor.require(Right.DELETE)
    actor.require_edit(deal.owner_id, _what(deal))
    activity.record(
        session,
        ActivityKind.DEAL,
        author_id=actor.id,
        client_id=deal.client_id,
        text=Phrase(N_("Deal deleted: {title}"), {"title": deal.title}),
        data={"deleted": True, "amount": str(deal.amount), "currency": deal.currency, "status": deal.status.value},
    )
    search.remove(session, "deal", deal_id)
    session.delete(deal)
    session.flush()


# --- listing ----------------------------------------------------------------------------------


@dataclass
class DealFilter:
    mine: bool = False  # only the actor's own deals
    owner_id: int | None = None
    client_id: int | None = None
    statuses: tuple[DealStatus, ...] = ()  # empty: every status
    currency: str | None = None
    amount_min: Decimal | None = None  # in the deal's own currency
    amount_max: Decimal | None = None
    created_from: datetime | None = None  # half-open intervals: from <= t < to
    created_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _amount_order(session: Session) -> tuple[ColumnElement, ...]:
    if _is_sqlite(session):
        return (func.length(Deal.amount), col(Deal.amount))
    return (col(Deal.amount),)


def _amount_at_least(session: Session, value: Decimal) -> ColumnElement[bool]:
    if not _is_sqlite(session):
        return col(Deal.amount) >= value
    width = len(_stored_text(value))
    length = func.length(Deal.amount)
    return or_(length > width, and_(length == width, col(Deal.amount) >= value))


def _amount_at_most(session: Session, value: Decimal) -> ColumnElement[bool]:
    if not _is_sqlite(session):
        return col(Deal.amount) <= value
    width = len(_stored_text(value))
    length = func.length(Deal.amount)
    return or_(length < width, and_(length == width, col(Deal.amount) <= value))


def _stored_text(value: Decimal) -> str:
    """How the Money column stores ``value`` on SQLite: as text with all its decimals."""
    scale = Deal.__table__.c.amount.type.scale  # type: ignore[attr-defined]
    return format(Decimal(value).quantize(Decimal(1).scaleb(-scale)), "f")


SORTS = ("created", "amount", "title", "status", "closed")
_STATUS_RANK = case({s.value: i for i, s in enumerate(DEAL_PIPELINE)}, value=col(Deal.status), else_=len(DEAL_PIPELINE))


def _sort_keys(session: Session, sort: str) -> tuple[ColumnElement, ...]:
    if sort == "created":
        return (col(Deal.created_at),)
    if sort == "amount":
        return _amount_order(session)
    if sort == "title":
        return (func.lower(Deal.title),)
    if sort == "status":
        return (_STATUS_RANK,)
    if sort == "closed":
        return (col(Deal.closed_at),)
    raise ValidationError(_("sort: one of {choices}").format(choices=", ".join(SORTS)), "sort")


def _filtered(session: Session, actor: Actor, filt: DealFilter, query: Select) -> Select:
    if filt.mine or not actor.can(Right.SEE_ALL):
        query = query.where(Deal.owner_id == actor.id)
    if filt.owner_id is not None:
        query = query.where(Deal.owner_id == filt.owner_id)
    if filt.client_id is not None:
        query = query.where(Deal.client_id == filt.client_id)
    if filt.statuses:
        query = query.where(col(Deal.status).in_([parse_status(s).value for s in filt.statuses]))
    if filt.currency:
        query = query.where(Deal.currency == filt.currency.strip().upper())
    if filt.amount_min is not None:
        query = query.where(_amount_at_least(session, parse_amount(filt.amount_min, "amount_min")))
    if filt.amount_max is not None:
        query = query.where(_amount_at_most(session, parse_amount(filt.amount_max, "amount_max")))
    for column, start, end in (
        (Deal.created_at, filt.created_from, filt.created_to),
        (Deal.closed_at, filt.closed_from, filt.closed_to),
    ):
        if start is not None:
            query = query.where(col(column) >= optional_aware(start, "from"))
        if end is not None:
            query = query.where(col(column) < optional_aware(end, "to"))
    return query


def list_deals(
    session: Session,
    actor: Actor,
    filt: DealFilter | None = None,
    *,
    sort: str = "created",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Deal]:
    keys = _sort_keys(session, sort)
    # deals not closed yet come last whichever way closing dates are sorted
    order: list[Any] = [col(Deal.closed_at).is_(None)] if sort == "closed" else []
    if descending:
        order += [*(k.desc() for k in keys), col(Deal.id).desc()]
    else:
        order += [*keys, col(Deal.id)]
    query = _filtered(session, actor, filt or DealFilter(), select(Deal)).order_by(*order).offset(offset).limit(limit)
    return list(session.exec(query))


def count_deals(session: Session, actor: Actor, filt: DealFilter | None = None) -> int:
    query = _filtered(session, actor, filt or DealFilter(), select(func.count()).select_from(Deal))
    return int(session.exec(query).one())


# --- the board --------------------------------------------------------------------------------


@dataclass
class BoardColumn:
    status: DealStatus
    count: int
    total_base: Decimal  # every deal of the column, converted to the base currency
    deals: list[Deal]  # the newest ``per_column`` deals
    unconverted: dict[str, Decimal] = field(default_factory=dict)  # currencies whose rate was removed


def _sums_by_status_currency(session: Session, actor: Actor, filt: DealFilter) -> dict[tuple[str, str], Decimal]:
    """Exact sums per (status, currency)."""
    query = _filtered(
        session, actor, filt, select(Deal.status, Deal.currency, money_sum(Deal.amount))
    ).group_by(col(Deal.status), col(Deal.currency))
    return {(status.value, currency): total for status, currency, total in session.execute(query)}


def board(session: Session, actor: Actor, filt: DealFilter | None = None, *, per_column: int = 50) -> list[BoardColumn]:
    """One column per pipeline stage, in order: its count, its total in base currency, its newest deals."""
    filt = filt or DealFilter()
    table = company.rates(session)
    counts_query = _filtered(session, actor, filt, select(Deal.status, func.count())).group_by(col(Deal.status))
    counts = {status.value: int(n) for status, n in session.execute(counts_query)}
    sums = _sums_by_status_currency(session, actor, filt)
    columns: list[BoardColumn] = []
    for status in DEAL_PIPELINE:
        total = Decimal("0.00")
        missing: dict[str, Decimal] = {}
        for (stage, currency), amount in sums.items():
            if stage != status.value:
                continue
            if currency in table:
                total += company.to_base(amount, currency, table)
            else:
                missing[currency] = amount
        deals: list[Deal] = []
        if counts.get(status.value) and per_column > 0:
            query = (
                _filtered(session, actor, filt, select(Deal))
                .where(Deal.status == status)
                .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
                .limit(per_column)
            )
            deals = list(session.exec(query))
        columns.append(BoardColumn(status, counts.get(status.value, 0), total, deals, missing))
    return columns
