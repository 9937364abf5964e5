"""Back-filling the call log from a PBX's call history (``tscrm calls sync``).

The PBX client (``tscrm.telephony``) fetches the history and hands the calls in as ``PbxCall`` rows;
this module writes them through ``calls.log_call`` -- numbers matched to clients and leads, the
extension to its user, the feed entry written -- keyed on the PBX call id (``external_id``), the
same key the live webhooks use. So a re-run creates nothing new and rewrites nothing unchanged.

A call already in the log (from a webhook, a Teamsale import or an earlier sync) is only *completed*:
the history fills what the log lacks (agent, answer and end times, outcome, recording, our number,
DID) and never overwrites what the live events recorded, which is more precise (real answer time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from tscrm.core.errors import PermissionDenied, TscrmError
from tscrm.core.models import Call, CallDirection, CallOutcome, User
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import calls
from tscrm.core.timeutil import require_aware
from tscrm.i18n import _

# What the history may add to a call already logged, when the log has nothing there yet.
FILLABLE = ("agent_id", "answered_at", "ended_at", "outcome", "recording_ref", "our_number", "source_did")


@dataclass(frozen=True)
class PbxCall:
    """One call of the PBX's history, already read from the PBX's own format."""

    external_id: str  # the PBX call id (Zadarma pbx_call_id), the key shared with live events
    direction: CallDirection
    their_number: str  # the far end; E.164 when the PBX gave a full number
    started_at: datetime  # aware
    seconds: int = 0  # how long the call lasted
    outcome: CallOutcome | None = None
    extension: str | None = None  # the agent's extension
    our_number: str | None = None  # the number we called from (outbound)
    source_did: str | None = None  # our number that was called (inbound)
    recording_ref: str | None = None
    reason: str = ""  # the PBX's words for an unusual end (kept for reports, not stored)


@dataclass(frozen=True)
class SyncError:
    external_id: str
    field: str
    message: str


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SyncError] = field(default_factory=list)

    def add(self, other: SyncReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"external_id": e.external_id, "field": e.field, "message": e.message} for e in self.errors],
        }


def check_may_sync(actor: Actor) -> None:
    """Back-filling writes everybody's calls: it takes the import right (admins have it)."""
    if not actor.can(Right.IMPORT):
        raise PermissionDenied(
            _("{user} may not fill the call log from the phone system (it needs the import right)").format(user=actor.name)
        )


def _best(rows: Iterable[PbxCall]) -> list[PbxCall]:
    """One row per PBX call: a call rung on several extensions has one row per leg; the answered leg
    says best what happened (else the last one), and the call lasted as long as its longest leg."""
    chosen: dict[str, PbxCall] = {}
    for row in rows:
        key = row.external_id.strip()
        if not key:
            continue
        before = chosen.get(key)
        if before is None:
            chosen[key] = row
            continue
        pick = before if before.outcome == CallOutcome.ANSWERED and row.outcome != CallOutcome.ANSWERED else row
        longest = max(before.seconds, row.seconds)
        chosen[key] = replace(pick, seconds=longest, started_at=min(before.started_at, row.started_at))
    return list(chosen.values())


def _times(row: PbxCall, started: datetime) -> tuple[datetime | None, datetime]:
    """(answered_at, ended_at) as far as a history row tells: answered calls count from the start."""
    started = max(started, require_aware(row.started_at, "started_at"))
    answered = started if row.outcome == CallOutcome.ANSWERED else None
    return answered, started + timedelta(seconds=max(row.seconds, 0))


def _snapshot(call: Call) -> dict[str, Any]:
    return {name: getattr(call, name) for name in Call.model_fields}


def sync_pbx_calls(session: Session, actor: Actor, rows: Iterable[PbxCall]) -> SyncReport:
    """Write the PBX's calls into the log; counts what was created, completed and left as it was.

    A row the log cannot take (e.g. a start time without zone) is reported with its PBX call id and
    skipped; the others are written.
    """
    check_may_sync(actor)
    report = SyncReport()
    agents = {
        u.extension.strip(): u.id
        for u in session.exec(select(User).where(col(User.extension).is_not(None)).order_by(col(User.id).desc()))
        if u.extension
    }
    given = list(rows)
    for row in given:
        if not row.external_id.strip():
            report.errors.append(SyncError("", "external_id", _("a call without the PBX's call id was skipped")))
    for row in _best(given):
        external = row.external_id.strip()
        agent_id = agents.get((row.extension or "").strip())
        try:
            with session.begin_nested():
                existing = session.exec(select(Call).where(Call.external_id == external)).first()
                if existing is None:
                    answered, ended = _times(row, row.started_at)
                    calls.log_call(
                        session,
                        None,  # the PBX's own report, as the live bridge logs it
                        direction=row.direction,
                        their_number=row.their_number or "?",
                        agent_id=agent_id,
                        started_at=row.started_at,
                        answered_at=answered,
                        ended_at=ended,
                        outcome=row.outcome,
                        our_number=row.our_number,
                        recording_ref=row.recording_ref,
                        source_did=row.source_did,
                        external_id=external,
                    )
                    report.created += 1
                    continue
                if _complete(session, existing, row, agent_id):
                    report.updated += 1
                else:
                    report.unchanged += 1
        except TscrmError as exc:
            report.errors.append(SyncError(external, getattr(exc, "field", None) or "", str(exc)))
    return report


def _complete(session: Session, call: Call, row: PbxCall, agent_id: int | None) -> bool:
    """Fill what the logged call lacks; True when anything changed."""
    answered, ended = _times(row, call.started_at)
    if call.answered_at is not None:
        ended = max(ended, call.answered_at)
    offered = {
        "agent_id": agent_id,
        "answered_at": answered,
        "ended_at": ended,
        "outcome": row.outcome,
        "recording_ref": row.recording_ref,
        "our_number": row.our_number,
        "source_did": row.source_did,
    }
    fills = {k: v for k, v in offered.items() if v is not None and getattr(call, k) is None}
    unmatched = call.client_id is None and call.lead_id is None and call.their_number.startswith("+")
    if not fills and not unmatched:
        return False
    before = _snapshot(call)
    values = {k: getattr(call, k) for k in FILLABLE} | fills
    calls.log_call(
        session,
        None,
        direction=call.direction,
        their_number=call.their_number,
        started_at=call.started_at,
        transcript=call.transcript,
        external_id=call.external_id,
        **values,
    )
    return _snapshot(call) != before
