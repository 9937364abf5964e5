"""Mail accounts and the sync's rules in core, without IMAP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import select

from tscrm.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, ActivityKind
from tscrm.core.models_mail import (
    FolderRole,
    MailAccount,
    MailDirection,
    MailMessage,
    MailSecurity,
)
from tscrm.core.services import clients, leads, mail, mail_accounts
from tscrm.core.services.clients import new_contact
from tscrm.core.services.mail import ParsedMessage

WHEN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def add(db, actor, n: int = 1, **kw) -> MailAccount:
    with db.write() as s:
        account = mail_accounts.add_account(
            s, actor, name=kw.pop("name", f"Box {n}"), email=kw.pop("email", f"box{n}@acme.test"),
            preset=kw.pop("preset", "gmail"), password=kw.pop("password", "app-password"), **kw,
        )
        s.expunge(account)
        return account


def test_presets_and_custom_servers(db, admin):
    gmail = add(db, admin)
    assert (gmail.imap_host, gmail.imap_port, gmail.imap_security) == ("imap.gmail.com", 993, MailSecurity.SSL)
    assert (gmail.smtp_host, gmail.smtp_port) == ("smtp.gmail.com", 465)
    assert gmail.username == "box1@acme.test"
    outlook = add(db, admin, 2, preset="outlook")
    assert (outlook.smtp_host, outlook.smtp_port, outlook.smtp_security) == ("smtp.office365.com", 587, MailSecurity.STARTTLS)
    custom = add(db, admin, 3, preset="custom", imap_host="mail.example.com", imap_security="starttls",
                 smtp_host="mail.example.com", smtp_security="starttls", username="box3")
    assert (custom.imap_port, custom.smtp_port, custom.username) == (143, 587, "box3")
    assert set(mail_accounts.PRESETS) == {"gmail", "outlook", "yahoo", "zoho", "yandex"}
    with pytest.raises(ValidationError, match="imap_host"):
        add(db, admin, 4, preset="custom", smtp_host="x.example.com")
    with pytest.raises(ValidationError, match="preset"):
        add(db, admin, 5, preset="hotmail")
    with pytest.raises(ValidationError, match="imap_port"):
        add(db, admin, 6, preset="custom", imap_host="a.example", smtp_host="a.example", imap_port=70000)


def test_password_is_kept_encrypted_never_in_clear(db, admin):
    account = add(db, admin, password="S3cret-pass")
    assert account.secret_ref == f"db:mail/{account.id}/password"
    with db.read() as s:
        assert mail_accounts.account_password(s, s.get(MailAccount, account.id)) == "S3cret-pass"
        dump = " ".join(str(r) for r in s.execute(text("SELECT * FROM stored_secret")).all())
        dump += " ".join(str(r) for r in s.execute(text("SELECT * FROM mail_account")).all())
    assert "S3cret-pass" not in dump
    with db.write() as s:
        mail_accounts.update_account(s, admin, account.id, password="new-one")
    with db.write() as s:
        assert mail_accounts.account_password(s, s.get(MailAccount, account.id)) == "new-one"
        mail_accounts.remove_account(s, admin, account.id)
    with db.read() as s:
        assert s.execute(text("SELECT count(*) FROM stored_secret")).scalar() == 0


def test_at_most_20_accounts(db, admin):
    for n in range(20):
        add(db, admin, n)
    with pytest.raises(Conflict, match="at most 20 mail accounts"):
        add(db, admin, 21)
    with db.write() as s:
        mail_accounts.remove_account(s, admin, 1)
    add(db, admin, 22)


def test_who_sees_and_manages_accounts(db, admin, make_user):
    bob = make_user("Intern", name="Bob")
    eve = make_user("Intern", name="Eve")
    own = add(db, bob, 1)
    shared = add(db, admin, 2, shared_with=[bob.id])
    private = add(db, admin, 3)
    with db.read() as s:
        assert [a.id for a in mail_accounts.list_accounts(s, bob)] == [own.id, shared.id]
        assert [a.id for a in mail_accounts.list_accounts(s, admin)] == [own.id, shared.id, private.id]
        assert mail_accounts.list_accounts(s, eve) == []
        assert shared.shared is True
        with pytest.raises(NotFound):
            mail_accounts.get_account(s, bob, private.id)
    with db.write() as s, pytest.raises(PermissionDenied):
        mail_accounts.remove_account(s, bob, shared.id)  # shared with him, not his
    with db.write() as s, pytest.raises(PermissionDenied):
        mail_accounts.add_account(s, bob, name="x", email="x@acme.test", preset="gmail", password="p", owner_id=eve.id)
    with db.write() as s:
        mail_accounts.update_account(s, admin, shared.id, shared_with=[eve.id])
    with db.read() as s:
        assert [a.id for a in mail_accounts.accounts_for_user(s, eve.id)] == [shared.id]
        assert [a.id for a in mail_accounts.accounts_for_user(s, bob.id)] == [own.id]


def msg(uid: int, mid: str, *, sender="jose@example.es", to=("box1@acme.test",), subject="Hi", body="Hello") -> ParsedMessage:
    return ParsedMessage(uid=uid, message_id=mid, subject=subject, sender=sender, recipients=list(to), sent_at=WHEN, body_text=body)


def test_plan_folder_follows_uidvalidity_uidnext_and_modseq(db, admin):
    account = add(db, admin)
    with db.write() as s:
        plan = mail.plan_folder(s, account.id, "INBOX", "inbox", uidvalidity=10, uidnext=5, highestmodseq=40)
        assert (plan.action, plan.from_uid, plan.first_sync) == ("fetch", 1, True)
        acc = s.get(MailAccount, account.id)
        mail.store_batch(s, acc, plan.state, [msg(1, "<a@x>"), msg(4, "<b@x>")], last_uid=4)
        mail.finish_folder(s, plan.state, 40)
    with db.write() as s:
        assert mail.plan_folder(s, account.id, "INBOX", "inbox", uidvalidity=10, uidnext=5, highestmodseq=40).action == "skip"
        # flags changed (modseq moved) but nothing new (UIDNEXT): still nothing to fetch
        assert mail.plan_folder(s, account.id, "INBOX", "inbox", uidvalidity=10, uidnext=5, highestmodseq=41).action == "skip"
        plan = mail.plan_folder(s, account.id, "INBOX", "inbox", uidvalidity=10, uidnext=7, highestmodseq=42)
        assert (plan.action, plan.from_uid, plan.first_sync) == ("fetch", 5, False)
        plan = mail.plan_folder(s, account.id, "INBOX", "inbox", uidvalidity=11, uidnext=3)
        assert (plan.action, plan.from_uid) == ("rescan", 1)
        acc = s.get(MailAccount, account.id)
        result = mail.store_batch(s, acc, plan.state, [msg(1, "<a@x>"), msg(2, "<b@x>")], last_uid=2)
        assert (result.stored, result.duplicates) == (0, 2)
        assert {(m.uid, m.uidvalidity) for m in s.exec(select(MailMessage))} == {(1, 11), (2, 11)}


def test_feed_matching_direction_and_cross_account_dedupe(db, admin, make_user):
    bob = make_user("Intern", name="Bob")
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("José", emails=["jose@example.es"])).id
        lead_id = leads.create_lead(s, admin, new_contact("Lucía", emails=["lucia@new.es"])).id
    first = add(db, admin, 1)
    second = add(db, bob, 2)
    batch = [
        msg(1, "<in@x>"),  # from the client
        msg(2, "<out@x>", sender="box1@acme.test", to=("jose@example.es", "lucia@new.es")),  # our own mail in INBOX
        msg(3, "", sender="stranger@else.es", subject="no id"),  # no Message-ID: a stand-in one
    ]
    with db.write() as s:
        acc = s.get(MailAccount, first.id)
        state = mail.plan_folder(s, first.id, "INBOX", "inbox", uidvalidity=1).state
        result = mail.store_batch(s, acc, state, batch, last_uid=3)
        assert (result.stored, result.feed_entries) == (3, 3)
        rows = {m.uid: m for m in s.exec(select(MailMessage))}
        assert rows[1].direction == MailDirection.IN and rows[2].direction == MailDirection.OUT
        assert rows[3].message_id.endswith("@tscrm.no-message-id>")
        entries = s.exec(select(Activity).where(Activity.kind == ActivityKind.EMAIL).order_by(Activity.id)).all()
        assert [(e.client_id, e.lead_id, e.data["direction"]) for e in entries] == [
            (client_id, None, "in"), (client_id, None, "out"), (None, lead_id, "out")
        ]
        assert entries[0].created_at == WHEN
    # the same mail seen by Bob's account: stored for his account, not shown twice in the feeds
    with db.write() as s:
        acc = s.get(MailAccount, second.id)
        state = mail.plan_folder(s, second.id, "INBOX", FolderRole.INBOX, uidvalidity=1).state
        result = mail.store_batch(s, acc, state, [msg(7, "<in@x>")], last_uid=7)
        assert (result.stored, result.feed_entries) == (1, 0)
        assert len(s.exec(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).all()) == 3
    with db.read() as s:
        mine = s.exec(select(MailMessage).where(MailMessage.account_id == second.id)).one()
        # Bob sees his copy, and the admin's copy through the client's feed only if he sees the client
        assert mail.get_message(s, bob, mine.id).subject == "Hi"
        other = s.exec(select(MailMessage).where(MailMessage.account_id == first.id, MailMessage.uid == 1)).one()
        with pytest.raises(NotFound):
            mail.get_message(s, bob, other.id)


def test_exception_patterns(db, admin, make_user):
    with db.write() as s:
        assert mail.add_exception(s, admin, " @Example.COM ").pattern == "example.com"
        assert mail.add_exception(s, admin, "Boss@Corp.es").pattern == "boss@corp.es"
        with pytest.raises(ValidationError, match="pattern"):
            mail.add_exception(s, admin, "not a domain")
    patterns = {"example.com", "boss@corp.es"}
    assert mail.is_excepted("a@example.com", patterns) and mail.is_excepted("a@eu.example.com", patterns)
    assert mail.is_excepted("boss@corp.es", patterns) and not mail.is_excepted("other@corp.es", patterns)
    assert not mail.is_excepted("a@notexample.com", patterns)
    intern = make_user("Intern")
    with db.write() as s, pytest.raises(PermissionDenied):
        mail.add_exception(s, intern, "x.com")
    with db.write() as s:
        mail.remove_exception(s, admin, "example.com")
        with pytest.raises(NotFound):
            mail.remove_exception(s, admin, "example.com")
        assert [e.pattern for e in mail.list_exceptions(s)] == ["boss@corp.es"]


def test_fetch_batches_by_count_and_size():
    from tscrm.mail.sync import batches

    uids = list(range(1, 8))
    assert batches(uids, {}, batch_size=3) == [[1, 2, 3], [4, 5, 6], [7]]
    sizes = {1: 10, 2: 10, 3: 100, 4: 10, 5: 10, 6: 10, 7: 10}
    assert batches(uids, sizes, batch_size=5, max_bytes=50) == [[1, 2], [3], [4, 5, 6, 7]]


def test_the_scheduler_syncs_each_account_every_ten_minutes(db, admin):
    from datetime import timedelta

    first, second, idle = add(db, admin, 1), add(db, admin, 2), add(db, admin, 3, active=False)
    with db.write() as s:
        s.get(MailAccount, first.id).last_sync_at = WHEN - timedelta(minutes=10)
        s.get(MailAccount, second.id).last_sync_at = WHEN - timedelta(minutes=9)
    with db.read() as s:
        assert mail_accounts.accounts_due_for_sync(s, WHEN) == [first.id]
        later = mail_accounts.accounts_due_for_sync(s, WHEN + timedelta(minutes=1))
        assert later == [first.id, second.id] and idle.id not in later
