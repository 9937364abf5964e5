"""Fixtures of the webhook server tests: a company with a Zadarma secret, signed webhook payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tscrm.integrations.zadarma_signing import webhook_event_signature

SECRET = "SECRET456"
# Wednesday 11 June 2025 09:00 UTC = 11:00 in Madrid (the company's zone, so the PBX's)
NOW = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)
CALLER = "+34612345678"
DID = "+34910000001"
# Zadarma writes international numbers as bare digits
ZD_CALLER = CALLER.lstrip("+")
ZD_DID = DID.lstrip("+")


def pbx_time(moment: datetime, tz: str = "Europe/Madrid") -> str:
    """A time as Zadarma writes call_start: local to the PBX, no zone."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def signed(event: str, secret: str = SECRET, **fields: str) -> tuple[dict[str, str], dict[str, str]]:
    """(form fields, headers) of a webhook Zadarma would send."""
    body = {"event": event, **fields}
    return body, {"Signature": webhook_event_signature(event, body, secret)}


def call_fields(pbx_call_id: str = "in_abc123", start: datetime | None = None, **extra: str) -> dict[str, str]:
    start = start or NOW - timedelta(seconds=5)
    return {"pbx_call_id": pbx_call_id, "call_start": pbx_time(start), "caller_id": ZD_CALLER, "called_did": ZD_DID, **extra}


@pytest.fixture
def company(db, admin):
    """Acme in Spain with its Zadarma secret stored, and a source label for its DID."""
    from tscrm.core.services import telephony
    from tscrm.core.services.company import get_company

    with db.write() as s:
        get_company(s).default_region = "ES"
        telephony.set_zadarma_secret(s, admin, SECRET)
        telephony.set_did_label(s, admin, DID, "Billboard")
    return admin
