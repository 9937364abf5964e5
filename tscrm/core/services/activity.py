"""The activity feed: every service writes here when it changes something a user cares about.

A text the program writes ("Claimed by Ana") is given as a :class:`~tscrm.i18n.Phrase`: ``text``
keeps it rendered in the author's language (for search, exports and old readers) and
``data["phrase"]`` keeps the message itself, which :func:`display_text` renders in the reader's
language. What users write (notes, emails) is a plain string, shown as written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from tscrm.core.models import Activity, ActivityKind
from tscrm.i18n import Phrase


def record(
    session: Session,
    kind: ActivityKind,
    *,
    author_id: int | None,
    text: str | Phrase = "",
    client_id: int | None = None,
    lead_id: int | None = None,
    deal_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Activity:
    entry = Activity(kind=kind, author_id=author_id, client_id=client_id, lead_id=lead_id, deal_id=deal_id, data=data or {})
    set_text(entry, text)
    session.add(entry)
    return entry


def set_text(entry: Activity, text: str | Phrase) -> None:
    """Give an entry its text: a phrase is stored rendered and, in ``data["phrase"]``, as a message."""
    data = {key: value for key, value in (entry.data or {}).items() if key != "phrase"}
    if isinstance(text, Phrase):
        data["phrase"] = text.to_data()
        text = text.render()
    entry.text = text
    entry.data = data


def display_text(entry: Activity) -> str:
    """The entry's text in the current language (a phrase); as stored for what users wrote and old rows."""
    stored = (entry.data or {}).get("phrase")
    if isinstance(stored, dict) and stored.get("msgid"):
        try:
            return Phrase.from_data(stored).render()
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
    return entry.text


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
