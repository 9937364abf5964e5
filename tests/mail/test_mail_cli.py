"""``tscrm mail accounts|sync|exceptions``: messages and exit codes, against Dovecot and aiosmtpd."""

from __future__ import annotations

import json

import pytest


from .conftest import PASSWORD, free_port, numbered


@pytest.fixture
def run(cli, admin):
    return cli


@pytest.fixture
def smtp_port():
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


def add_args(dovecot, user: str, smtp_port: int, *, password: str = PASSWORD, imap_host: str | None = None) -> list[str]:
    return [
        "mail", "accounts", "add", f"Box {user}", "--email", user, "--password", password,
        "--imap-host", imap_host or dovecot.host, "--imap-port", str(dovecot.port), "--imap-security", "none",
        "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port), "--smtp-security", "none",
    ]


def test_accounts_add_list_test_remove(run, dovecot, smtp_port):
    user = dovecot.add_user()
    out = run(*add_args(dovecot, user, smtp_port)).stdout
    assert "Mail account 1 added" in out
    listed = json.loads(run("mail", "accounts", "list", "--json").stdout)
    assert [(a["id"], a["email"], a["imap_security"], a["owner"]) for a in listed] == [(1, user, "none", "ana@acme.test")]
    assert PASSWORD not in json.dumps(listed)

    ok = run("mail", "accounts", "test", "1").stdout
    assert "✓ IMAP" in ok and "logged in; folders: INBOX, Sent" in ok
    assert "✓ SMTP" in ok and "connected" in ok

    run("mail", "accounts", "remove", "1")
    assert json.loads(run("mail", "accounts", "list", "--json").stdout) == []
    assert "No mail account with id 1" in run("mail", "accounts", "remove", "1", code=3).stderr


def test_accounts_test_says_what_failed(run, dovecot):
    user = dovecot.add_user()
    closed = free_port()
    run(*add_args(dovecot, user, closed, password="wrong"))
    result = run("mail", "accounts", "test", "1", code=9)
    assert "✗ IMAP" in result.stdout and "login failed" in result.stdout and "AUTHENTICATIONFAILED" in result.stdout
    assert "✗ SMTP" in result.stdout and f"127.0.0.1:{closed}: connect failed" in result.stdout

    run(*add_args(dovecot, user, closed, imap_host="no-such-host.invalid"))
    result = run("mail", "accounts", "test", "2", code=9)
    assert "no-such-host.invalid" in result.stdout and "DNS lookup failed" in result.stdout


def test_account_input_errors(run, dovecot):
    result = run("mail", "accounts", "add", "X", "--email", "x@acme.test", "--password", "p", "--preset", "hotmail", code=2)
    assert "preset: 'hotmail' is not one of gmail, outlook, yahoo, zoho, yandex, custom" in result.stderr
    result = run("mail", "accounts", "add", "X", "--email", "not-an-address", "--password", "p", "--preset", "gmail", code=2)
    assert "email: 'not-an-address' is not an email address" in result.stderr
    for n in range(20):
        run("mail", "accounts", "add", f"B{n}", "--email", f"b{n}@acme.test", "--password", "p", "--preset", "gmail")
    result = run("mail", "accounts", "add", "B21", "--email", "b21@acme.test", "--password", "p", "--preset", "gmail", code=5)
    assert "at most 20 mail accounts" in result.stderr


def test_sync_reports_each_account_and_fails_when_one_failed(run, dovecot, smtp_port):
    good, bad = dovecot.add_user(), dovecot.add_user()
    dovecot.append(good, numbered(3))
    run(*add_args(dovecot, good, smtp_port))
    run(*add_args(dovecot, bad, smtp_port, password="wrong"))

    result = run("mail", "sync", code=9)
    assert "login failed" in result.stderr
    rows = json.loads(run("mail", "sync", "--json", code=9).stdout)
    assert [(r["account_id"], r["ok"]) for r in rows] == [(1, True), (2, False)]
    assert rows[0]["stored"] == 0  # the first run stored them already
    assert "login failed" in rows[1]["error"]

    result = run("mail", "sync", "--account", "1")
    assert "Mail sync" in result.stdout and "ok" in result.stdout
    listed = json.loads(run("mail", "accounts", "list", "--json").stdout)
    assert listed[0]["last_error"] is None and "login failed" in listed[1]["last_error"]
    assert "No mail account with id 7" in run("mail", "sync", "--account", "7", code=3).stderr


def test_exceptions_commands(run):
    run("mail", "exceptions", "add", "@Spam.example")
    run("mail", "exceptions", "add", "boss@corp.es")
    assert run("mail", "exceptions", "list").stdout.split() == ["boss@corp.es", "spam.example"]
    assert "neither an email address nor a domain" in run("mail", "exceptions", "add", "nonsense", code=2).stderr
    run("mail", "exceptions", "remove", "spam.example")
    assert [e["pattern"] for e in json.loads(run("mail", "exceptions", "list", "--json").stdout)] == ["boss@corp.es"]
    assert "No mail exception" in run("mail", "exceptions", "remove", "spam.example", code=3).stderr


def test_attachment_command_fetches_from_the_server(run, dovecot, smtp_port, tmp_path):
    from .conftest import make_message

    user = dovecot.add_user()
    dovecot.append(user, [make_message(subject="Offer", attachments=[("offer.txt", "text/plain", b"price: 10 EUR\n")])])
    run(*add_args(dovecot, user, smtp_port))
    run("mail", "sync")
    target = tmp_path / "got.txt"
    # parts in walk order: 1 multipart/mixed, 2 the text body, 3 the attachment
    out = run("mail", "attachment", "1", "3", "--out", str(target)).stdout
    assert "Saved" in out and target.read_bytes() == b"price: 10 EUR\n"
    assert "has no attachment 2" in run("mail", "attachment", "1", "2", code=3).stderr
    assert "No mail message with id 9" in run("mail", "attachment", "9", "2", code=3).stderr
