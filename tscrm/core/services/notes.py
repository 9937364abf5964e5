"""Notes: free text in the feed of a client, lead or deal (also typed during a call)."""

from __future__ import annotations

from sqlmodel import Session

from tscrm.core.errors import ValidationError
from tscrm.core.models import Activity, ActivityKind, Deal
from tscrm.core.permissions import Actor
from tscrm.core.services import activity
from tscrm.i18n import _


def add_note(
    session: Session,
    actor: Actor,
    text: str,
    *,
    client_id: int | None = None,
    lead_id: int | None = None,
    deal_id: int | None = None,
    call_id: int | None = None,
) -> Activity:
    body = (text or "").strip()
    if not body:
        raise ValidationError(_("text: a note must not be empty"), "text")
    if client_id is None and lead_id is None and deal_id is None:
        raise ValidationError(_("A note belongs to a client, a lead or a deal"), "client")
    # Reading the record checks that the actor may see it.
    if client_id is not None:
        from tscrm.core.services.clients import get_client

        get_client(session, actor, client_id)
    if lead_id is not None:
        from tscrm.core.services.leads import get_lead

        get_lead(session, actor, lead_id)
    if deal_id is not None:
        from tscrm.core.services.deals import get_deal

        deal: Deal = get_deal(session, actor, deal_id)
        client_id = client_id or deal.client_id
    entry = activity.record(
        session,
        ActivityKind.NOTE,
        author_id=actor.id,
        text=body,
        client_id=client_id,
        lead_id=lead_id,
        deal_id=deal_id,
        data={"call_id": call_id} if call_id else {},
    )
    session.flush()
    return entry
