"""SMS: parts, templates, bulk sends with a scripted service (failures, retries), the report and the feed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from tscrm.core.errors import Conflict, PermissionDenied, ValidationError
from tscrm.core.models import Activity, ActivityKind, Lead, PhoneKind, SourceLabel
from tscrm.core.models_dialer import SmsMessage, SmsStatus
from tscrm.core.services import clients, dialer, sms
from tscrm.core.services.clients import new_contact
from tscrm.core.services.contacts import PhoneInput

from .conftest import ScriptedSmsBackend


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # two septets each: 160
        ("€" * 81, "GSM-7", 2),
        ("ñé Ü à" * 10, "GSM-7", 1),
        ("ó" * 70, "UCS-2", 1),  # ó is not in GSM 03.38
        ("ó" * 71, "UCS-2", 2),
        ("ó" * 134, "UCS-2", 2),
        ("ó" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # surrogate pairs count twice
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_parts_follow_gsm7_and_ucs2_segment_rules(text, encoding, parts):
    counted = sms.sms_parts(text)
    assert (counted.encoding, counted.parts) == (encoding, parts)


def test_templates_name_unknown_fields(db, admin):
    with db.write() as s:
        with pytest.raises(ValidationError, match=r"unknown field \{frist_name\}"):
            sms.add_template(s, admin, "promo", "Hola {frist_name}")
        with pytest.raises(ValidationError, match="template"):
            sms.add_template(s, admin, "broken", "Hola {first_name")
        sms.add_template(s, admin, "promo", "Hola {first_name} de {company}, soy {agent} ({owner}). {{oferta}}")
        with pytest.raises(Conflict):
            sms.add_template(s, admin, "promo", "again")
    with db.write() as s:
        assert [t.name for t in sms.list_templates(s)] == ["promo"]
        sms.remove_template(s, admin, "promo")
        assert sms.list_templates(s) == []


def _clients(db, admin):
    with db.write() as s:
        a = clients.create_client(
            s,
            admin,
            new_contact(
                "José García",
                phones=[PhoneInput("+34912345678", PhoneKind.WORK), PhoneInput("+34612345001", PhoneKind.MOBILE)],
                company_name="Costa Azul",
                tags=["vip"],
            ),
        )
        b = clients.create_client(s, admin, new_contact("Lucía Gómez", phones=["+34612345002"], tags=["vip"]))
        c = clients.create_client(s, admin, new_contact("Sin Teléfono", tags=["vip"]))
        d = clients.create_client(s, admin, new_contact("Flagged Fran", phones=["+34612345003"], tags=["vip"]))
        dialer.set_do_not_call(s, admin, "+34612345003")
        return a.id, b.id, c.id, d.id


def test_bulk_send_report_matches_what_the_service_said(db, admin):
    a, b, _c, _d = _clients(db, admin)
    backend = ScriptedSmsBackend(fail={"+34612345002": "invalid destination"}, transient={"+34612345001": 2, "+34600000003": 9})
    naps: list[float] = []
    progress: list[tuple[int, int]] = []
    with db.read() as s:
        selection = sms.select_recipients(s, admin, tag="vip", numbers_text="+34 600 000 003\nnot a number\n+34612345002")
        assert [r.number for r in selection.recipients] == ["+34612345001", "+34612345002", "+34600000003"]
        assert sorted(why for _who, why in selection.skipped) == ["do_not_call", "duplicate", "no_phone"]
        assert [b.line for b in selection.bad_lines] == [2]
        first = sms.preview(s, admin, selection.recipients, "Hola {first_name} ({company}), {agent}")
        assert first[0].text == "Hola José (Costa Azul), Ana Admin" and first[0].parts.parts == 1
    report = sms.send_bulk(
        db, admin, selection.recipients, "Hola {first_name}", backend, retries=3, backoff_s=1, rate_per_s=0,
        sleep=naps.append, progress=lambda i, n, row: progress.append((i, n)),
    )
    rows = {r.number: r for r in report.rows}
    assert rows["+34612345001"].status == SmsStatus.SENT and rows["+34612345001"].cost == Decimal("0.05")
    assert rows["+34612345002"].status == SmsStatus.FAILED and rows["+34612345002"].error == "invalid destination"
    assert rows["+34600000003"].status == SmsStatus.FAILED and rows["+34600000003"].error == "429 rate limited"
    assert report.sent == 1 and report.failed == 2 and report.cost_by_currency() == {"EUR": Decimal("0.05")}
    assert naps == [1, 2, 1, 2, 4]  # two retries for the first, three (then give up) for the last
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert backend.sent == [("+34612345001", "Hola José")]
    with db.read() as s:
        stored = {m.number: m for m in sms.batch_messages(s, report.batch_id)}
        assert stored["+34612345001"].attempts == 3 and stored["+34612345001"].sent_at is not None
        feed = s.exec(select(Activity).where(Activity.kind == ActivityKind.SMS).order_by(Activity.id)).all()
        assert [(f.client_id, f.data["status"]) for f in feed] == [(a, "sent"), (b, "failed")]
        assert "invalid destination" in feed[1].text


def test_rate_limit_spaces_the_sends(db, admin):
    with db.read() as s:
        selection = sms.select_recipients(s, admin, numbers_text="\n".join(f"+3461234{5100 + i}" for i in range(4)))
    now = [0.0]
    naps: list[float] = []

    def sleep(seconds):
        naps.append(round(seconds, 6))
        now[0] += seconds

    sms.send_bulk(db, admin, selection.recipients, "hi", ScriptedSmsBackend(), rate_per_s=2, sleep=sleep, clock=lambda: now[0])
    assert naps == [0.5, 0.5, 0.5]


def test_bulk_needs_the_right_and_auto_lead_makes_leads(db, admin, make_user):
    intern = make_user("Intern")
    with db.read() as s:
        selection = sms.select_recipients(s, intern, numbers_text="+34612345101\n+34612345102")
    with pytest.raises(PermissionDenied):
        sms.send_bulk(db, intern, selection.recipients, "hi", ScriptedSmsBackend())
    report = sms.send_bulk(db, admin, selection.recipients, "hi {phone}", ScriptedSmsBackend(), rate_per_s=0, auto_lead=True)
    assert report.sent == 2
    with db.read() as s:
        made = s.exec(select(Lead).order_by(Lead.id)).all()
        assert [l.name for l in made] == ["+34612345101", "+34612345102"]
        assert {s.get(SourceLabel, l.source_id).name for l in made} == {"sms"}
        assert s.exec(select(SmsMessage.text).order_by(SmsMessage.id)).all() == ["hi +34 612 34 51 01", "hi +34 612 34 51 02"]


def test_send_one_to_a_client_uses_the_mobile(db, admin):
    a, *_ = _clients(db, admin)
    backend = ScriptedSmsBackend()
    row = sms.send_one(db, admin, "Hola {name}", backend, client_id=a)
    assert row.status == SmsStatus.SENT and backend.sent == [("+34612345001", "Hola José García")]
    row = sms.send_one(db, admin, "Plain", backend, number="+34 612 345 002")
    assert row.name == "Lucía Gómez"
    with db.read() as s:
        assert s.exec(select(SmsMessage.client_id).where(SmsMessage.id == row.message_id)).one() is not None


def test_a_broken_service_stops_the_batch_and_an_unexplained_crash_is_uncertain(db, admin):
    from tscrm.core.errors import TelephonyError

    class Down:
        name = "down"
        calls = 0

        def send(self, numbers, text, sender=None):
            Down.calls += 1
            if Down.calls == 1:
                raise RuntimeError("connection reset")
            raise TelephonyError("Zadarma: 401 wrong key")

    with db.read() as s:
        selection = sms.select_recipients(s, admin, numbers_text="\n".join(f"+3461234{5200 + i}" for i in range(6)))
    report = sms.send_bulk(db, admin, selection.recipients, "hi", Down(), rate_per_s=0, sleep=lambda s: None)
    assert [r.status for r in report.rows] == [SmsStatus.UNCERTAIN] + [SmsStatus.FAILED] * 5
    assert report.rows[0].error == "RuntimeError: connection reset"
    assert [r.error for r in report.rows[1:3]] == ["Zadarma: 401 wrong key"] * 2
    assert Down.calls == 3 and "not tried" in report.rows[3].error
