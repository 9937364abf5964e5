"""Sending: personalisation, signatures, mailings (limit, report, resume), feed entries, task reminders.

Messages go to a real aiosmtpd server on loopback (a free port per test); the core rules run on
SQLite and PostgreSQL (``db``).
"""

from __future__ import annotations

import email
import socket
from datetime import timedelta
from email import policy

import pytest
from sqlmodel import select

from tscrm.core.errors import ConfigError, MailError, PermissionDenied, ValidationError
from tscrm.core.models import Activity, ActivityKind
from tscrm.core.models_mail import MailDirection, MailMessage
from tscrm.core.models_mailing import MailingRecipient, TaskReminder
from tscrm.core.services import clients, leads, mail_accounts, mailing, tasks
from tscrm.core.services.clients import ClientFilter, new_contact
from tscrm.core.types import utcnow
from tscrm.mail.smtp import SmtpTransport


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server received: one entry per message (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


def no_copy(account, password):
    return SmtpTransport(account, password, append_sent=False)


def add_account(db, actor, port: int, *, shared: bool = True, email: str = "shop@acme.test", imap_port: int = 1) -> int:
    with db.write() as s:
        return mail_accounts.add_account(
            s,
            actor,
            name="Shop",
            email=email,
            imap_host="127.0.0.1",
            imap_port=imap_port,
            imap_security="none",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            password="secret",
            shared=shared,
        ).id  # type: ignore[return-value]


def add_clients(db, actor, count: int, tag: str = "promo", prefix: str = "c") -> list[int]:
    ids = []
    with db.write() as s:
        for i in range(count):
            client = clients.create_client(
                s, actor, new_contact(f"Name{i} Surname{i}", emails=[f"{prefix}{i}@example.test"], tags=[tag], company_name=f"Co{i}")
            )
            ids.append(client.id)
    return ids


# --- templates ----------------------------------------------------------------------------------


def test_render_fills_fields_and_names_unknown_ones():
    values = mailing.person_fields("José García López", "Acme", "CTO", "Ana")
    assert mailing.render("Hola {first_name} ({company}), {owner} {{x}}", values) == "Hola José (Acme), Ana {x}"
    with pytest.raises(ValidationError, match=r"body: unknown field \{frist_name\}") as err:
        mailing.render("Dear {frist_name}", values)
    assert err.value.field == "body"
    for hostile in ("{name.__class__}", "{0}", "{}", "{name[0]}", "{name!r}", "{name:>30}"):
        with pytest.raises(ValidationError):
            mailing.render(hostile, values, "subject")
    with pytest.raises(ValidationError, match="subject"):
        mailing.render("unbalanced {", values, "subject")


def test_signatures_add_list_remove(db, admin, make_user):
    intern = make_user("Intern", name="Ivo Intern")
    with db.write() as s:
        mailing.add_signature(s, admin, "Team", "The {sender} team", shared=True)
        mailing.add_signature(s, intern, "Mine", "Ivo")
        with pytest.raises(PermissionDenied):
            mailing.add_signature(s, intern, "Everyone", "x", shared=True)
        with pytest.raises(ValidationError, match="unknown field"):
            mailing.add_signature(s, intern, "Bad", "Regards, {nmae}")
    with db.write() as s, pytest.raises(ValidationError, match="already exists"):
        mailing.add_signature(s, intern, "mine", "again")
    with db.read() as s:
        assert [x.name for x in mailing.list_signatures(s, intern)] == ["Mine", "Team"]
        assert [x.name for x in mailing.list_signatures(s, admin)] == ["Team"]
    with db.write() as s:
        with pytest.raises(PermissionDenied):
            mailing.remove_signature(s, intern, "Team")
        mailing.remove_signature(s, intern, "Mine")
    with db.read() as s:
        assert [x.name for x in mailing.list_signatures(s, intern)] == ["Team"]


# --- mailings -----------------------------------------------------------------------------------


def test_mailing_of_100_arrives_as_100_personal_messages_with_feed_entries(db, admin, smtp_server):
    account_id = add_account(db, admin, smtp_server.port)
    ids = add_clients(db, admin, 100)
    with db.write() as s:
        mailing.add_signature(s, admin, "Sig", "{sender} · Acme")
        plan = mailing.create_mailing(
            s, admin, mailing.Audience(tags=["PROMO"]), subject="Offer for {company}", body="Hello {first_name},\nour offer.", signature="Sig"
        )
        mailing_id = plan.mailing.id
    seen = []
    result = mailing.send_mailing(db, admin, mailing_id, no_copy, progress=seen.append)
    assert len(result) == 100 and all(r.ok for r in result) and len(seen) == 100
    assert len(smtp_server.messages) == 100
    assert all(len(rcpt) == 1 for rcpt, _m in smtp_server.messages)  # one individual message each
    msg = smtp_server.to("c7@example.test")[0]
    assert msg["Subject"] == "Offer for Co7"
    assert msg["From"] == "Ana Admin <shop@acme.test>" and msg["To"] == "c7@example.test"
    assert msg["Message-ID"] and msg["Date"]
    assert msg.get_content().replace("\r\n", "\n") == "Hello Name7,\nour offer.\n\n-- \nAna Admin · Acme\n"
    with db.read() as s:
        entries = s.exec(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).all()
        assert sorted(e.client_id for e in entries) == sorted(ids)
        entry = next(e for e in entries if e.client_id == ids[7])
        assert entry.data["direction"] == "out" and entry.author_id == admin.id and "Offer for Co7" in entry.text
        stored = s.get(MailMessage, entry.data["mail_message_id"])
        assert stored.direction == MailDirection.OUT and stored.account_id == account_id
        assert stored.message_id == msg["Message-ID"] and stored.recipients == ["c7@example.test"]
    # a second run finds nothing pending: nothing is sent twice
    again = mailing.send_mailing(db, admin, mailing_id, no_copy)
    assert len(again) == 100 and len(smtp_server.messages) == 100


def test_101_recipients_are_refused_and_nothing_is_sent(db, admin, smtp_server):
    add_account(db, admin, smtp_server.port)
    add_clients(db, admin, 101)
    with pytest.raises(ValidationError, match="at most 100 recipients; this one has 101"):
        with db.write() as s:
            mailing.create_mailing(s, admin, mailing.Audience(tags=["promo"]), subject="S", body="B")
    with db.read() as s:
        assert s.exec(select(MailingRecipient)).all() == []
    assert smtp_server.messages == []


def test_audience_add_remove_filter_and_personalisation_error(db, admin, make_user, smtp_server):
    add_account(db, admin, smtp_server.port)
    promo = add_clients(db, admin, 3)
    other = add_clients(db, admin, 2, tag="other", prefix="o")
    with db.write() as s:
        nomail = clients.create_client(s, admin, new_contact("No Mail", tags=["promo"])).id
        lead = leads.create_lead(s, admin, new_contact("Lea Lead", emails=["lea@example.test"])).id
        plan = mailing.create_mailing(
            s,
            admin,
            mailing.Audience(
                tags=["promo"], client_ids=[other[0]], lead_ids=[lead], addresses=["x@example.test"], exclude_client_ids=[promo[1]]
            ),
            subject="Hi {name}",
            body="B",
        )
        assert [r.address for r in plan.recipients] == ["o0@example.test", "c0@example.test", "c2@example.test", "lea@example.test", "x@example.test"]
        assert [k.what for k in plan.skipped] == [f"client {nomail} (No Mail)"]
        mailing.add_recipients(s, admin, plan.mailing.id, mailing.Audience(filter=ClientFilter(tags=["other"])))
        assert mailing.remove_recipients(s, admin, plan.mailing.id, ["x@example.test", "c0@example.test"]) == 2
        addresses = [r.address for r in mailing.recipients_of(s, plan.mailing.id)]
        assert sorted(addresses) == ["c2@example.test", "lea@example.test", "o0@example.test", "o1@example.test"]
        # an unknown field is reported before anything is stored or sent
        with pytest.raises(ValidationError, match=r"body: unknown field \{surname\}"):
            mailing.create_mailing(s, admin, mailing.Audience(tags=["promo"]), subject="S", body="Dear {surname}")
    # an intern may send one mail, not a mailing
    intern = make_user("Intern", name="Ivo Intern")
    with db.write() as s:
        mail_accounts.update_account(s, admin, 1, shared_with=[intern.id])
        with pytest.raises(PermissionDenied):
            mailing.create_mailing(s, intern, mailing.Audience(addresses=["a@example.test", "b@example.test"]), subject="S", body="B")
        mailing.create_mailing(s, intern, mailing.Audience(addresses=["a@example.test"]), subject="S", body="B")
    assert smtp_server.messages == []


def test_refused_recipient_is_reported_and_lead_feed_gets_the_mail(db, admin, smtp_server):
    add_account(db, admin, smtp_server.port)
    smtp_server.refuse.add("bad@example.test")
    with db.write() as s:
        lead = leads.create_lead(s, admin, new_contact("Lea Lead", emails=["lea@example.test"])).id
        plan = mailing.create_mailing(
            s, admin, mailing.Audience(lead_ids=[lead], addresses=["bad@example.test"]), subject="Hello {first_name}", body="B"
        )
    result = mailing.send_mailing(db, admin, plan.mailing.id, no_copy)
    by_address = {r.address: r for r in result}
    assert by_address["lea@example.test"].ok
    assert by_address["bad@example.test"].status == "failed" and "550" in by_address["bad@example.test"].error
    assert len(smtp_server.messages) == 1 and smtp_server.messages[0][1]["Subject"] == "Hello Lea"
    with db.read() as s:
        entries = s.exec(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).all()
        assert [(e.lead_id, e.client_id) for e in entries] == [(lead, None)]


def test_interrupted_recipient_is_not_sent_again(db, admin, smtp_server):
    """A run that crashed after claiming a recipient: the re-run sends the others, not that one."""
    add_account(db, admin, smtp_server.port)
    add_clients(db, admin, 3)
    with db.write() as s:
        plan = mailing.create_mailing(s, admin, mailing.Audience(tags=["promo"]), subject="S", body="B")
        first = plan.recipients[0]
        mailing._claim(s, first.id, "<crashed@acme.test>")
    result = mailing.send_mailing(db, admin, plan.mailing.id, no_copy)
    assert [r.status for r in result] == ["sending", "sent", "sent"]
    assert len(smtp_server.messages) == 2 and not smtp_server.to(first.address)


def test_unreachable_server_sends_nothing_and_keeps_the_mailing_pending(db, admin):
    add_account(db, admin, free_port())
    add_clients(db, admin, 2)
    with db.write() as s:
        plan = mailing.create_mailing(s, admin, mailing.Audience(tags=["promo"]), subject="S", body="B")
    result = mailing.send_mailing(db, admin, plan.mailing.id, no_copy)
    assert [r.status for r in result] == ["failed", "failed"]
    assert "SMTP 127.0.0.1" in result[0].error and "connecting failed" in result[0].error


def test_send_one_to_an_address_links_the_card_and_no_account_is_a_config_error(db, admin, smtp_server):
    with db.write() as s:
        client = clients.create_client(s, admin, new_contact("Zoe Zed", emails=["zoe@example.test"])).id
    with pytest.raises(ConfigError, match="no mail account"):
        mailing.send_one(db, admin, no_copy, client_id=client, subject="S", body="B")
    add_account(db, admin, smtp_server.port, shared=False)
    entry = mailing.send_one(db, admin, no_copy, to="other@example.test", client_id=client, subject="Re: {name}", body="B", in_reply_to="<x@y>")
    assert entry.ok and entry.client_id == client
    msg = smtp_server.to("other@example.test")[0]
    assert msg["In-Reply-To"] == "<x@y>" and msg["Subject"] == "Re: Zoe Zed"
    with db.read() as s:
        assert s.exec(select(Activity.client_id).where(Activity.kind == ActivityKind.EMAIL)).all() == [client]


# --- task reminders -----------------------------------------------------------------------------


def test_reminders_are_sent_once_per_task(db, admin, make_user, smtp_server):
    bob = make_user("Manager", name="Bob Boss")
    now = utcnow()
    with db.write() as s:
        soon = tasks.create_task(s, admin, title="Call Zoe", due_at=now + timedelta(minutes=10)).id
        tasks.create_task(s, admin, title="Later", due_at=now + timedelta(hours=3))
        tasks.create_task(s, admin, title="Past", due_at=now - timedelta(minutes=1))
        tasks.create_task(s, bob, title="Bob's", due_at=now + timedelta(minutes=5))
        done = tasks.create_task(s, admin, title="Done", due_at=now + timedelta(minutes=5))
        tasks.complete_task(s, admin, done.id)
    with pytest.raises(ConfigError, match="first shared mail account"):
        mailing.send_reminders(db, now, timedelta(minutes=15), no_copy)
    add_account(db, admin, smtp_server.port, shared=True)
    first = mailing.send_reminders(db, now, timedelta(minutes=15), no_copy)
    second = mailing.send_reminders(db, now, timedelta(minutes=15), no_copy)
    assert len(first.sent) == 2 and second.sent == [] and second.failed == []
    assert sorted(rcpt[0] for rcpt, _m in smtp_server.messages) == sorted(["ana@acme.test", bob.email])
    msg = smtp_server.to("ana@acme.test")[0]
    assert msg["Subject"].startswith("Reminder: Call Zoe at ")
    with db.read() as s:
        rows = s.exec(select(TaskReminder)).all()
        assert len(rows) == 2 and all(r.sent_at is not None for r in rows) and soon in {r.task_id for r in rows}


def test_failed_reminder_is_retried_and_unconfirmed_one_is_reported(db, admin, smtp_server):
    now = utcnow()
    with db.write() as s:
        task = tasks.create_task(s, admin, title="Call", due_at=now + timedelta(minutes=10)).id
        crashed = tasks.create_task(s, admin, title="Crashed", due_at=now + timedelta(hours=5)).id
        reminder = TaskReminder(task_id=crashed, created_at=now - timedelta(hours=1))
        s.add(reminder)
    add_account(db, admin, smtp_server.port)
    smtp_server.refuse.add("ana@acme.test")
    run = mailing.send_reminders(db, now, timedelta(minutes=15), no_copy)
    assert [t for t, _r in run.failed] == [task] and run.unconfirmed == [crashed]
    smtp_server.refuse.clear()
    run = mailing.send_reminders(db, now, timedelta(minutes=15), no_copy)
    assert [t for t, _a in run.sent] == [task] and len(smtp_server.messages) == 1


def test_parse_duration():
    assert mailing.parse_duration("15m") == timedelta(minutes=15)
    assert mailing.parse_duration("1h30m") == timedelta(minutes=90)
    with pytest.raises(ValidationError, match="before"):
        mailing.parse_duration("soon")


def test_smtp_error_names_the_account(db, admin):
    port = free_port()
    add_account(db, admin, port)
    with db.read() as s:
        account = mail_accounts.accounts_for_user(s, admin.id)[0]
    transport = SmtpTransport(account, "secret", append_sent=False, timeout=2)
    with pytest.raises(MailError, match=f"Shop: SMTP 127.0.0.1:{port}: connecting failed"):
        transport.connect()


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def run(cli):
    return cli


def test_cli_send_dry_run_then_send(db, admin, smtp_server, run, tmp_path):
    add_account(db, admin, smtp_server.port)
    add_clients(db, admin, 4)
    body = tmp_path / "body.txt"
    body.write_text("Hello {first_name} from {company}", encoding="utf-8")
    run("mail", "signatures", "add", "Sig", "--text", "-- {sender}")
    assert "Sig" in run("mail", "signatures", "list").stdout
    dry = run("mail", "send", "--tag", "promo", "--subject", "News {name}", "--body-file", str(body), "--signature", "Sig", "--dry-run")
    assert "4 recipients, nothing sent" in dry.stdout and "Hello Name0 from Co0" in dry.stdout and "Subject: News Name0 Surname0" in dry.stdout
    assert smtp_server.messages == []
    with db.read() as s:
        assert s.exec(select(MailingRecipient)).all() == []
    sent = run("mail", "send", "--tag", "promo", "--subject", "News {name}", "--body-file", str(body), "--json")
    import json

    report = json.loads(sent.stdout)
    assert [r["status"] for r in report["recipients"]] == ["sent"] * 4
    assert len(smtp_server.messages) == 4
    shown = run("mail", "report", str(report["mailing_id"])).stdout
    assert "4 sent, 0 not sent, of 4." in shown
    run("mail", "signatures", "remove", "Sig")


def test_cli_refuses_101_and_fails_on_a_refused_recipient(db, admin, smtp_server, run):
    add_account(db, admin, smtp_server.port)
    add_clients(db, admin, 101)
    refused = run("mail", "send", "--tag", "promo", "--subject", "S", "--body", "B", code=2)
    assert "at most 100 recipients; this one has 101" in refused.stderr
    assert smtp_server.messages == []
    smtp_server.refuse.add("nobody@example.test")
    result = run("mail", "send", "--to", "nobody@example.test", "--to", "c1@example.test", "--subject", "S", "--body", "B", code=9)
    assert "1 sent, 1 not sent, of 2." in result.stdout and "550" in result.stdout
    unknown = run("mail", "send", "--to", "c1@example.test", "--subject", "S", "--body", "Hi {nom}", code=2)
    assert "unknown field {nom}" in unknown.stderr


def test_cli_tasks_remind_once(db, admin, smtp_server, run):
    add_account(db, admin, smtp_server.port)
    with db.write() as s:
        tasks.create_task(s, admin, title="Call Zoe", due_at=utcnow() + timedelta(minutes=20))
    assert "0 reminders sent." in run("tasks", "remind").stdout
    assert "1 reminders sent." in run("tasks", "remind", "--before", "30m").stdout
    assert "0 reminders sent." in run("tasks", "remind", "--before", "30m").stdout
    assert len(smtp_server.messages) == 1
    run("tasks", "remind", "--before", "later", code=2)


# --- the Sent copy (Dovecot) -----------------------------------------------------------------------


def test_sent_copy_lands_in_the_sent_folder_and_the_sync_does_not_duplicate_it(db, admin, smtp_server, dovecot):
    from tscrm.mail.smtp import open_transport
    from tscrm.mail.sync import sync_account

    user = dovecot.add_user()
    with db.write() as s:
        account_id = mail_accounts.add_account(
            s, admin, name="Desk", email=user, imap_host=dovecot.host, imap_port=dovecot.port, imap_security="none",
            smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_security="none", password="secret",
        ).id
        client_id = clients.create_client(s, admin, new_contact("Sara Sent", emails=["sara@example.test"])).id
        plan = mailing.create_mailing(s, admin, mailing.Audience(client_ids=[client_id]), subject="Copy {first_name}", body="B")
    result = mailing.send_mailing(db, admin, plan.mailing.id, open_transport)
    assert result[0].ok and result[0].error is None
    imap = dovecot.client(user)
    try:
        imap.select_folder("Sent", readonly=True)
        uids = imap.search(["ALL"])
        fetched = imap.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]", "FLAGS"])
    finally:
        imap.logout()
    assert len(uids) == 1
    headers = next(iter(fetched.values()))
    raw = next(v for k, v in headers.items() if k.startswith(b"BODY"))
    assert result[0].message_id.encode() in raw and b"Copy Sara" in raw and b"\\Seen" in headers[b"FLAGS"]
    with db.read() as s:
        stored = s.exec(select(MailMessage)).one()
        assert (stored.folder, stored.uid) == ("Sent", uids[0]) and stored.uidvalidity
    report = sync_account(db, account_id)
    assert report.ok, report.error
    with db.read() as s:
        assert len(s.exec(select(MailMessage)).all()) == 1
        assert len(s.exec(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).all()) == 1


def test_a_reminder_can_be_claimed_once(db, admin):
    with db.write() as s:
        task_id = tasks.create_task(s, admin, title="Once", due_at=utcnow() + timedelta(minutes=5)).id
    with db.write() as s:
        assert mailing.claim_reminder(s, task_id) is True
    with db.write() as s:
        assert mailing.claim_reminder(s, task_id) is False  # another run got it first: this one sends nothing
        assert mailing.due_reminders(s, utcnow(), timedelta(minutes=15)) == []
