"""End to end with the real SIP softphone: the Telephony settings → tscrm.telephony.factory →
SipCallBackend registers at SIPp (tests/telephony/sipp), the client card's call key places the call,
SIPp answers, the widget's Hang up sends BYE, and the call is in the client's feed."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from tests.telephony.conftest import free_media_port, sipp  # noqa: F401  (the SIPp fixture)
from tscrm.core.models import Call, CallOutcome
from tscrm.core.services import clients, telephony
from tscrm.core.services.calls import call_duration
from tscrm.core.services.clients import new_contact

from .conftest import wait_until

pytestmark = pytest.mark.services
SIZE = (150, 40)


async def test_softphone_call_from_a_card_through_sipp_lands_in_the_feed(db, admin, make_app, sipp, monkeypatch):  # noqa: F811
    run = sipp("uas-answer.xml")
    rtp = free_media_port()
    monkeypatch.setenv("TSCRM_SIP_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("TSCRM_RTP_PORTS", f"{rtp}-{rtp + 1}")
    monkeypatch.setenv("TSCRM_SIP_AUDIO", "none")
    with db.write() as s:
        telephony.save_user_settings(s, admin, admin.id, mode="softphone", sip_server="127.0.0.1", sip_port=run.port, sip_username="agent1")
        telephony.set_sip_password(s, admin, admin.id, "secret")
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"])).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.phone.status not in ("off", "starting"), timeout=10)
        assert app.phone.status == "ready", app.phone.problem
        assert "softphone: ready" in str(app.screen.query_one("StatusHeader").render())
        app.open_record("client", client_id)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.record is not None)
        card = app.screen
        await pilot.press("x")
        await wait_until(pilot, lambda: app.phone.call is not None and app.phone.call.state == "answered", timeout=10)
        await pilot.pause(1.2)  # talk a little: the feed shows a duration
        await pilot.click("#call-hangup")
        await wait_until(pilot, lambda: app.phone.call is None, timeout=10)
        feed = lambda: "\n".join(line.text for line in card.query_one("#client-feed").lines)  # noqa: E731
        await wait_until(pilot, lambda: re.search(r"Outgoing call, 0:0[1-9]", feed()) is not None)
    assert run.wait() == 0, run.diagnostics()
    assert run.received("INVITE")[0].first_line == "INVITE sip:+34612345678@127.0.0.1 SIP/2.0"
    with db.read() as s:
        call = s.exec(select(Call)).one()
    assert call.client_id == client_id and call.outcome == CallOutcome.ANSWERED and call_duration(call) >= 1
