"""Reading raw messages into ``ParsedMessage``: whatever can be read is kept, nothing stops the sync.

The structure is parsed with the standard ``email`` package under the lenient ``compat32`` policy
(it never raises on malformed headers; ``policy.default`` raises lazily when a broken header is
read), and every header is decoded here with RFC 2047 and charset fallbacks: a declared charset
Python does not know, or bytes that are not in it, fall back to UTF-8, then to charset detection,
then to cp1252 with replacement characters. Huge headers are cut, bodies are cut at
``MAX_BODY_CHARS``; a message that cannot be parsed at all still yields a row (its UID, size and
whatever raw header lines could be read).
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.utils
import html
import re
from datetime import UTC, datetime
from email.message import Message
from email.policy import compat32
from typing import Any

from tscrm.core.services.mail import MAX_BODY_CHARS, ParsedMessage

MAX_HEADER_CHARS = 4000
MAX_SUBJECT_CHARS = 1000
MAX_ADDRESSES = 200

_TAGS = re.compile(r"<[^>]*>")
_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6])\b[^>]*>", re.IGNORECASE)
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_MSGID = re.compile(r"<[^<>\s]+>")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text of ``data`` in ``charset``; never raises."""
    for candidate in ("utf-8", charset) if charset and charset.lower() in ("us-ascii", "ascii") else (charset, "utf-8"):
        if not candidate:
            continue
        try:
            codecs.lookup(candidate)
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    if len(data) < 200 or sum(b < 0x80 for b in data[:2000]) > 0.9 * min(len(data), 2000):
        return data.decode("cp1252", errors="replace")  # short or mostly ASCII: detection would guess
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            return data.decode(best.encoding, errors="replace")
    except Exception:  # noqa: BLE001, S110 - detection is a nicety, the fallback below always works
        pass
    return data.decode("cp1252", errors="replace")


_SURROGATES = re.compile("[\udc80-\udcff]")


def raw_8bit(value: str, hint: str | None = None) -> str:
    """Raw 8-bit bytes in a header (the parser keeps them as surrogate escapes) decoded: UTF-8 if they
    are, else the message's charset, else detection."""
    if not _SURROGATES.search(value):
        return value
    data = value.encode("ascii", "surrogateescape") if value.isascii() else value.encode("utf-8", "surrogateescape")
    return decode_bytes(data, hint if hint and hint.lower() not in ("us-ascii", "ascii") else None)


def header_text(value: Any, hint: str | None = None) -> str:
    """A header value as a str whose raw 8-bit bytes are decoded (RFC 2047 words left as they are).
    ``compat32`` hands over headers with 8-bit bytes as ``Header`` objects of charset unknown-8bit."""
    if isinstance(value, email.header.Header):
        try:
            chunks = email.header.decode_header(value)
        except Exception:  # noqa: BLE001
            return str(value)
        out = []
        for chunk, charset in chunks:
            if isinstance(chunk, bytes):
                usable = hint if charset in (None, "unknown-8bit") else charset
                out.append(decode_bytes(chunk, usable))
            else:
                out.append(chunk)
        return "".join(out)
    return raw_8bit(str(value), hint)


def decode_header(value: Any, limit: int = MAX_HEADER_CHARS, hint: str | None = None) -> str:
    """A header as text: RFC 2047 words decoded, unknown charsets tolerated, folded onto one line."""
    if value is None:
        return ""
    raw = header_text(value, hint)[: limit * 4]
    try:
        parts = email.header.decode_header(raw)
    except Exception:  # noqa: BLE001 - a malformed encoded word: keep the raw text
        parts = [(raw, None)]
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    text = "".join(out)
    text = " ".join(text.replace("\x00", "").split())
    return text[:limit]


def _hint(msg: Message) -> str | None:
    try:
        return msg.get_content_charset() or None
    except Exception:  # noqa: BLE001
        return None


def _header(msg: Message, name: str) -> str:
    try:
        values = msg.get_all(name) or []
    except Exception:  # noqa: BLE001
        return ""
    return decode_header(values[0], hint=_hint(msg)) if values else ""


def _addresses(msg: Message, *names: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs of the headers, names decoded."""
    raw: list[str] = []
    for name in names:
        try:
            raw.extend(header_text(v, _hint(msg))[: MAX_HEADER_CHARS * 4] for v in (msg.get_all(name) or []))
        except Exception:  # noqa: BLE001, S112 - an unreadable header: the others still count
            continue
    out: list[tuple[str, str]] = []
    try:
        pairs = email.utils.getaddresses(raw)
    except Exception:  # noqa: BLE001
        pairs = []
    for display, address in pairs:
        address = (address or "").strip().strip("<>").lower()
        if "@" not in address or len(address) > 320 or any(c.isspace() for c in address):
            continue
        out.append((decode_header(display, 300), address))
        if len(out) >= MAX_ADDRESSES:
            break
    return out


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _message_id(value: str) -> str:
    found = _MSGID.search(value or "")
    if found:
        return found.group(0)[:500]
    value = (value or "").strip()
    return f"<{value[:498]}>" if value else ""


def html_to_text(markup: str) -> str:
    text = _DROP.sub(" ", markup)
    text = _BREAKS.sub("\n", text)
    text = _TAGS.sub(" ", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken base64 / quoted-printable
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "replace")
    return b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # noqa: BLE001
        return None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    if name is None:
        return None
    return decode_header(name, 300) or None


def _is_attachment(part: Message, filename: str | None) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        disposition = ""
    if disposition == "attachment" or filename:
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def walk_parts(msg: Message) -> list[tuple[str, Message]]:
    """Leaf parts with their position ("1", "2", ... in walk order), the ``part`` of an attachment."""
    out: list[tuple[str, Message]] = []
    try:
        for index, part in enumerate(msg.walk(), start=1):
            if part.is_multipart():
                continue
            out.append((str(index), part))
    except Exception:  # noqa: BLE001, S110 - a recursion too deep or a broken structure: keep what we have
        pass
    return out


def parse_message(uid: int | None, raw: bytes) -> ParsedMessage:
    """Everything readable of one raw message (RFC 5322 bytes)."""
    try:
        msg = email.message_from_bytes(raw, policy=compat32)
    except Exception:  # noqa: BLE001 - unreadable structure: an empty shell with the raw start as body
        return ParsedMessage(uid=uid, body_text=decode_bytes(raw[:MAX_BODY_CHARS], None))
    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    sender_name, sender = ("", "")
    if senders:
        sender_name, sender = senders[0]
    recipients = _addresses(msg, "To", "Cc")
    names = {address: display for display, address in recipients if display}
    parsed = ParsedMessage(
        uid=uid,
        message_id=_message_id(_header(msg, "Message-ID")),
        subject=_header(msg, "Subject")[:MAX_SUBJECT_CHARS],
        sender=sender,
        sender_name=sender_name,
        recipients=list(dict.fromkeys(address for _name, address in recipients)),
        recipient_names=names,
        sent_at=_date(msg),
        in_reply_to=_message_id(_header(msg, "In-Reply-To")) or None,
    )
    plain: list[str] = []
    markup: list[str] = []
    for position, part in walk_parts(msg):
        filename = _filename(part)
        if _is_attachment(part, filename):
            try:
                content_type = part.get_content_type()
            except Exception:  # noqa: BLE001
                content_type = "application/octet-stream"
            parsed.attachments.append(
                {"filename": filename or f"part-{position}", "content_type": content_type, "size": len(_payload(part)), "part": position}
            )
            continue
        subtype = part.get_content_subtype()
        if part.get_content_maintype() != "text":
            continue
        text = decode_bytes(_payload(part), _charset(part))
        if subtype == "html":
            markup.append(text)
        else:
            plain.append(text)
    body = "\n\n".join(t.strip() for t in plain if t.strip())
    if not body and markup:
        body = "\n\n".join(html_to_text(m) for m in markup)
    parsed.body_text = body.replace("\x00", "").replace("\r\n", "\n")[:MAX_BODY_CHARS]
    return parsed


def attachment_bytes(raw: bytes, part: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of the attachment at ``part`` of a raw message."""
    from tscrm.core.errors import NotFound
    from tscrm.i18n import _

    msg = email.message_from_bytes(raw, policy=compat32)
    for position, leaf in walk_parts(msg):
        if position == str(part):
            return _filename(leaf) or f"part-{position}", leaf.get_content_type(), _payload(leaf)
    raise NotFound(_("The message has no part {part}").format(part=part))
