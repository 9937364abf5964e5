"""The activity feed: every service writes here when it changes something a user cares about."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from tscrm.core.models import Activity, ActivityKind


def record(
    session: Session,
    kind: ActivityKind,
    *,
    author_id: int | None,
    text: str = "",
    client_id: int | None = None,
    lead_id: int | None = None,
    deal_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Activity:
    entry = Activity(
        kind=kind,
        author_id=author_id,
        text=text,
        client_id=client_id,
        lead_id=lead_id,
        deal_id=deal_id,
        data=data or {},
    )
    session.add(entry)
    return entry


def feed(
    session: Session,
    *,
    client_id: int | None = None,
    lead_id: int | None = None,
    deal_id: int | None = None,
    kinds: set[ActivityKind] | None = None,
    limit: int = 200,
    offset: int = 0,
    newest_first: bool = False,
) -> list[Activity]:
    """Entries of one client, lead or deal, in time order. A client's feed includes its deals'."""
    conditions = []
    if client_id is not None:
        conditions.append(Activity.client_id == client_id)
    if lead_id is not None:
        conditions.append(Activity.lead_id == lead_id)
    if deal_id is not None:
        conditions.append(Activity.deal_id == deal_id)
    if not conditions:
        return []
    query = select(Activity).where(or_(*conditions))
    if kinds:
        query = query.where(col(Activity.kind).in_([k.value for k in kinds]))
    order = (col(Activity.created_at).desc(), col(Activity.id).desc()) if newest_first else (
        col(Activity.created_at),
        col(Activity.id),
    )
    return list(session.exec(query.order_by(*order).offset(offset).limit(limit)))
