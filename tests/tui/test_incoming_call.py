"""The incoming-call pop driven by the pilot: an unknown caller becomes a lead with the call and the
notes typed during it in its feed; a known caller shows its card data and opens it."""

from __future__ import annotations

from sqlmodel import select

from tscrm.core.models import Activity, Call, CallDirection, CallOutcome, Client, Lead
from tscrm.core.services import clients, notes
from tscrm.core.services.clients import new_contact
from tscrm.telephony.base import CallEventKind

from .conftest import wait_until
from .fake_backend import FakeBackend

SIZE = (150, 40)
CALLER = "+34699000111"


def _phone_app(make_app, actor, fake):
    app = make_app(actor, watch_changes=False)
    app.phone.backend_factory = lambda session, user: fake
    return app


def _screen_name(app) -> str:
    return type(app.screen).__name__


async def test_unknown_caller_becomes_a_lead_and_the_notes_land_in_its_feed(db, admin, make_app):
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        fake.emit("in-1", CallEventKind.INCOMING, CALLER, direction=CallDirection.INBOUND)
        await wait_until(pilot, lambda: _screen_name(app) == "IncomingCallScreen")
        pop = app.screen
        await wait_until(pilot, lambda: "Unknown number" in str(pop.query_one("#pop-who").render()))
        assert "+34 699 00 01 11" in str(pop.query_one("#pop-who").render())
        await pilot.press("f3")  # answer (softphone)
        await wait_until(pilot, lambda: ("answer", "in-1") in fake.calls)
        fake.emit("in-1", CallEventKind.ANSWERED, CALLER, direction=CallDirection.INBOUND, after=5)
        await wait_until(pilot, lambda: app.phone.call is not None and app.phone.call.state == "answered")
        # a note typed before the caller is known...
        pop.query_one("#pop-note").focus()
        await pilot.press(*"Wants a quote", "enter")
        await wait_until(pilot, lambda: "Note saved" in " ".join(str(n.message) for n in app._notifications))
        pop.query_one("#pop-name").focus()
        await pilot.press("enter")  # no name yet: refused, the pop stays
        assert _screen_name(app) == "IncomingCallScreen"
        await pilot.press(*"Rosa Rey", "enter")  # Enter in the name field: create lead
        await wait_until(pilot, lambda: _screen_name(app) == "LeadCardScreen" and app.screen.record is not None)
        card = app.screen
        assert card.record["name"] == "Rosa Rey"
        feed = lambda: "\n".join(line.text for line in card.query_one("#lead-feed").lines)  # noqa: E731
        await wait_until(pilot, lambda: "Wants a quote" in feed())
        # ...and one typed after, in the call widget (the card has it docked)
        card.query_one("#call-note").focus()
        await pilot.press(*"Call back Friday", "enter")
        await wait_until(pilot, lambda: "Call back Friday" in feed())
        fake.emit("in-1", CallEventKind.ENDED, CALLER, direction=CallDirection.INBOUND, after=42, outcome=CallOutcome.ANSWERED)
        await wait_until(pilot, lambda: app.phone.call is None and "Incoming call, 0:42" in feed())
    with db.read() as s:
        lead = s.exec(select(Lead)).one()
        call = s.exec(select(Call)).one()
        lead_notes = s.exec(select(Activity).where(Activity.lead_id == lead.id, Activity.kind == "note")).all()
        call_entries = s.exec(select(Activity).where(Activity.lead_id == lead.id, Activity.kind == "call")).all()
    assert lead.name == "Rosa Rey" and call.lead_id == lead.id and call.outcome == CallOutcome.ANSWERED
    assert call.direction == CallDirection.INBOUND and call.their_number == CALLER
    assert sorted(n.text for n in lead_notes) == ["Call back Friday", "Wants a quote"]
    assert len(call_entries) == 1


async def test_known_caller_shows_the_client_and_its_last_activity(db, admin, make_app):
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", [CALLER], company_name="Ortiz SL")).id
        notes.add_note(s, admin, "Asked for the fibre offer", client_id=client_id)
    fake = FakeBackend("desk")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        fake.emit("in-2", CallEventKind.INCOMING, CALLER, direction=CallDirection.INBOUND)
        await wait_until(pilot, lambda: _screen_name(app) == "IncomingCallScreen")
        pop = app.screen
        who = lambda: str(pop.query_one("#pop-who").render())  # noqa: E731
        await wait_until(pilot, lambda: "Olga Ortiz" in who())
        assert "Ortiz SL" in who() and "Asked for the fibre offer" in who() and "Ana Admin" in who()
        assert not pop.query_one("#pop-answer").display  # desk phone: answered on the phone
        assert not pop.query_one("#pop-name").display
        await pilot.press("o")
        await wait_until(pilot, lambda: _screen_name(app) == "ClientCardScreen" and app.screen.record is not None)
        assert app.screen.client_id == client_id
        # the widget follows to the card and shows the call
        await wait_until(pilot, lambda: "Olga Ortiz" in str(app.screen.query_one("#call-info").render()))
        fake.emit("in-2", CallEventKind.ENDED, CALLER, direction=CallDirection.INBOUND, after=20, outcome=CallOutcome.NO_ANSWER)
        card = app.screen
        feed = lambda: "\n".join(line.text for line in card.query_one("#client-feed").lines)  # noqa: E731
        await wait_until(pilot, lambda: app.phone.call is None and "Incoming call, no answer" in feed())
    with db.read() as s:
        call = s.exec(select(Call)).one()
    assert call.client_id == client_id and call.outcome == CallOutcome.NO_ANSWER


async def test_desk_phone_mode_pops_on_the_pbx_event_stored_by_the_webhook_server(db, admin, make_app, make_user):
    """``tscrm serve`` stores the PBX's webhooks; the app of the agent whose extension rings pops."""
    from tscrm.core.services import telephony
    from tscrm.telephony.zadarma import ZadarmaCallBackend, ZadarmaClient
    from tscrm.tui.messages import DataChanged

    make_user("Intern", name="Bob Evans", extension="201")
    backend = ZadarmaCallBackend(ZadarmaClient("key", "secret", base_url="http://127.0.0.1:9"))
    app = _phone_app(make_app, admin, backend)

    def webhook(event: str, **fields: str) -> None:
        """What the webhook server does with a verified event: store it, apply it to its call."""
        from tscrm.core.types import utcnow
        from tscrm.server.zadarma_webhook import call_report

        payload = {"event": event, "pbx_call_id": "in_77", "caller_id": CALLER, **fields}
        with db.write() as s:
            telephony.store_pbx_event(s, event, payload)
            report = call_report(payload, "Europe/Madrid", utcnow())
            if report is not None:
                telephony.apply_call_event(s, **report.as_kwargs())
        app.post_message(DataChanged())

    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        assert "desk phone: ready" in str(app.screen.query_one("StatusHeader").render())
        webhook("NOTIFY_INTERNAL", internal="201", call_start="2026-03-18 10:00:00")  # a colleague's phone: no pop
        webhook("NOTIFY_INTERNAL", internal="100", call_start="2026-03-18 10:00:01")
        await wait_until(pilot, lambda: _screen_name(app) == "IncomingCallScreen")
        pop = app.screen
        await wait_until(pilot, lambda: "Unknown number" in str(pop.query_one("#pop-who").render()))
        assert not pop.query_one("#pop-answer").display  # answered on the desk phone
        await pilot.press(*"Rosa Rey")
        await pilot.press("f5")  # create client
        await wait_until(pilot, lambda: _screen_name(app) == "ClientCardScreen" and app.screen.record is not None)
        webhook("NOTIFY_END", internal="100", call_start="2026-03-18 10:00:01", duration="30", disposition="answered")
        await wait_until(pilot, lambda: app.phone.call is None)
        card = app.screen
        feed = lambda: "\n".join(line.text for line in card.query_one("#client-feed").lines)  # noqa: E731
        await wait_until(pilot, lambda: "Incoming call, 0:30" in feed())
    with db.read() as s:
        call = s.exec(select(Call)).one()
        client = s.exec(select(Client)).one()
    assert call.external_id == "in_77" and call.client_id == client.id and client.name == "Rosa Rey"
    assert call.outcome == CallOutcome.ANSWERED and call.agent_id == admin.id
