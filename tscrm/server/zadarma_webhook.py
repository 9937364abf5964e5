"""Zadarma's PBX webhooks: reading, checking and translating them (no HTTP here, see tscrm.server.app).

A webhook is a form (or, for SMS, perhaps JSON) with an ``event`` field and a ``Signature`` header:
``base64(hex(HMAC_SHA1(secret, signed text)))`` where the signed text depends on the event
(tscrm.integrations.zadarma_signing.WEBHOOK_SIGNED_FIELDS; reference: zadarma-api.md §1.4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from tscrm.core.models import CallDirection, CallOutcome
from tscrm.integrations.zadarma_signing import WEBHOOK_SIGNED_FIELDS, signature_matches, webhook_event_signature

KNOWN_EVENTS = frozenset(WEBHOOK_SIGNED_FIELDS)
CALL_EVENTS = frozenset(e for e in KNOWN_EVENTS if e.startswith("NOTIFY_"))
# Events sent while a call is in progress: a caller may wait in a queue for long before an extension rings.
IN_CALL_EVENTS = frozenset({"NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_IVR"})
IN_CALL_GRACE = timedelta(hours=2)

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class WebhookRefused(Exception):
    """The request is not a webhook we accept: ``status`` is the HTTP answer, ``reason`` goes to the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def read_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The webhook's fields from a form-encoded or JSON body (values as text, as they are signed)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRefused(400, "body is not UTF-8") from None
    if "json" in content_type.lower() or text.lstrip().startswith("{"):
        try:
            data = json.loads(text or "{}")
        except ValueError:
            raise WebhookRefused(400, "body is not valid JSON") from None
        if not isinstance(data, dict):
            raise WebhookRefused(400, "JSON body is not an object")
        return {str(k): v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else "" if v is None else str(v)
                for k, v in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def check_shape(fields: Mapping[str, str]) -> str:
    """The event name, once the event is known and carries what it must; else WebhookRefused(400)."""
    event = (fields.get("event") or "").strip()
    if not event:
        raise WebhookRefused(400, "no event field")
    if event not in KNOWN_EVENTS:
        raise WebhookRefused(400, f"unknown event {event[:40]!r}")
    needed = set(WEBHOOK_SIGNED_FIELDS[event])
    if event in CALL_EVENTS:
        needed |= {"pbx_call_id"}
    needed.discard("called_did")  # a call to an extension or a hidden number may have none
    missing = sorted(name for name in needed if not str(fields.get(name) or "").strip())
    if missing:
        raise WebhookRefused(400, f"{event} lacks {', '.join(missing)}")
    return event


def check_signature(event: str, fields: Mapping[str, str], given: str | None, secret: str) -> None:
    if not given:
        raise WebhookRefused(401, f"{event} without a Signature header")
    if not signature_matches(webhook_event_signature(event, fields, secret), given):
        raise WebhookRefused(401, f"{event} with a wrong signature")


def parse_pbx_time(text: str | None, tz: str) -> datetime | None:
    """``call_start`` ("2026-01-01 10:00:00" in the PBX's zone, or a Unix time) as aware UTC."""
    value = (text or "").strip()
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        local = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise WebhookRefused(400, f"call_start {value[:40]!r} is not a time") from None
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _seconds(text: str | None) -> int:
    try:
        return max(0, int(float(str(text or "0"))))
    except ValueError:
        return 0


def check_fresh(event: str, fields: Mapping[str, str], tz: str, now: datetime, window: timedelta) -> None:
    """Refuse an event whose call started too long ago (or in the future): a replay of an old capture.

    The moment compared is the call's start, plus the talk time for an end; events sent during a
    call (an extension ringing, an answer) may come later after a long wait in a queue.
    """
    start = parse_pbx_time(fields.get("call_start"), tz)
    if start is None:
        return  # a recording or an SMS: no time to judge by (the replay check still applies)
    moment = start
    if event in ("NOTIFY_END", "NOTIFY_OUT_END"):
        moment = start + timedelta(seconds=_seconds(fields.get("duration")))
    allowed = window + (IN_CALL_GRACE if event in IN_CALL_EVENTS else timedelta(0))
    if now - moment > allowed:
        raise WebhookRefused(409, f"{event} is stale (call_start {fields.get('call_start')})")
    if moment - now > window:
        raise WebhookRefused(409, f"{event} is from the future (call_start {fields.get('call_start')})")


@dataclass(frozen=True)
class CallReport:
    """What ``apply_call_event`` is given for one webhook."""

    call_id: str
    kind: str
    direction: CallDirection
    number: str
    at: datetime
    extension: str | None
    outcome: CallOutcome | None
    did: str | None
    data: dict[str, str]

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "kind": self.kind,
            "direction": self.direction,
            "number": self.number,
            "at": self.at,
            "extension": self.extension,
            "outcome": self.outcome,
            "did": self.did,
            "data": self.data,
        }


def call_report(fields: Mapping[str, str], tz: str, received_at: datetime) -> CallReport | None:
    """The call report of a webhook (mapped by the Zadarma client's ``event_from_webhook``); None for
    events that are not about a call's progress (a recording, an SMS, an IVR step).

    A start keeps its time from ``call_start``; later events are stamped when they arrive: they are
    sent as they happen, while ``call_start`` is the call's start, not theirs.
    """
    from tscrm.telephony.zadarma import event_from_webhook

    event = event_from_webhook(dict(fields), tz)
    if event is None:
        return None
    kind = str(getattr(event.kind, "value", event.kind))
    data = {str(k): str(v) for k, v in (event.data or {}).items()}
    data.update({key: str(fields[key]) for key in UTM_KEYS if fields.get(key)})  # call tracking
    return CallReport(
        call_id=event.call_id,
        kind=kind,
        direction=CallDirection(event.direction),
        number=event.number,
        at=event.at if kind in ("incoming", "ringing") else received_at,
        extension=event.extension or data.get("answered_by") or None,
        outcome=event.outcome,
        did=event.did,
        data=data,
    )


def recording_ref(fields: Mapping[str, str]) -> str | None:
    """``zadarma:<call_id_with_rec>`` of a recording that is ready (NOTIFY_RECORD)."""
    from tscrm.telephony.zadarma import recording_ref as zadarma_ref

    rec = (fields.get("call_id_with_rec") or "").strip()
    if fields.get("event") != "NOTIFY_RECORD" or not rec:
        return None
    return zadarma_ref(rec)
