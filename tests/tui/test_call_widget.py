"""The call widget driven by the pilot: outgoing call from a card, transfer in both modes, the
widget's toggle and side, and the Telephony settings tab. The far end is tests/tui/fake_backend.py."""

from __future__ import annotations

from sqlmodel import select

from tscrm.core.models import Activity, ActivityKind, Call, CallDirection, CallOutcome
from tscrm.core.services import activity, clients
from tscrm.core.services.calls import call_duration
from tscrm.core.services.clients import new_contact
from tscrm.telephony.base import CallEventKind

from .conftest import wait_until
from .fake_backend import FakeBackend

SIZE = (150, 40)


def _notices(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


def _feed_text(card) -> str:
    return "\n".join(line.text for line in card.query_one("#client-feed").lines)


def _phone_app(make_app, actor, fake):
    app = make_app(actor, watch_changes=False)
    app.phone.backend_factory = lambda session, user: fake
    return app


async def test_outgoing_call_from_a_client_card_ends_in_the_feed_with_outcome_and_duration(db, admin, make_app):
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"])).id
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        assert fake.started
        app.open_record("client", client_id)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.record is not None)
        card = app.screen
        await pilot.press("x")
        await wait_until(pilot, lambda: bool(fake.calls))
        assert fake.calls[0][:3] == ("originate", "100", "+34612345678")
        call_id = fake.calls[0][3]
        info = card.query_one("#call-info")
        assert "Olga Ortiz" in str(info.render())
        fake.emit(call_id, CallEventKind.RINGING, "+34612345678")
        fake.emit(call_id, CallEventKind.ANSWERED, "+34612345678", after=4)
        await wait_until(pilot, lambda: "in call" in str(info.render()))
        card.query_one("#call-note").focus()
        await pilot.press(*"Wants fibre", "enter")
        await wait_until(pilot, lambda: "Wants fibre" in _feed_text(card))
        await pilot.press("5")  # not in the note field: the keypad, as DTMF
        fake.emit(call_id, CallEventKind.ENDED, "+34612345678", after=65, outcome=CallOutcome.ANSWERED)
        await wait_until(pilot, lambda: "01:05" in _notices(app))
        await wait_until(pilot, lambda: "Outgoing call, 1:05" in _feed_text(card))
        assert card.query_one("#phone-idle").display and not card.query_one("#phone-active").display
    with db.read() as s:
        call = s.exec(select(Call)).one()
        notes = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == "note")).all()
    assert call.client_id == client_id and call.outcome == CallOutcome.ANSWERED and call_duration(call) == 65
    assert call.external_id == call_id and call.agent_id == admin.id
    assert [n.text for n in notes] == ["Wants fibre"]


def _dock(app):
    from tscrm.tui.widgets.call_widget import CallDock

    docks = list(app.screen.query(CallDock))
    return docks[0] if docks else None


async def _answered_call_from_client(app, pilot, fake, number: str) -> None:
    fake.emit("in-7", CallEventKind.INCOMING, number, direction=CallDirection.INBOUND)
    await wait_until(pilot, lambda: type(app.screen).__name__ == "IncomingCallScreen")
    await pilot.press("escape")  # hide the pop: the widget shows the call
    fake.emit("in-7", CallEventKind.ANSWERED, number, direction=CallDirection.INBOUND, after=3)
    await wait_until(pilot, lambda: app.phone.call is not None and app.phone.call.state == "answered" and app.phone.call.db_id)


async def _transfer_to(app, pilot, name: str) -> None:
    await pilot.click("#call-transfer")
    listing = app.screen.query_one("#call-transfer-list")
    await wait_until(
        pilot,
        lambda: listing.display and app.focused is listing and listing.option_count > 0 and listing.highlighted is not None
        and name in str(listing.get_option_at_index(listing.highlighted).prompt),
    )
    await pilot.press("enter")


async def test_transfer_in_softphone_mode_sends_it_to_the_colleague(db, admin, make_app, make_user):
    bob = make_user("Intern", name="Bob Evans", extension="201")
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"])).id
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        await _answered_call_from_client(app, pilot, fake, "+34612345678")
        await _transfer_to(app, pilot, "Bob Evans")
        await wait_until(pilot, lambda: ("transfer", "in-7", "201") in fake.calls)
        await wait_until(pilot, lambda: "transferred to Bob Evans" in _notices(app))
    with db.read() as s:
        handover = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == "note")).one()
    assert handover.text == "Call handed over to Bob Evans" and handover.data["handover_to"] == bob.id


async def test_transfer_in_desk_phone_mode_says_use_the_phone_and_records_the_handover(db, admin, make_app, make_user):
    bob = make_user("Intern", name="Bob Evans", extension="201")
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"])).id
    fake = FakeBackend("desk")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        await _answered_call_from_client(app, pilot, fake, "+34612345678")
        assert not app.screen.query_one("#call-mute").display  # no mute from tscrm in desk-phone mode
        await _transfer_to(app, pilot, "Bob Evans")
        await wait_until(pilot, lambda: "transfer key" in _notices(app))
        assert ("refused", "transfer") in fake.calls
    with db.read() as s:
        handover = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == "note")).one()
    assert handover.text == "Call handed over to Bob Evans" and handover.data["handover_to"] == bob.id


async def test_f2_toggles_the_widget_which_follows_the_screens_on_its_side(db, admin, make_app):
    from tscrm.core.services import telephony

    with db.write() as s:
        telephony.save_user_settings(s, admin, admin.id, widget_side="left")
        clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"]))
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        assert _dock(app) is None
        await wait_until(pilot, lambda: app.screen.focused is not None)  # the dashboard focuses its first card itself
        await pilot.press("f2")
        await wait_until(pilot, lambda: _dock(app) is not None and app.focused is app.screen.query_one("#phone-number"))
        dock = _dock(app)
        assert dock.has_class("-left")
        assert dock.widget.region.x < 40  # on the left of a 150-column screen
        await pilot.press(*"olg")  # the number field is also the search
        contacts = app.screen.query_one("#phone-contacts")
        await wait_until(pilot, lambda: "Olga Ortiz" in str(contacts.get_option_at_index(0).prompt))
        await pilot.press("escape")  # back to the screen; the widget stays
        assert _dock(app) is not None and app.focused is None or "phone" not in str(app.focused.id or "")
        await pilot.press("2")  # Clients: the widget comes along with what was typed
        await wait_until(pilot, lambda: app.current_mode == "clients" and _dock(app) is not None)
        assert app.screen.query_one("#phone-number").value == "olg"
        await pilot.press("f2")  # shown but not focused: focus it
        await wait_until(pilot, lambda: app.focused is app.screen.query_one("#phone-number"))
        await pilot.press("f2")  # focused: hide
        await wait_until(pilot, lambda: _dock(app) is None)
        await pilot.press("1")
        await wait_until(pilot, lambda: app.current_mode == "dashboard")
        assert _dock(app) is None


async def test_keypad_digits_and_the_call_button_dial_the_typed_number(db, admin, make_app):
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        await wait_until(pilot, lambda: app.screen.focused is not None)  # the dashboard focuses its first card itself
        await pilot.press("f2")
        await wait_until(pilot, lambda: _dock(app) is not None and app.focused is app.screen.query_one("#phone-number"))
        await pilot.press(*"+3461234567")
        await pilot.click("#dial-key-8")
        assert app.screen.query_one("#phone-number").value == "+34612345678"
        await pilot.click("#phone-call")
        await wait_until(pilot, lambda: bool(fake.calls))
        assert fake.calls[0][:3] == ("originate", "100", "+34612345678")
        call_id = fake.calls[0][3]
        fake.emit(call_id, CallEventKind.ANSWERED, "+34612345678", after=2)
        await wait_until(pilot, lambda: "in call" in str(app.screen.query_one("#call-info").render()))
        await pilot.click("#dtmf-key-number_sign")
        await pilot.click("#call-mute")
        await wait_until(pilot, lambda: ("dtmf", call_id, "#") in fake.calls and ("mute", call_id, "True") in fake.calls)
        await pilot.click("#call-hangup")
        await wait_until(pilot, lambda: ("hang_up", call_id) in fake.calls)
        fake.emit(call_id, CallEventKind.ENDED, "+34612345678", after=10, outcome=CallOutcome.ANSWERED)
        await wait_until(pilot, lambda: app.phone.call is None)
        history = app.screen.query_one("#phone-history")
        await wait_until(pilot, lambda: history.option_count and "00:10" in str(history.get_option_at_index(0).prompt))


async def test_a_phone_that_is_not_configured_says_what_to_set(db, admin, make_app):
    app = make_app(admin, watch_changes=False)  # the real factory: desk phone without Zadarma keys
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "not_configured")
        assert "phone: not configured" in str(app.screen.query_one("StatusHeader").render())
        await wait_until(pilot, lambda: app.screen.focused is not None)  # the dashboard focuses its first card itself
        await pilot.press("f2")
        await wait_until(pilot, lambda: _dock(app) is not None and app.focused is app.screen.query_one("#phone-number"))
        await pilot.press(*"+34612345678", "enter")
        await wait_until(pilot, lambda: "Zadarma API key" in _notices(app))


async def test_telephony_settings_are_saved_and_the_password_is_kept_as_a_secret(db, admin, make_app):
    from tscrm.core.models_telephony import StoredSecret
    from tscrm.core.services import telephony

    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("0")
        await wait_until(pilot, lambda: app.current_mode == "settings" and bool(app.screen.query("#tel-mode")))
        app.screen.query_one("#settings-tabs").active = "settings-telephony"
        pane = app.screen.query_one("#settings-telephony-pane")
        await wait_until(pilot, lambda: pane.form is not None)
        assert str(pane.query_one("#tel-sip-password").placeholder) == "not set"
        pane.query_one("#tel-mode").value = "softphone"
        pane.query_one("#tel-sip-server").value = "pbx.example.com"
        pane.query_one("#tel-sip-port").value = "5070"
        pane.query_one("#tel-sip-user").value = "100"
        pane.query_one("#tel-sip-password").value = "s3cret-SIP"
        pane.query_one("#tel-side").value = "left"
        pane.query_one("#tel-auto-in").value = True
        pane.query_one("#tel-zadarma-key").value = "zkey"
        pane.query_one("#tel-zadarma-secret").value = "zsecret-123"
        pane.query_one("#tel-no-cc").value = True
        pane.query_one("#tel-sip-server").focus()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "saved" in str(pane.query_one("#tel-result").render()))
        assert pane.query_one("#tel-sip-password").value == ""  # never shown back
        assert str(pane.query_one("#tel-sip-password").placeholder) == "set (type to change)"
        assert app.phone.side == "left"
        await wait_until(pilot, lambda: app.phone.status in ("error", "not_configured", "ready"))
        pane.query_one("#tel-did-number").value = "+34 910 000 000"
        pane.query_one("#tel-did-label").value = "Billboard"
        pane.query_one("#tel-did-add").press()
        await wait_until(pilot, lambda: pane.query_one("#tel-dids").row_count == 1)
    with db.read() as s:
        mine = telephony.user_settings(s, admin.id)
        company = telephony.company_settings(s)
        secrets = s.exec(select(StoredSecret)).all()
        assert (mine.mode, mine.sip_server, mine.sip_port, mine.sip_username) == ("softphone", "pbx.example.com", 5070, "100")
        assert mine.widget_side == "left" and mine.auto_lead_incoming and not mine.auto_lead_outgoing
        assert telephony.sip_password(s, admin.id) == "s3cret-SIP"
        assert company.zadarma_key == "zkey" and telephony.zadarma_secret(s) == "zsecret-123"
        assert [(d.did, d.label) for d in telephony.did_labels(s)] == [("+34910000000", "Billboard")]
        from tscrm.core.services.company import get_company

        assert get_company(s).dial_without_country_code
    assert mine.sip_secret_ref and "s3cret" not in mine.sip_secret_ref
    assert secrets and all("s3cret-SIP" not in row.ciphertext and "zsecret" not in row.ciphertext for row in secrets)


async def test_the_widget_survives_a_language_switch(db, admin, make_app):
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        await wait_until(pilot, lambda: app.screen.focused is not None)  # the dashboard focuses its first card itself
        await pilot.press("f2")
        await wait_until(pilot, lambda: _dock(app) is not None)
        await pilot.press("escape", "ctrl+l")  # Español
        await wait_until(pilot, lambda: _dock(app) is not None and "Llamada" in str(app.screen.query_one("#phone-call").label))
        app.switch_language("en")


async def test_sms_from_the_card_says_how_to_set_it_up_without_zadarma_keys(db, admin, make_app, monkeypatch):
    monkeypatch.delenv("TSCRM_ZADARMA_KEY", raising=False)
    monkeypatch.delenv("TSCRM_ZADARMA_SECRET", raising=False)
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"])).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("client", client_id)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.record is not None)
        await pilot.press("s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SmsDialog")
        dialog = app.screen
        assert dialog.query_one("#sms-number").value == "+34612345678"
        await pilot.press(*"Hola", "ctrl+s")
        await wait_until(pilot, lambda: "Settings → Telephony" in str(dialog.query_one("#sms-error").render()))
        assert app.screen is dialog


async def test_contacts_and_team_tabs_call_what_is_chosen(db, admin, make_app, make_user):
    make_user("Intern", name="Bob Evans", extension="201")
    with db.write() as s:
        clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"]))
    fake = FakeBackend("sip")
    app = _phone_app(make_app, admin, fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status == "ready")
        await wait_until(pilot, lambda: app.screen.focused is not None)  # the dashboard focuses its first card itself
        await pilot.press("f2")
        await wait_until(pilot, lambda: _dock(app) is not None and app.focused is app.screen.query_one("#phone-number"))
        await pilot.press(*"olga", "enter")  # a name: Enter goes to the matches
        contacts = app.screen.query_one("#phone-contacts")
        await wait_until(pilot, lambda: app.focused is contacts and "Olga Ortiz" in str(contacts.get_option_at_index(0).prompt))
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(fake.calls))
        assert fake.calls[0][2] == "+34612345678" and app.phone.call.name == "Olga Ortiz"
        fake.emit(fake.calls[0][3], CallEventKind.ENDED, "+34612345678", after=5, outcome=CallOutcome.BUSY)
        await wait_until(pilot, lambda: app.phone.call is None)
        app.screen.query_one("#phone-tabs").active = "tab-team"
        team = app.screen.query_one("#phone-team")
        await wait_until(pilot, lambda: team.option_count == 1 and "Bob Evans" in str(team.get_option_at_index(0).prompt))
        team.focus()
        team.highlighted = 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(fake.calls) == 2)
        assert fake.calls[1][:3] == ("originate", "100", "201")
        history = app.screen.query_one("#phone-history")
        await wait_until(pilot, lambda: history.option_count and "Olga Ortiz" in str(history.get_option_at_index(0).prompt))
        assert "busy" in str(history.get_option_at_index(0).prompt)


async def test_sms_from_the_card_goes_out_and_lands_in_the_feed(db, admin, make_app, monkeypatch):
    """With the Zadarma keys set, the card's SMS reaches the (local, signature-checking) API server,
    is logged and appears in the client's feed."""
    from tscrm.core.models_dialer import SmsMessage

    from telephony.zadarma_server import KEY, SECRET, ZadarmaServer

    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"])).id
    with ZadarmaServer() as server:
        monkeypatch.setenv("TSCRM_ZADARMA_URL", server.url)
        monkeypatch.setenv("TSCRM_ZADARMA_KEY", KEY)
        monkeypatch.setenv("TSCRM_ZADARMA_SECRET", SECRET)
        app = make_app(admin, watch_changes=False)
        async with app.run_test(size=SIZE) as pilot:
            app.open_record("client", client_id)
            await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.record is not None)
            card = app.screen
            await pilot.press("s")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "SmsDialog")
            await pilot.press(*"Hola Olga", "ctrl+s")
            await wait_until(pilot, lambda: app.screen is card)
            await wait_until(pilot, lambda: any("SMS sent to +34612345678" in n.message for n in app._notifications))
        assert [m["message"] for m in server.state.sms_sent] == ["Hola Olga"]
    with db.read() as s:
        sent = s.exec(select(SmsMessage)).one()
        assert sent.status == "sent" and sent.client_id == client_id
        assert any(a.kind == ActivityKind.SMS for a in activity.feed(s, client_id=client_id))
