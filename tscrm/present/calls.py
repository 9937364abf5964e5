"""How calls look to a person (CLI tables, --json, the app's call log and call widget)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tscrm.i18n import _
from tscrm.present import user_names

if TYPE_CHECKING:
    from sqlmodel import Session

    from tscrm.core.models import Call
    from tscrm.core.permissions import Actor

DIRECTION_ARROWS = {"inbound": "←", "outbound": "→", "internal": "↔"}


def duration_text(seconds: int) -> str:
    """Talk time as m:ss (h:mm:ss from an hour on); empty for a call nobody answered."""
    if seconds <= 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number_text(number: str, region: str | None) -> str:
    """A stored number as people read it; extensions and withheld ids stay as the PBX gave them."""
    from tscrm.core.phones import format_phone

    return format_phone(number, region) if number.startswith("+") else number


def _visible_names(session: "Session", actor: "Actor", model: Any, ids: set[int]) -> dict[int, str]:
    """Names of the clients (or leads) the actor may see; others stay nameless in the log."""
    if not ids:
        return {}
    from sqlmodel import col, select

    rows = session.exec(select(model.id, model.name, model.owner_id).where(col(model.id).in_(ids)))
    return {row_id: name for row_id, name, owner_id in rows if actor.can_see(owner_id)}


def call_records(session: "Session", actor: "Actor", rows: "list[Call]") -> list[dict[str, Any]]:
    """The calls as plain records (JSON output, tables, the app), with agent and client/lead names."""
    from tscrm.core.models import Client, Lead
    from tscrm.core.services.calls import call_duration

    agents = user_names(session, (c.agent_id for c in rows))
    clients = _visible_names(session, actor, Client, {c.client_id for c in rows if c.client_id is not None})
    leads = _visible_names(session, actor, Lead, {c.lead_id for c in rows if c.lead_id is not None})
    return [
        {
            "id": c.id,
            "started_at": c.started_at,
            "answered_at": c.answered_at,
            "ended_at": c.ended_at,
            "direction": c.direction.value,
            "outcome": c.outcome.value if c.outcome else None,
            "their_number": c.their_number,
            "our_number": c.our_number,
            "agent_id": c.agent_id,
            "agent": agents.get(c.agent_id) if c.agent_id is not None else None,
            "client_id": c.client_id,
            "client": clients.get(c.client_id) if c.client_id is not None else None,
            "lead_id": c.lead_id,
            "lead": leads.get(c.lead_id) if c.lead_id is not None else None,
            "duration": call_duration(c),
            "recording_ref": c.recording_ref,
            "transcript": c.transcript,
        }
        for c in rows
    ]


def contact_text(record: dict[str, Any]) -> str:
    """Who was on the line: the client's or lead's name (marked as lead), else nothing."""
    if record["client"]:
        return record["client"]
    if record["lead"]:
        return _("{name} (lead)").format(name=record["lead"])
    return ""
