"""The IMAP sync against a real Dovecot: initial and incremental sync, UIDVALIDITY change, Sent folder,
shared accounts, exceptions, auto-lead, malformed messages, a sync killed midway, failing accounts."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from tscrm.core.models import Activity, ActivityKind, Lead
from tscrm.core.models_mail import (
    MailAccount,
    MailDirection,
    MailFolderState,
    MailMessage,
    MailNotification,
)
from tscrm.core.services import clients, mail, mail_accounts
from tscrm.core.services.clients import new_contact
from tscrm.mail import sync as mail_sync

from .conftest import PASSWORD, make_message, numbered


def add_imap_account(db, actor, dovecot, user: str, **kw) -> int:
    with db.write() as s:
        account = mail_accounts.add_account(
            s,
            actor,
            name=kw.pop("name", f"Box {user}"),
            email=user,
            imap_host=dovecot.host,
            imap_port=dovecot.port,
            imap_security="none",
            smtp_host="127.0.0.1",
            smtp_port=kw.pop("smtp_port", 2525),
            smtp_security="none",
            password=kw.pop("password", PASSWORD),
            **kw,
        )
        return account.id


def count(db, model, *where) -> int:
    with db.read() as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


def test_initial_sync_of_1000_messages_then_incremental(db, admin, dovecot):
    user = dovecot.add_user()
    dovecot.append(user, numbered(1000))
    with db.write() as s:
        client = clients.create_client(s, admin, new_contact("José García", emails=["jose@example.es"]))
        client_id = client.id
    account_id = add_imap_account(db, admin, dovecot, user)

    report = mail_sync.sync_account(db, account_id)
    assert report.ok, report.error
    assert report.total("stored") == 1000
    assert count(db, MailMessage, MailMessage.account_id == account_id) == 1000
    assert count(db, Activity, Activity.client_id == client_id, Activity.kind == ActivityKind.EMAIL) == 1000
    # the first sync of a folder raises no notifications (old mail is not news)
    assert count(db, MailNotification) == 0
    with db.read() as s:
        entry = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == ActivityKind.EMAIL).order_by(Activity.created_at.desc())).first()
        assert entry.text.startswith("Message 999\nFrom: Jose Garcia <jose@example.es>")
        assert "Body of message 999" in entry.text

    # nothing new: both folders skipped
    again = mail_sync.sync_account(db, account_id)
    assert again.ok and again.total("stored") == 0
    assert {f.action for f in again.folders} == {"skip"}

    # two new messages: only they are fetched, and they raise notifications for the owner
    dovecot.append(user, numbered(2, start=1000))
    third = mail_sync.sync_account(db, account_id)
    assert third.total("fetched") == 2 and third.total("stored") == 2
    assert count(db, MailMessage, MailMessage.account_id == account_id) == 1002
    assert count(db, MailNotification, MailNotification.user_id == admin.id) == 2
    with db.read() as s:
        assert mail.unseen_count(s, admin.id) == 2


def test_uidvalidity_change_rescans_without_duplicates(db, admin, dovecot):
    user = dovecot.add_user()
    dovecot.append(user, numbered(5))
    account_id = add_imap_account(db, admin, dovecot, user)
    assert mail_sync.sync_account(db, account_id).total("stored") == 5

    dovecot.set_uidvalidity(user, 777)
    dovecot.append(user, numbered(1, start=5))
    report = mail_sync.sync_account(db, account_id)
    assert report.ok, report.error
    inbox = next(f for f in report.folders if f.role == "inbox")
    assert inbox.action == "rescan"
    assert (inbox.stored, inbox.duplicates) == (1, 5)
    assert count(db, MailMessage, MailMessage.account_id == account_id) == 6
    with db.read() as s:
        state = s.exec(select(MailFolderState).where(MailFolderState.account_id == account_id, MailFolderState.folder == "INBOX")).one()
        assert state.uidvalidity == 777 and state.last_uid >= 6
        assert {m.uidvalidity for m in s.exec(select(MailMessage).where(MailMessage.account_id == account_id))} == {777}
    # and the next run is quiet again
    assert mail_sync.sync_account(db, account_id).total("fetched") == 0


def test_sent_mail_lands_as_outgoing_on_the_recipients_feed(db, admin, dovecot):
    user = dovecot.add_user()
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("José García", emails=["jose@example.es"])).id
    dovecot.append(user, [make_message(sender=f"Ana <{user}>", to="Jose <jose@example.es>", subject="Our offer", message_id="<offer@test.local>")], "Sent")
    # a copy of our own mail in the inbox (e.g. Bcc to self) is outgoing too, and stored once
    dovecot.append(user, [make_message(sender=f"Ana <{user}>", to="Jose <jose@example.es>", subject="Our offer", message_id="<offer@test.local>")])
    dovecot.append(user, [make_message(sender=f"Ana <{user}>", to="jose@example.es", subject="Follow-up", message_id="<follow@test.local>")])
    account_id = add_imap_account(db, admin, dovecot, user)
    report = mail_sync.sync_account(db, account_id)
    assert report.ok, report.error
    assert {f.role for f in report.folders} == {"inbox", "sent"}
    with db.read() as s:
        rows = s.exec(select(MailMessage).where(MailMessage.account_id == account_id)).all()
        assert sorted(m.subject for m in rows) == ["Follow-up", "Our offer"]
        assert {m.direction for m in rows} == {MailDirection.OUT}
        entries = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == ActivityKind.EMAIL)).all()
        assert sorted(e.data["subject"] for e in entries) == ["Follow-up", "Our offer"]
        assert all(e.data["direction"] == "out" and e.author_id == admin.id for e in entries)
        assert entries[0].text.splitlines()[1] == "To: jose@example.es"
    assert count(db, MailNotification) == 0


def test_shared_account_is_seen_by_the_right_users_only(db, admin, make_user, dovecot):
    shared_with = make_user("Intern", name="Sara Shared")
    outsider = make_user("Intern", name="Otto Outsider")
    user = dovecot.add_user()
    dovecot.append(user, numbered(1))
    account_id = add_imap_account(db, admin, dovecot, user, shared=True, shared_with=[shared_with.id])
    mail_sync.sync_account(db, account_id)
    dovecot.append(user, numbered(1, start=1))
    assert mail_sync.sync_account(db, account_id).total("notifications") == 2

    with db.read() as s:
        assert [a.id for a in mail_accounts.list_accounts(s, shared_with)] == [account_id]
        assert mail_accounts.list_accounts(s, outsider) == []
        assert [a.id for a in mail_accounts.accounts_for_user(s, shared_with.id)] == [account_id]
        assert mail.unseen_count(s, shared_with.id) == 1
        assert mail.unseen_count(s, admin.id) == 1
        assert mail.unseen_count(s, outsider.id) == 0
        assert len(mail.list_messages(s, shared_with)) == 2
        assert mail.list_messages(s, outsider) == []
        with pytest.raises(Exception, match="No mail account"):
            mail_accounts.get_account(s, outsider, account_id)
        ((_note, msg),) = mail.list_notifications(s, shared_with)
        assert msg.subject == "Message 1"
    with db.write() as s:
        assert mail.mark_seen(s, shared_with) == 1
    with db.read() as s:
        assert mail.unseen_count(s, shared_with.id) == 0 and mail.unseen_count(s, admin.id) == 1


def test_exceptions_are_never_imported(db, admin, dovecot):
    user = dovecot.add_user()
    with db.write() as s:
        mail.add_exception(s, admin, "@spam.example")
        mail.add_exception(s, admin, "Ads@Shop.example")
        client_id = clients.create_client(s, admin, new_contact("Shop", emails=["ads@shop.example", "sales@shop.example"])).id
    dovecot.append(
        user,
        [
            make_message(sender="x@news.spam.example", subject="spam 1"),
            make_message(sender="y@spam.example", subject="spam 2"),
            make_message(sender="ads@shop.example", subject="ad"),
            make_message(sender="sales@shop.example", subject="quote"),
        ],
    )
    account_id = add_imap_account(db, admin, dovecot, user)
    report = mail_sync.sync_account(db, account_id)
    assert (report.total("stored"), report.total("excepted")) == (1, 3)
    with db.read() as s:
        assert [m.subject for m in s.exec(select(MailMessage))] == ["quote"]
        assert [e.data["subject"] for e in s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == ActivityKind.EMAIL))] == ["quote"]
        assert [e.pattern for e in mail.list_exceptions(s)] == ["ads@shop.example", "spam.example"]


def test_auto_lead_from_unknown_addresses(db, admin, dovecot):
    from tscrm.core.types import utcnow

    user = dovecot.add_user()
    now = utcnow()
    dovecot.append(
        user,
        [
            make_message(sender="=?utf-8?q?Luc=C3=ADa_G=C3=B3mez?= <lucia@new.es>", subject="Interested", date=now),
            make_message(sender="lucia@new.es", subject="Again", date=now),
            make_message(sender="noreply@service.example", subject="Receipt", date=now),
            make_message(sender="old@archive.es", subject="Years ago", date=now.replace(year=now.year - 3)),
        ],
    )
    dovecot.append(user, [make_message(sender=user, to="Pedro <pedro@prospect.es>", subject="Hello Pedro", date=now)], "Sent")
    account_id = add_imap_account(db, admin, dovecot, user, auto_lead=True)
    report = mail_sync.sync_account(db, account_id)
    assert report.ok, report.error
    assert report.total("leads_created") == 2
    with db.read() as s:
        leads_ = {lead.name: lead for lead in s.exec(select(Lead))}
        assert set(leads_) == {"Lucía Gómez", "Pedro"}
        lucia = leads_["Lucía Gómez"]
        assert lucia.owner_id == admin.id
        feed = s.exec(select(Activity).where(Activity.lead_id == lucia.id, Activity.kind == ActivityKind.EMAIL)).all()
        assert sorted(e.data["subject"] for e in feed) == ["Again", "Interested"]
    # without the setting, unknown senders stay unknown
    other = dovecot.add_user()
    dovecot.append(other, [make_message(sender="someone@else.es", date=now)])
    other_id = add_imap_account(db, admin, dovecot, other)
    assert mail_sync.sync_account(db, other_id).total("leads_created") == 0
    assert count(db, Lead) == 2


def test_one_failing_account_does_not_stop_the_others(db, admin, dovecot):
    good_user, bad_user = dovecot.add_user(), dovecot.add_user()
    dovecot.append(good_user, numbered(3))
    bad = add_imap_account(db, admin, dovecot, bad_user, password="wrong")
    good = add_imap_account(db, admin, dovecot, good_user)
    reports = mail_sync.sync_all(db)
    assert [(r.account_id, r.ok) for r in reports] == [(bad, False), (good, True)]
    assert "login failed" in reports[0].error
    assert reports[1].total("stored") == 3
    with db.read() as s:
        assert "login failed" in s.get(MailAccount, bad).last_error
        assert s.get(MailAccount, good).last_error is None and s.get(MailAccount, good).last_sync_at is not None


def test_killed_midway_continues_without_duplicates(db, admin, dovecot, monkeypatch):
    user = dovecot.add_user()
    dovecot.append(user, numbered(250))
    account_id = add_imap_account(db, admin, dovecot, user)
    real = mail.store_batch
    calls = {"n": 0}

    def dying(*args, **kw):
        calls["n"] += 1
        result = real(*args, **kw)
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")  # mid-transaction: the third batch is rolled back
        return result

    monkeypatch.setattr(mail_sync.core_mail, "store_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        mail_sync.sync_account(db, account_id, batch_size=50)
    assert count(db, MailMessage) == 100
    with db.read() as s:
        state = s.exec(select(MailFolderState).where(MailFolderState.folder == "INBOX")).one()
        assert state.last_uid == 100 and state.highestmodseq is None

    monkeypatch.setattr(mail_sync.core_mail, "store_batch", real)
    report = mail_sync.sync_account(db, account_id, batch_size=50)
    assert report.ok and report.total("stored") == 150 and report.total("duplicates") == 0
    assert count(db, MailMessage) == 250
    assert count(db, MailNotification) == 0  # still the first sync: old mail is not news
    with db.read() as s:
        assert len(set(s.exec(select(MailMessage.message_id)).all())) == 250


def test_attachments_are_listed_and_fetched_on_demand(db, admin, dovecot):
    user = dovecot.add_user()
    pdf = b"%PDF-1.4 fake" * 100
    dovecot.append(user, [make_message(subject="Contract", attachments=[("contract.pdf", "application/pdf", pdf)])])
    account_id = add_imap_account(db, admin, dovecot, user)
    mail_sync.sync_account(db, account_id)
    with db.read() as s:
        msg = s.exec(select(MailMessage)).one()
        assert msg.body_text == "Hi there"
        (att,) = msg.attachments
        assert (att["filename"], att["content_type"], att["size"]) == ("contract.pdf", "application/pdf", len(pdf))
        name, ctype, data = mail_sync.fetch_attachment(s, s.get(MailAccount, account_id), msg, att["part"])
    assert (name, ctype, data) == ("contract.pdf", "application/pdf", pdf)


def test_sync_process_killed_midway_resumes_without_duplicates(sqlite_db, dovecot):
    """A real `tscrm mail sync` process killed with SIGKILL after some batches: the re-run completes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tscrm.core.services import company
    from tscrm.core.services.users import actor_for

    db = sqlite_db
    with db.write() as s:
        _, user_row = company.setup(s, company_name="Acme", admin_name="Ana", admin_email="ana@acme.test")
        admin = actor_for(s, user_row)
    user = dovecot.add_user()
    dovecot.append(user, numbered(1200))
    account_id = add_imap_account(db, admin, dovecot, user)
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tscrm", "--db", db.url, "mail", "sync"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while count(db, MailMessage) < 200 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    stored = count(db, MailMessage)
    with db.read() as s:
        state = s.exec(select(MailFolderState).where(MailFolderState.folder == "INBOX")).one()
        # the folder's state is exactly as far as the committed messages go
        assert stored == state.last_uid
        assert count(db, Activity, Activity.kind == ActivityKind.EMAIL) == 0  # no client: nothing in feeds
    assert killed and 0 < stored < 1200, (killed, stored)
    report = mail_sync.sync_account(db, account_id)
    assert report.ok and report.total("duplicates") == 0
    assert report.total("stored") == 1200 - stored
    assert count(db, MailMessage) == 1200


def test_two_syncs_at_once_store_each_message_once(db, admin, dovecot):
    """cron overlapping a manual run: both finish, nothing is stored twice."""
    from concurrent.futures import ThreadPoolExecutor

    user = dovecot.add_user()
    dovecot.append(user, numbered(300))
    account_id = add_imap_account(db, admin, dovecot, user)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _i: mail_sync.sync_account(db, account_id, batch_size=50), range(2)))
    assert all(r.ok for r in reports), [r.error for r in reports]
    assert sum(r.total("stored") for r in reports) == 300
    assert count(db, MailMessage) == 300
