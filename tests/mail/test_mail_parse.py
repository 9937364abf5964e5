"""Malformed and hostile messages: stored as far as they can be read, never stopping the sync."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from tscrm.core.models_mail import MailMessage
from tscrm.mail import sync as mail_sync
from tscrm.mail.parse import html_to_text, parse_message

from .test_mail_sync import add_imap_account

CORPUS: dict[str, bytes] = {
    "latin1 8-bit headers": (
        "From: Jos\xe9 <jose@example.es>\r\nTo: a@test.local\r\nSubject: Caf\xe9 ma\xf1ana\r\n"
        "Message-ID: <latin1@x>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0100\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n\r\nEl caf\xe9 est\xe1 listo.\r\n"
    ).encode("latin-1"),
    "unknown charset": (
        b"From: a@example.es\r\nTo: b@test.local\r\nSubject: =?x-klingon?q?qapla=E9?=\r\nMessage-ID: <unknown-cs@x>\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\nnuqneH \xe9\xe8\r\n"
    ),
    "broken base64": (
        b"From: a@example.es\r\nSubject: b64\r\nMessage-ID: <b64@x>\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nSGVsbG8gd29ybGQ=!!!not base64***\r\n"
    ),
    "missing boundary": (
        b"From: a@example.es\r\nSubject: multipart\r\nMessage-ID: <mp@x>\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--nothing\r\nContent-Type: text/plain\r\n\r\nlost part\r\n--nothing--\r\n"
    ),
    "unterminated multipart": (
        b"From: a@example.es\r\nSubject: cut\r\nMessage-ID: <cut@x>\r\nContent-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n"
        b"--zz\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><style>p{}</style><p>Only&nbsp;HTML <b>here</b></p>"
    ),
    "huge header": (
        b"From: a@example.es\r\nSubject: " + b"long " * 40_000 + b"\r\nX-Junk: " + b"j" * 200_000
        + b"\r\nMessage-ID: <huge@x>\r\n\r\nbody after huge headers\r\n"
    ),
    "no headers at all": b"just some text without any header\r\n",
    "binary garbage": bytes(range(256)) * 4,
    "bad date and odd addresses": (
        b"From: <<<>>>, \"Quoted, Name\" <quoted@example.es>\r\nTo: undisclosed-recipients:;\r\n"
        b"Date: yesterday at noon\r\nSubject: =?utf-8?B?broken?=\r\nMessage-ID: no-brackets@x\r\n\r\nbody\r\n"
    ),
    "nul bytes and nested message": (
        b"From: a@example.es\r\nSubject: fwd\r\nMessage-ID: <nested@x>\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nsee below\x00\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: inner@example.es\r\nSubject: inner\r\n\r\ninner body\r\n--b1--\r\n"
    ),
}


def test_parser_reads_what_can_be_read():
    latin = parse_message(1, CORPUS["latin1 8-bit headers"])
    assert (latin.subject, latin.sender, latin.sender_name) == ("Café mañana", "jose@example.es", "José")
    assert latin.body_text == "El café está listo."
    assert latin.sent_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    unknown = parse_message(2, CORPUS["unknown charset"])
    assert unknown.body_text.startswith("nuqneH") and unknown.message_id == "<unknown-cs@x>"
    assert "qapla" in unknown.subject
    assert parse_message(3, CORPUS["unterminated multipart"]).body_text == "Only HTML here"
    huge = parse_message(4, CORPUS["huge header"])
    assert len(huge.subject) <= 1000 and huge.body_text == "body after huge headers" and huge.message_id == "<huge@x>"
    odd = parse_message(5, CORPUS["bad date and odd addresses"])
    assert odd.sent_at is None and odd.sender == "quoted@example.es" and odd.message_id == "<no-brackets@x>"
    nested = parse_message(6, CORPUS["nul bytes and nested message"])
    assert "\x00" not in nested.body_text and "see below" in nested.body_text
    for raw in CORPUS.values():
        parse_message(9, raw)  # none raises


def test_html_to_text():
    assert html_to_text("<p>One</p><p>Two &amp; three</p><script>x()</script>") == "One\nTwo & three"


def test_malformed_corpus_syncs_and_never_stops(db, admin, dovecot):
    user = dovecot.add_user()
    dovecot.append(user, list(CORPUS.values()))
    account_id = add_imap_account(db, admin, dovecot, user)
    report = mail_sync.sync_account(db, account_id)
    assert report.ok, report.error
    assert report.total("fetched") == len(CORPUS)
    assert report.total("stored") == len(CORPUS)
    with db.read() as s:
        subjects = {m.subject for m in s.exec(select(MailMessage))}
    assert "Café mañana" in subjects and "fwd" in subjects
