"""Mail in the app, driven by the pilot: compose from the client and lead cards, reply from the feed,
the new-mail counter and the notification centre, Settings → Email. Messages go to a real aiosmtpd
server on loopback."""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime
from email import policy

import pytest
from sqlmodel import select

from tscrm.core.models import Activity, ActivityKind
from tscrm.core.models_mail import (
    MailAccount,
    MailDirection,
    MailMessage,
    MailNotification,
)
from tscrm.core.services import clients, leads, mail_accounts
from tscrm.core.services.clients import new_contact
from tscrm.core.services.mail import write_feed

from .conftest import wait_until

SIZE = (150, 40)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


def add_account(db, actor, port: int) -> int:
    with db.write() as s:
        return mail_accounts.add_account(
            s, actor, name="Sales", email="sales@acme.test", imap_host="127.0.0.1", imap_port=1, imap_security="none",
            smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", password="pw",
        ).id  # type: ignore[return-value]


def _notices(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


def _feed_text(card) -> str:
    return "\n".join(line.text for line in card.query_one("ActivityFeed").lines)


async def test_compose_from_the_client_card_sends_and_lands_in_the_feed(db, admin, make_app, smtp_server):
    add_account(db, admin, smtp_server.port)
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Olga Ortiz", emails=["olga@ortiz.es"], company_name="Ortiz SL")).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("client", client_id)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.record is not None)
        card = app.screen
        await pilot.press("m")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ComposeDialog" and app.screen.ready)
        dialog = app.screen
        assert dialog.query_one("#compose-to").value == "olga@ortiz.es"
        assert dialog.query_one("#compose-account").value == 1
        dialog.query_one("#compose-subject").value = "Offer for {company}"
        dialog.query_one("#compose-body").text = "Hello {first_name}"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is card and "Offer for Ortiz SL" in _feed_text(card))
        await wait_until(pilot, lambda: "Email sent to olga@ortiz.es." in _notices(app))
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "Offer for Ortiz SL" and msg.get_content().startswith("Hello Olga")
    with db.read() as s:
        entry = s.exec(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).one()
        assert entry.client_id == client_id and entry.data["direction"] == "out"


async def test_compose_error_stays_in_the_dialog(db, admin, make_app):
    with db.write() as s:
        lead_id = leads.create_lead(s, admin, new_contact("Lea Lead", emails=["lea@example.test"])).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("lead", lead_id)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LeadCardScreen" and app.screen.record is not None)
        await pilot.press("m")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ComposeDialog")
        dialog = app.screen
        await wait_until(pilot, lambda: "no mail account" in str(dialog.query_one("#compose-error").render()))
        assert dialog.query_one("#compose-to").value == "lea@example.test"
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LeadCardScreen")


async def test_reply_from_the_lead_feed_is_prefilled(db, admin, make_app, smtp_server):
    account_id = add_account(db, admin, smtp_server.port)
    with db.write() as s:
        lead_id = leads.create_lead(s, admin, new_contact("Lea Lead", emails=["lea@example.test"])).id
        msg = MailMessage(
            account_id=account_id, folder="INBOX", uid=7, message_id="<q1@example.test>", subject="Question {about} prices",
            sender="lea@example.test", sender_name="Lea Lead", recipients=["sales@acme.test"],
            sent_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), direction=MailDirection.IN, body_text="How much is it?",
        )
        s.add(msg)
        s.flush()
        write_feed(s, msg, lead_ids=[lead_id])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("lead", lead_id)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LeadCardScreen" and app.screen.record is not None)
        card = app.screen
        await pilot.press("R")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ComposeDialog" and app.screen.ready)
        dialog = app.screen
        assert dialog.query_one("#compose-to").value == "lea@example.test"
        assert dialog.query_one("#compose-subject").value == "Re: Question {{about}} prices"
        assert "> How much is it?" in dialog.query_one("#compose-body").text
        dialog.query_one("#compose-body").text = "It is 10 EUR.\n" + dialog.query_one("#compose-body").text
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is card)
    sent = smtp_server.messages[0]
    assert sent["Subject"] == "Re: Question {about} prices" and sent["In-Reply-To"] == "<q1@example.test>"
    assert "> How much is it?" in sent.get_content()


async def test_header_counter_and_notification_centre(db, admin, make_app):
    with db.write() as s:
        account = MailAccount(name="In", email="in@acme.test", imap_host="h", imap_port=1, smtp_host="h", smtp_port=1, username="in", owner_id=admin.id)
        s.add(account)
        s.flush()
        client_id = clients.create_client(s, admin, new_contact("Carla Client", emails=["carla@example.test"])).id
        for i, sender in enumerate(["carla@example.test", "stranger@example.test"]):
            msg = MailMessage(account_id=account.id, message_id=f"<n{i}@x>", subject=f"Subject {i}", sender=sender, direction=MailDirection.IN, sent_at=datetime(2026, 11, 20, 9, i, tzinfo=UTC))
            s.add(msg)
            s.flush()
            s.add(MailNotification(user_id=admin.id, message_id=msg.id))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        header = app.screen.query_one("StatusHeader")
        await wait_until(pilot, lambda: "2 new emails" in str(header.render()))
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "NotificationCentre" and len(app.screen.notices) == 2)
        centre = app.screen
        assert [n.subject for n in centre.notices] == ["Subject 1", "Subject 0"]
        await pilot.press("space")  # the newest (the stranger's) seen
        await wait_until(pilot, lambda: "1 new email" in str(header.render()))
        await pilot.press("down", "enter")  # Carla's: seen, and her card opens
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.client_id == client_id)
        await wait_until(pilot, lambda: "no new emails" in str(app.screen.query_one("StatusHeader").render()))
        with db.read() as s:
            assert all(n.seen_at is not None for n in s.exec(select(MailNotification)))
        with db.write() as s:  # the sync stores a new message meanwhile: a notice pops, the counter grows
            msg = MailMessage(account_id=account.id, message_id="<n9@x>", subject="Later", sender="x@example.test", direction=MailDirection.IN)
            s.add(msg)
            s.flush()
            s.add(MailNotification(user_id=admin.id, message_id=msg.id))
        from tscrm.tui.widgets.mail_counter import MailCounter

        MailCounter.of(app).poll()
        await wait_until(pilot, lambda: "1 new email (ctrl+e lists them)" in _notices(app))
        assert "1 new email" in str(app.screen.query_one("StatusHeader").render())


async def test_settings_email_tab_adds_tests_and_removes_an_account(db, admin, make_app, smtp_server):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("0")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen")
        screen = app.screen
        assert "Email" in str(screen.query_one("Tabs").render()) or screen.query("#settings-email")
        table = screen.query_one("#email-accounts")
        await wait_until(pilot, lambda: "No mail account yet" in str(screen.query_one("#email-result").render()))
        table.focus()
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AccountDialog")
        dialog = app.screen
        dialog.query_one("#acc-preset").value = "custom"
        await pilot.pause()
        for widget_id, value in {
            "#acc-name": "Loopback", "#acc-email": "desk@acme.test", "#acc-password": "pw",
            "#acc-imap-host": "127.0.0.1", "#acc-imap-port": "1", "#acc-smtp-host": "127.0.0.1", "#acc-smtp-port": str(smtp_server.port),
        }.items():
            dialog.query_one(widget_id).value = value
        dialog.query_one("#acc-imap-security").value = "none"
        dialog.query_one("#acc-smtp-security").value = "none"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is screen and table.row_count == 1)
        await wait_until(pilot, lambda: "Mail account 1 added." in _notices(app))
        table.focus()
        await pilot.press("t")
        result = screen.query_one("#email-result")
        await wait_until(pilot, lambda: "SMTP:" in str(result.render()), timeout=20)
        text = str(result.render())
        assert "✗ IMAP: Loopback: IMAP 127.0.0.1:1: connect failed" in text
        assert f"✓ SMTP: 127.0.0.1:{smtp_server.port}: connected" in text
        await pilot.press("delete")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen and table.row_count == 0)
    with db.read() as s:
        assert s.exec(select(MailAccount)).all() == []


async def test_bulk_email_from_the_clients_list_sends_a_mailing(db, admin, make_app, smtp_server):
    add_account(db, admin, smtp_server.port)
    with db.write() as s:
        for i in range(3):
            clients.create_client(s, admin, new_contact(f"Bulk {i}", emails=[f"bulk{i}@example.test"], company_name=f"Co{i}"))
        clients.create_client(s, admin, new_contact("Bulk NoMail"))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: app.current_mode == "clients" and bool(app.screen.query_one("#clients-table").page_rows))
        await pilot.press("ctrl+a", "b")
        await wait_until(pilot, lambda: app.screen.id == "bulk-menu")
        menu = app.screen.query_one("#choice-list")
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        menu.highlighted = ids.index("email")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MailingDialog" and app.screen.ready)
        dialog = app.screen
        dialog.query_one("#mailing-subject").value = "News for {company}"
        dialog.query_one("#mailing-body").text = "Hi {first_name}"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "3 sent, 0 not sent, 1 left out" in _notices(app), timeout=15)
    assert sorted(m["Subject"] for m in smtp_server.messages) == ["News for Co0", "News for Co1", "News for Co2"]
