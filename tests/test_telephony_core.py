"""Telephony in core: settings, screen pop, call events → one call and one feed entry, auto-leads,
create-from-call with notes, routing to the owner, PBX event replay. Every test on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tscrm.core.errors import Conflict, ConfigError, NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, ActivityKind, Call, CallOutcome, Lead, LeadStatus, User
from tscrm.core.models_telephony import PbxEvent, TelephonyMode, UserTelephony
from tscrm.core.services import activity, clients, leads, notes, telephony, users
from tscrm.core.services.calls import call_duration
from tscrm.core.services.clients import new_contact
from tscrm.core.services.company import get_company

# Wednesday 11 June 2025, 09:00 UTC = 11:00 in Madrid
T0 = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)
CALLER = "+34612345678"
DID = "+34910000001"


@pytest.fixture
def spain(db, admin):
    with db.write() as s:
        get_company(s).default_region = "ES"
    return admin


def _events(db, call_id, steps, **common):
    """Apply (kind, seconds after T0, extra) reports; returns the call's database id."""
    for kind, seconds, extra in steps:
        with db.write() as s:
            call = telephony.apply_call_event(s, call_id=call_id, kind=kind, at=T0 + timedelta(seconds=seconds), **{**common, **extra})
            call_db_id = call.id
    return call_db_id


# --- settings ----------------------------------------------------------------------------------


def test_user_settings_defaults_then_saved_by_self_and_admin_only(db, spain, make_user):
    agent = make_user("Intern")
    other = make_user("Intern")
    with db.read() as s:
        row = telephony.user_settings(s, agent.id)
        assert (row.mode, row.sip_port, row.widget_side, row.auto_lead_incoming) == (TelephonyMode.DESK_PHONE, 5060, "right", False)
        assert s.get(UserTelephony, agent.id) is None  # defaults are not saved
    with db.write() as s:
        telephony.save_user_settings(s, agent, agent.id, mode="softphone", sip_server=" pbx.test ", sip_port="5070", widget_side="LEFT")
    with db.write() as s:
        telephony.save_user_settings(s, spain, agent.id, auto_lead_incoming=True)
    with db.write() as s, pytest.raises(PermissionDenied):
        telephony.save_user_settings(s, other, agent.id, mode="desk_phone")
    for bad in ({"mode": "carrier pigeon"}, {"sip_port": 70000}, {"widget_side": "top"}, {"colour": "red"}):
        with db.write() as s, pytest.raises(ValidationError):
            telephony.save_user_settings(s, agent, agent.id, **bad)
    with db.read() as s:
        row = telephony.user_settings(s, agent.id)
        assert (row.mode, row.sip_server, row.sip_port, row.widget_side, row.auto_lead_incoming) == (
            TelephonyMode.SOFTPHONE, "pbx.test", 5070, "left", True
        )


def test_sip_password_goes_to_the_secrets_store(db, spain, make_user):
    agent = make_user("Intern")
    with db.read() as s, pytest.raises(ConfigError):
        telephony.sip_password(s, agent.id)
    with db.write() as s:
        telephony.set_sip_password(s, agent, agent.id, "s3cret")
    with db.read() as s:
        row = telephony.user_settings(s, agent.id)
        assert row.sip_secret_ref == f"db:sip/{agent.id}/password"
        assert "s3cret" not in repr(row)
        assert telephony.sip_password(s, agent.id) == "s3cret"
    with db.write() as s:
        telephony.set_sip_password(s, agent, agent.id, "")
    with db.read() as s, pytest.raises(ConfigError):
        telephony.sip_password(s, agent.id)


def test_company_settings_need_the_team_right(db, spain, make_user):
    manager = make_user("Manager")
    with db.read() as s:
        row = telephony.company_settings(s)
        assert (row.route_to_owner, row.dial_all_phones, row.zadarma_key, row.zadarma_secret_ref) == (False, False, None, None)
        assert telephony.pbx_timezone(s) == "Europe/Madrid"  # the company's, until set
    with db.write() as s, pytest.raises(PermissionDenied):
        telephony.save_company_settings(s, manager, route_to_owner=True)
    with db.write() as s, pytest.raises(ValidationError):
        telephony.save_company_settings(s, spain, pbx_timezone="Mars/Olympus")
    with db.write() as s:
        telephony.save_company_settings(s, spain, zadarma_key="KEY123", route_to_owner=True, pbx_timezone="Europe/Kyiv")
        telephony.set_zadarma_secret(s, spain, "SECRET456")
    with db.read() as s:
        row = telephony.company_settings(s)
        assert (row.zadarma_key, row.route_to_owner, row.zadarma_secret_ref) == ("KEY123", True, "db:zadarma/secret")
        assert telephony.zadarma_secret(s) == "SECRET456"
        assert telephony.pbx_timezone(s) == "Europe/Kyiv"


def test_did_labels(db, spain, make_user):
    with db.write() as s:
        telephony.set_did_label(s, spain, "910 000 001", "Billboard")
        telephony.set_did_label(s, spain, "+34 910 000 002", "Radio")
        telephony.set_did_label(s, spain, DID, "Billboard M-30")  # relabel
    with db.write() as s, pytest.raises(PermissionDenied):
        telephony.set_did_label(s, make_user("Manager"), DID, "Web")
    with db.read() as s:
        assert [(d.did, d.label) for d in telephony.did_labels(s)] == [(DID, "Billboard M-30"), ("+34910000002", "Radio")]
        assert telephony.source_for_did(s, "910000002") == "Radio"
        assert telephony.source_for_did(s, "+34910000009") is None
    with db.write() as s:
        telephony.remove_did_label(s, spain, "+34910000002")
    with db.write() as s, pytest.raises(NotFound):
        telephony.remove_did_label(s, spain, "+34910000002")
    with db.read() as s:
        assert [d.did for d in telephony.did_labels(s)] == [DID]


# --- screen pop --------------------------------------------------------------------------------


def test_identify_number_client_first_with_last_activity(db, spain, make_user):
    with db.write() as s:
        lead_id = leads.create_lead(s, spain, new_contact("Lead Lucía", [CALLER])).id
        client_id = clients.create_client(s, spain, new_contact("Lucía García", [CALLER], company_name="García SL")).id
        notes.add_note(s, spain, "Wants the premium plan", client_id=client_id)
    with db.read() as s:
        match = telephony.identify_number(s, spain, "612 34 56 78")
        assert (match.kind, match.id, match.name, match.company, match.owner_name) == (
            "client", client_id, "Lucía García", "García SL", "Ana Admin"
        )
        assert match.last_activity_text == "Wants the premium plan" and match.last_activity_at is not None
        assert match.visible and match.number == CALLER
        assert telephony.identify_number(s, spain, "+34699999999") is None
        assert telephony.identify_number(s, spain, "anonymous") is None
    with db.write() as s:
        clients.delete_client(s, spain, client_id)
    with db.read() as s:
        match = telephony.identify_number(s, spain, CALLER)
        assert (match.kind, match.id) == ("lead", lead_id)


def test_identify_number_of_someone_elses_client_shows_name_not_history(db, spain, make_user):
    intern = make_user("Intern", name="Iris Intern")
    with db.write() as s:
        client_id = clients.create_client(s, spain, new_contact("Lucía García", [CALLER])).id
        notes.add_note(s, spain, "Private remark", client_id=client_id)
    with db.read() as s:
        match = telephony.identify_number(s, intern, CALLER)
    assert (match.name, match.owner_name, match.visible) == ("Lucía García", "Ana Admin", False)
    assert match.last_activity_text is None and match.last_activity_at is None


# --- call events -------------------------------------------------------------------------------


def test_event_sequence_makes_one_call_with_outcome_duration_and_one_feed_entry(db, spain, make_user):
    agent = make_user("Intern", extension="201")
    with db.write() as s:
        client_id = clients.create_client(s, spain, new_contact("Lucía", [CALLER]), owner_id=agent.id).id
    common = {"direction": "inbound", "number": "0034612345678", "did": DID}
    first = _events(db, "in_abc", [("incoming", 0, {})], **common)
    with db.read() as s:  # ringing: a call row, linked, no feed entry yet
        call = s.get(Call, first)
        assert (call.client_id, call.agent_id, call.answered_at, call.ended_at) == (client_id, None, None, None)
        assert [a for a in activity.feed(s, client_id=client_id) if a.kind == ActivityKind.CALL] == []
    call_db_id = _events(
        db,
        "in_abc",
        [("incoming", 1, {"extension": "201"}), ("answered", 6, {"extension": "201"}), ("ended", 96, {"outcome": "answered"})],
        **common,
    )
    # the PBX sends the end twice: nothing changes
    _events(db, "in_abc", [("ended", 97, {"outcome": "answered"})], **common)
    with db.read() as s:
        rows = list(s.exec(select(Call).where(Call.external_id == "in_abc")))
        assert len(rows) == 1 and rows[0].id == call_db_id == first
        call = rows[0]
        assert (call.agent_id, call.their_number, call.our_number, call.source_did) == (agent.id, CALLER, DID, DID)
        assert call.outcome == CallOutcome.ANSWERED and call_duration(call) == 90
        assert call.started_at == T0 and call.ended_at == T0 + timedelta(seconds=96)
        entries = [a for a in activity.feed(s, client_id=client_id) if a.kind == ActivityKind.CALL]
        assert len(entries) == 1
        assert entries[0].text == "Incoming call, 1:30" and entries[0].author_id == agent.id
        assert entries[0].data["call_id"] == call_db_id


def test_missed_call_and_end_without_answer_report(db, spain):
    with db.write() as s:
        client_id = clients.create_client(s, spain, new_contact("Lucía", [CALLER])).id
    missed = _events(db, "in_missed", [("incoming", 0, {}), ("ended", 30, {})], direction="inbound", number=CALLER)
    busy = _events(db, "in_busy", [("incoming", 0, {}), ("ended", 2, {"outcome": "busy"}), ("ended", 3, {})],
                   direction="inbound", number=CALLER)
    # an end saying "answered" with the talk time, the answer report lost
    talked = _events(
        db, "out_1", [("ended", 100, {"outcome": "answered", "extension": "100", "data": {"duration": "40"}})],
        direction="outbound", number=CALLER,
    )
    with db.read() as s:
        call = s.get(Call, missed)
        assert call.outcome == CallOutcome.NO_ANSWER and call_duration(call) == 0
        assert s.get(Call, busy).outcome == CallOutcome.BUSY  # the repeated end did not undo it
        other = s.get(Call, talked)
        assert other.outcome == CallOutcome.ANSWERED and call_duration(other) == 40 and other.agent_id == spain.id
        texts = sorted(a.text for a in activity.feed(s, client_id=client_id) if a.kind == ActivityKind.CALL)
        assert texts == ["Incoming call, busy", "Incoming call, no answer", "Outgoing call, 0:40"]


def test_bad_events_are_refused(db, spain):
    for bad in ({"kind": "exploded"}, {"call_id": " "}, {"at": datetime(2025, 6, 11, 9, 0)}, {"direction": "sideways"}):
        kw = {"call_id": "x", "kind": "incoming", "direction": "inbound", "number": CALLER, "at": T0, **bad}
        with db.write() as s, pytest.raises(ValidationError):
            telephony.apply_call_event(s, **kw)
    with db.write() as s, pytest.raises(NotFound):
        telephony.apply_call_event(s, call_id="x", kind="incoming", direction="inbound", number=CALLER, at=T0, agent_id=9999)


def test_auto_lead_with_did_label_and_utm(db, spain, make_user):
    agent = make_user("Intern", extension="201")
    with db.write() as s:
        telephony.set_did_label(s, spain, DID, "Billboard")
        telephony.save_user_settings(s, agent, agent.id, auto_lead_incoming=True)
    utm = {"utm_source": "google", "utm_campaign": "summer", "gclid": "zzz"}
    call_db_id = _events(
        db, "in_auto",
        [("incoming", 0, {"extension": "201", "data": utm}), ("answered", 5, {"extension": "201"}), ("ended", 65, {})],
        direction="inbound", number="+34 699 000 111", did=DID,
    )
    with db.read() as s:
        call = s.get(Call, call_db_id)
        lead = s.get(Lead, call.lead_id)
        assert lead.owner_id == agent.id and lead.status == LeadStatus.IN_PROGRESS
        assert lead.name == "699 00 01 11"  # the number, as people of the company's country write it
        assert (lead.utm_source, lead.utm_campaign, lead.utm_medium) == ("google", "summer", None)
        assert telephony.identify_number(s, agent, "+34699000111").id == lead.id
        from tscrm.core.services.contacts import source_name

        assert source_name(s, lead.source_id) == "Billboard"
        kinds = sorted(a.kind for a in activity.feed(s, lead_id=lead.id))
        assert kinds == [ActivityKind.CALL, ActivityKind.CREATED]
    # the same number again: no second lead
    _events(db, "in_auto2", [("incoming", 0, {"extension": "201"})], direction="inbound", number="+34699000111")
    with db.read() as s:
        assert len(list(s.exec(select(Lead)))) == 1


def test_auto_lead_from_company_setting_goes_to_the_pool_and_off_means_none(db, spain):
    _events(db, "in_off", [("incoming", 0, {})], direction="inbound", number="+34699000111")
    with db.read() as s:
        assert list(s.exec(select(Lead))) == []
    with db.write() as s:
        telephony.save_company_settings(s, spain, auto_lead_incoming=True)
    call_db_id = _events(db, "in_pool", [("incoming", 0, {})], direction="inbound", number="+34699000222")
    # outgoing calls follow their own switch, and internal calls never make leads
    _events(db, "out_x", [("ringing", 0, {"extension": "100"})], direction="outbound", number="+34699000333")
    _events(db, "int_x", [("incoming", 0, {})], direction="internal", number="+34699000444")
    with db.read() as s:
        lead = s.get(Lead, s.get(Call, call_db_id).lead_id)
        assert lead.owner_id is None and lead.status == LeadStatus.UNPROCESSED and lead.created_by_id is None
        assert len(list(s.exec(select(Lead)))) == 1


def test_create_from_call_links_call_feed_and_notes(db, spain, make_user):
    agent = make_user("Intern", extension="201")
    with db.write() as s:
        telephony.set_did_label(s, spain, DID, "Radio")
    call_db_id = _events(db, "in_new", [("incoming", 0, {}), ("answered", 3, {"extension": "201"})], direction="inbound",
                         number=CALLER, did=DID)
    with db.write() as s:
        early = telephony.add_call_note(s, agent, call_db_id, "  Asks about prices ").id
        telephony.record_handover(s, agent, call_db_id, spain.id)
    with db.read() as s:
        assert s.get(Activity, early).client_id is None  # kept with the call meanwhile
        assert [n.text for n in telephony.call_notes(s, agent, call_db_id)] == ["Asks about prices", "Call handed over to Ana Admin"]
    _events(db, "in_new", [("ended", 63, {})], direction="inbound", number=CALLER)
    with db.write() as s:
        kind, client_id = telephony.create_from_call(s, agent, call_db_id, "client", "Lucía García")
    assert kind == "client"
    with db.write() as s:
        telephony.add_call_note(s, agent, call_db_id, "Sent the offer")
    with db.write() as s, pytest.raises(Conflict):
        telephony.create_from_call(s, agent, call_db_id, "lead", "Again")
    with db.read() as s:
        client = clients.get_client(s, agent, client_id)
        assert client.owner_id == agent.id
        from tscrm.core.services.contacts import source_name, view

        assert [p[1] for p in view(s, "client", client_id).phones] == [CALLER]
        assert source_name(s, client.source_id) == "Radio"
        assert s.get(Call, call_db_id).client_id == client_id
        feed = activity.feed(s, client_id=client_id)
        assert [(a.kind, a.text) for a in feed if a.kind != ActivityKind.CREATED] == [
            (ActivityKind.CALL, "Incoming call, 1:00"),
            (ActivityKind.NOTE, "Asks about prices"),
            (ActivityKind.NOTE, "Call handed over to Ana Admin"),
            (ActivityKind.NOTE, "Sent the offer"),
        ]
        assert [n.text for n in telephony.call_notes(s, agent, call_db_id)][-1] == "Sent the offer"


def test_create_lead_from_call_and_rights(db, spain, make_user):
    agent = make_user("Intern", extension="201")
    stranger = make_user("Intern", extension="202")
    call_db_id = _events(db, "in_lead", [("incoming", 0, {"extension": "201"})], direction="inbound", number=CALLER)
    with db.write() as s, pytest.raises(NotFound):
        telephony.add_call_note(s, stranger, call_db_id, "not my call")
    with db.write() as s, pytest.raises(ValidationError):
        telephony.add_call_note(s, agent, call_db_id, "   ")
    with db.write() as s, pytest.raises(ValidationError):
        telephony.create_from_call(s, agent, call_db_id, "deal", "X")
    with db.write() as s:
        kind, lead_id = telephony.create_from_call(s, agent, call_db_id, "lead", "Someone")
    with db.read() as s:
        assert kind == "lead" and s.get(Lead, lead_id).owner_id == agent.id
        assert s.get(Call, call_db_id).lead_id == lead_id
        # no feed entry for the call until it ends
        assert [a.kind for a in activity.feed(s, lead_id=lead_id)] == [ActivityKind.CREATED]
    _events(db, "in_lead", [("ended", 20, {"outcome": "rejected"})], direction="inbound", number=CALLER)
    with db.read() as s:
        assert [a.text for a in activity.feed(s, lead_id=lead_id) if a.kind == ActivityKind.CALL] == ["Incoming call, rejected"]
    withheld = _events(db, "in_anon", [("incoming", 0, {"extension": "201"})], direction="inbound", number="anonymous")
    with db.write() as s, pytest.raises(ValidationError):
        telephony.create_from_call(s, agent, withheld, "client", "Who")


def test_recording_attached_later(db, spain):
    with db.write() as s:
        client_id = clients.create_client(s, spain, new_contact("Lucía", [CALLER])).id
    call_db_id = _events(db, "in_rec", [("incoming", 0, {}), ("answered", 2, {}), ("ended", 12, {})],
                         direction="inbound", number=CALLER, extension="100")
    with db.write() as s:
        assert telephony.attach_recording(s, "in_rec", "zadarma:rec-1") is not None
        assert telephony.attach_recording(s, "in_unknown", "zadarma:rec-2") is None
    with db.read() as s:
        assert s.get(Call, call_db_id).recording_ref == "zadarma:rec-1"
        entry = [a for a in activity.feed(s, client_id=client_id) if a.kind == ActivityKind.CALL][0]
        assert entry.data["recording_ref"] == "zadarma:rec-1"


# --- routing -----------------------------------------------------------------------------------


def _seen(db, user_id, when):
    with db.write() as s:
        s.get(User, user_id).last_seen_at = when


def test_route_incoming_to_the_online_owner_in_working_hours(db, spain, make_user):
    owner = make_user("Intern", extension="201", timezone="Europe/Madrid")
    with db.write() as s:
        clients.create_client(s, spain, new_contact("Lucía", [CALLER]), owner_id=owner.id)
    _seen(db, owner.id, T0 - timedelta(seconds=20))
    with db.read() as s:
        assert telephony.route_incoming(s, CALLER, T0) is None  # switched off
    with db.write() as s:
        telephony.save_company_settings(s, spain, route_to_owner=True)
    with db.read() as s:
        assert telephony.route_incoming(s, "612345678", T0) == "201"
        assert telephony.route_incoming(s, "+34699999999", T0) is None  # not a client
        assert telephony.route_incoming(s, "anonymous", T0) is None
        # offline: the last heartbeat is old
        assert telephony.route_incoming(s, CALLER, T0 + timedelta(minutes=5)) is None
    # out of hours: 20:30 in Madrid, although the app is running
    evening = datetime(2025, 6, 11, 18, 30, tzinfo=UTC)
    _seen(db, owner.id, evening)
    with db.read() as s:
        assert telephony.route_incoming(s, CALLER, evening) is None
    # a Saturday morning: no working day
    saturday = datetime(2025, 6, 14, 9, 0, tzinfo=UTC)
    _seen(db, owner.id, saturday)
    with db.read() as s:
        assert telephony.route_incoming(s, CALLER, saturday) is None
    with db.write() as s:
        users.set_working_hours(s, owner, owner.id, {"sat": ["10:00", "14:00"]})
    with db.read() as s:
        assert telephony.route_incoming(s, CALLER, saturday) == "201"


def test_effective_mode_follows_working_hours(db, spain, make_user):
    agent = make_user("Intern", timezone="Europe/Madrid")
    with db.write() as s:
        telephony.save_user_settings(s, agent, agent.id, mode="softphone_working_hours")
    with db.read() as s:
        assert telephony.effective_mode(s, agent.id, T0) == TelephonyMode.SOFTPHONE
        assert telephony.effective_mode(s, agent.id, T0 + timedelta(hours=10)) == TelephonyMode.DESK_PHONE


# --- PBX events --------------------------------------------------------------------------------


def test_pbx_event_replay_is_detected_and_events_are_read_in_order(db, spain):
    start = {"call_start": "2025-06-11 11:00:00", "pbx_call_id": "in_1", "caller_id": CALLER, "called_did": DID}
    with db.write() as s:
        first = telephony.store_pbx_event(s, "NOTIFY_START", start)
        assert first is not None
    with db.write() as s:
        assert telephony.store_pbx_event(s, "NOTIFY_START", dict(start)) is None  # replay
        # the same call ringing two extensions: two events, not a replay
        assert telephony.store_pbx_event(s, "NOTIFY_INTERNAL", {**start, "internal": "201"}) is not None
        assert telephony.store_pbx_event(s, "NOTIFY_INTERNAL", {**start, "internal": "202"}) is not None
        assert telephony.store_pbx_event(s, "SMS", {"caller_id": CALLER, "text": "hi", "result": "x"}) is not None
        assert telephony.store_pbx_event(s, "SMS", {"caller_id": CALLER, "text": "hi", "result": "x"}) is None
    with db.write() as s, pytest.raises(ValidationError):
        telephony.store_pbx_event(s, "", {})
    with db.read() as s:
        assert len(list(s.exec(select(PbxEvent)))) == 4
        everything = telephony.pbx_events_after(s, 0)
        assert [e.event for e in everything] == ["NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_INTERNAL", "SMS"]
        assert everything[1].extension == "201" and everything[0].payload["caller_id"] == CALLER
        assert telephony.last_pbx_event_id(s) == everything[-1].id
    with db.write() as s:
        other = {**start, "pbx_call_id": "in_2"}
        telephony.store_pbx_event(s, "NOTIFY_START", other)  # another call, that never rings 202
        telephony.store_pbx_event(s, "NOTIFY_INTERNAL", {**other, "internal": "201"})
        telephony.store_pbx_event(s, "NOTIFY_ANSWER", {**start, "destination": "202"})  # 202 answers in_1
        telephony.store_pbx_event(s, "NOTIFY_END", {**start, "internal": "", "disposition": "answered"})
        telephony.store_pbx_event(s, "NOTIFY_RECORD", {"pbx_call_id": "in_1", "call_id_with_rec": "rec1"})
    with db.read() as s:
        mine = telephony.pbx_events_after(s, 0, extension="202")
        assert [(e.event, e.pbx_call_id, e.extension) for e in mine] == [
            ("NOTIFY_START", "in_1", None),
            ("NOTIFY_INTERNAL", "in_1", "201"),
            ("NOTIFY_INTERNAL", "in_1", "202"),
            ("NOTIFY_ANSWER", "in_1", "202"),
            ("NOTIFY_END", "in_1", None),
            ("NOTIFY_RECORD", "in_1", None),
        ]
        assert [e.event for e in telephony.pbx_events_after(s, mine[3].id, extension="202")] == ["NOTIFY_END", "NOTIFY_RECORD"]
        assert telephony.pbx_events_after(s, 0, extension="999") == []


def test_simultaneous_reports_of_one_call_make_one_call_and_one_lead(db, spain):
    """The PBX's webhooks for one call may arrive at once (one worker each): one row, one auto-lead."""
    import threading

    from tscrm.core.db import Database

    with db.write() as s:
        telephony.save_company_settings(s, spain, auto_lead_incoming=True)
    racing = Database(db.url, pool_size=8)
    reports = [("incoming", 0, None), ("incoming", 1, "100"), ("answered", 3, "100"), ("incoming", 1, None)] * 2
    barrier = threading.Barrier(len(reports))
    errors: list[BaseException] = []

    def work(kind: str, seconds: int, extension: str | None) -> None:
        barrier.wait()
        try:
            with racing.write() as s:
                telephony.apply_call_event(s, call_id="in_race", kind=kind, direction="inbound", number="+34699000555",
                                           at=T0 + timedelta(seconds=seconds), extension=extension)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=r) for r in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    racing.dispose()
    assert errors == []
    with db.read() as s:
        rows = list(s.exec(select(Call)))
        assert len(rows) == 1 and rows[0].answered_at == T0 + timedelta(seconds=3) and rows[0].agent_id == spain.id
        assert len(list(s.exec(select(Lead)))) == 1 and rows[0].lead_id is not None


def test_the_extension_that_talked_becomes_the_agent(db, spain, make_user):
    """An inbound call rings two extensions; the answered end names who talked (the answer report lost)."""
    bob = make_user("Intern", name="Bob", extension="201")
    call_id = _events(
        db, "in_two", [
            ("incoming", 0, {"extension": "201"}),
            ("incoming", 1, {"extension": "100"}),
            ("ended", 50, {"outcome": "answered", "extension": "100", "data": {"duration": "30"}}),
        ],
        direction="inbound", number=CALLER,
    )
    missed = _events(
        db, "in_missed_two", [("incoming", 0, {"extension": "201"}), ("ended", 20, {"outcome": "no_answer", "extension": "100"})],
        direction="inbound", number=CALLER,
    )
    with db.read() as s:
        assert s.get(Call, call_id).agent_id == spain.id
        assert s.get(Call, missed).agent_id == bob.id  # nobody talked: the first extension rung stays


def test_call_without_country_code_is_a_company_setting_for_admins(db, spain, make_user):
    from tscrm.core.services.company import set_dial_without_country_code

    agent = make_user("Intern")
    with db.write() as s, pytest.raises(PermissionDenied):
        set_dial_without_country_code(s, agent, True)
    with db.write() as s:
        set_dial_without_country_code(s, spain, True)
    with db.read() as s:
        assert get_company(s).dial_without_country_code is True
