"""tscrm's SIP phone: pyVoIP 1.6.8 subclassed where it falls short for a call centre.

pyVoIP parses SIP and SDP, moves RTP through its jitter buffer and builds the 200 OK with SDP for an
incoming call. Everything below is ours and replaces the parts of pyVoIP that do not hold up (pyVoIP
issues #69, #88, #106, #167, #177, #255; the PCMA and ACK bugs of ``RTP.encode_packet`` and
``SIP.gen_ack``); each fix has a SIPp regression test in ``tests/telephony/``:

* ``SipMessage`` — a parser that accepts NOTIFY/OPTIONS/REFER/INFO, non-SDP bodies (sipfrag) and
  keeps every raw header line (Proxy-Authenticate, Record-Route...).
* ``RtpStream`` — encodes PCMA as PCMA (pyVoIP sends mu-law with payload type 8) and sends RFC 2833
  telephone events in the same RTP stream.
* ``SipTransport`` — one UDP socket, one receive thread that dispatches every message (nothing holds
  the socket while waiting), client transactions matched by Via branch with retransmission, random
  Call-IDs, tags and branches, registration with digest auth (401 and 407, qop=auth).
* ``SipCall`` / ``SipPhone`` — the dialog: INVITE with 401/407 answered on a new branch, every final
  response ends the call with an outcome and is ACKed, ACK for 2xx to the Contact with the remote
  tag, CANCEL of a ringing call, BYE either way, blind transfer with REFER, incoming calls.

Threads: the transport's receive thread runs every handler here; ``SipPhone.on_event`` is called from
it (and from timer threads) and must return quickly.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import re
import secrets
import select
import socket
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop
    # isort: off
    import pyVoIP
    from pyVoIP.VoIP import VoIP as _voip  # first: importing pyVoIP.SIP first is a circular import
    from pyVoIP import RTP, SIP
    from pyVoIP.VoIP.status import PhoneStatus
    # isort: on

pyVoIP.DEBUG = False

log = logging.getLogger(__name__)

CallState = _voip.CallState

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, INFO"
USER_AGENT = "tscrm"
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}


def random_token(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


# --------------------------------------------------------------------------------------------------
# Parsing


class SipMessage(SIP.SIPMessage):
    """pyVoIP's parser, made to accept the requests and bodies a call centre phone meets."""

    METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "NOTIFY", "REFER", "INFO", "REGISTER",
               "SUBSCRIBE", "MESSAGE", "UPDATE", "PRACK")

    code: int
    raw_headers: list[tuple[str, str]]
    raw_body: bytes

    def parse(self, data: bytes) -> None:
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.heading = lines[0]
        self.raw_body = body
        self.raw_headers = []
        for line in lines[1:]:
            name, sep, value = line.decode("utf8", "replace").partition(":")
            if sep:
                self.raw_headers.append((_canonical_header(name.strip()), value.strip()))
        parts = self.heading.decode("utf8", "replace").split(" ", 2)
        if parts[0] in self.SIPCompatibleVersions:
            self.type = SIP.SIPMessageType.RESPONSE
            self.version = parts[0]
            self.code = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            try:
                self.status = SIP.SIPStatus(self.code)
            except ValueError:
                self.status = SIP.SIPStatus(500 if self.code >= 500 else 400)
        elif parts[0] in self.METHODS and len(parts) == 3:
            self.type = SIP.SIPMessageType.MESSAGE
            self.method = parts[0]
            self.uri = parts[1]
            self.version = parts[2]
            self.code = 0
        else:
            raise SIP.SIPParseError("Unable to decipher SIP message: " + parts[0])
        first: dict[str, str] = {}
        vias: list[str] = []
        for name, value in self.raw_headers:
            if name == "Via":
                vias.extend(v.strip() for v in value.split(","))
            first.setdefault(name, value)
        for name, value in first.items():
            if name == "Via":
                continue
            if name in ("WWW-Authenticate", "Proxy-Authenticate"):
                self.headers[name] = value  # read with challenge()
                continue
            if name in ("From", "To"):
                self.headers[name] = _name_addr(value)  # pyVoIP's reader fails on tel: and sips: URIs
                continue
            try:
                self.parse_header(name, value)
            except Exception:  # noqa: BLE001 - a header pyVoIP cannot read: keep it raw
                self.headers[name] = value
        self.parse_header("Via", vias)
        if body and self.headers.get("Content-Type", "").lower().startswith("application/sdp"):
            self.headers["Content-Type"] = "application/sdp"
            self.parse_raw_body(body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").strip(), self.parse_body)

    def header(self, name: str) -> str | None:
        for key, value in self.raw_headers:
            if key == name:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        values: list[str] = []
        for key, value in self.raw_headers:
            if key == name:
                values.extend(_split_commas(value))
        return values

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID", "")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.header("CSeq") or "0 ?").partition(" ")
        return int(number), method.strip()

    @property
    def top_branch(self) -> str | None:
        vias = self.headers.get("Via") or []
        return vias[0].get("branch") if vias else None

    def tag(self, header: str) -> str:
        return _name_addr(self.header(header) or "")["tag"] or ""

    def user(self, header: str) -> str:
        """The user part of a From/To/Contact URI: the number ("" when there is none)."""
        value = self.header(header)
        if not value:
            return ""
        return _name_addr(value)["number"] or ""

    def contact_uri(self) -> str | None:
        value = self.header("Contact")
        return _uri_of(value) if value else None


_COMPACT = {"i": "Call-ID", "v": "Via", "f": "From", "t": "To", "m": "Contact", "l": "Content-Length",
            "c": "Content-Type", "r": "Refer-To", "b": "Referred-By", "o": "Event", "k": "Supported"}
_SPELLING = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}


def _canonical_header(name: str) -> str:
    if len(name) == 1 and name.lower() in _COMPACT:
        return _COMPACT[name.lower()]
    lower = name.lower()
    return _SPELLING.get(lower) or "-".join(p.capitalize() for p in lower.split("-"))


def _split_commas(value: str) -> list[str]:
    """Split a header on commas that are outside <...> and quotes."""
    parts, depth, quoted, current = [], 0, False, ""
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _name_addr(value: str) -> dict[str, str | None]:
    """A From/To header the way pyVoIP keeps it (``raw`` is the value without its tag)."""
    value = value.strip()
    if ">" in value:
        cut = value.rindex(">") + 1
        head, params = value[:cut], value[cut:]
    else:
        head, sep, params = value.partition(";")
        params = sep + params
    tag, kept = "", []
    for param in filter(None, (p.strip() for p in params.split(";"))):
        if param.lower().startswith("tag="):
            tag = param[4:]
        else:
            kept.append(";" + param)
    uri = _uri_of(value)
    scheme, _, address = uri.partition(":")
    user, _, host = address.rpartition("@")
    number = user or (address.split(";")[0] if scheme.lower() == "tel" else "")
    caller = value.split("<", 1)[0].strip().strip('"') if "<" in value else ""
    return {"raw": head + "".join(kept), "tag": tag, "address": address, "number": number or None,
            "caller": caller, "host": host or address}


def _uri_of(value: str) -> str:
    """The URI of a name-addr (``"x" <sip:a@b>;tag=1``) or addr-spec (``sip:a@b;tag=1``)."""
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def uri_destination(uri: str) -> tuple[str, int]:
    """Host and port a SIP URI points at (no DNS SRV: host as written, 5060 by default)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    hostport = rest.rsplit("@", 1)[-1]
    host, _, port = hostport.partition(":")
    return host, int(port) if port else 5060


def parse_challenge(value: str) -> dict[str, str]:
    value = re.sub(r"^\s*Digest\s+", "", value, flags=re.IGNORECASE)
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)\s*=\s*("[^"]*"|[^\s,]+)', value)}


def digest_header(challenge: dict[str, str], *, username: str, password: str, method: str, uri: str,
                  cnonce: str | None = None) -> str:
    """The value of an Authorization / Proxy-Authorization header answering a digest challenge."""
    algorithm = challenge.get("algorithm", "MD5")
    if algorithm.upper() not in ("MD5", "MD5-SESS"):
        raise SIP.InvalidAccountInfoError(f"unsupported digest algorithm {algorithm}")
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf8")).hexdigest()

    ha1 = md5(f"{username}:{realm}:{password}")
    cnonce = cnonce or random_token(8)
    if algorithm.upper() == "MD5-SESS":
        ha1 = md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = md5(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in qops:
        nc = "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        parts += [f'response="{response}"', f"algorithm={algorithm}", "qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
        parts += [f'response="{response}"', f"algorithm={algorithm}"]
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


# --------------------------------------------------------------------------------------------------
# RTP


class RtpStream(RTP.RTPClient):
    """pyVoIP's RTP client with PCMA encoded as PCMA and RFC 2833 DTMF in the outgoing stream."""

    TICK = 0.02  # one 20 ms packet (160 samples at 8 kHz)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # one item per 20 ms tick: (telephone-event payload, first packet of the event), or None (a pause)
        self._events: deque[tuple[bytes, bool] | None] = deque()
        self._events_lock = threading.Lock()

    def start(self) -> None:
        try:
            super().start()
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
            self.inIP = "0.0.0.0"
            super().start()

    @property
    def event_payload_type(self) -> int | None:
        """The telephone-event payload type the far end's SDP gave (101 is only a habit)."""
        for pt, kind in self.assoc.items():
            if kind == RTP.PayloadType.EVENT:
                return int(pt)
        return None

    def encode_packet(self, payload: bytes) -> bytes:
        if self.preference == RTP.PayloadType.PCMA:
            return self.encode_pcma(payload)
        if self.preference == RTP.PayloadType.PCMU:
            return self.encode_pcmu(payload)
        raise RTP.RTPParseError(f"Unsupported codec (encode): {self.preference}")

    def send_dtmf(self, digits: str, *, tone_ms: int = 100, gap_ms: int = 60, volume: int = 10) -> None:
        """Queue RFC 4733 (2833) events: one per digit, ``tone_ms`` long, the end packet sent three times."""
        if self.event_payload_type is None:
            raise ValueError("the other side did not offer telephone-event")
        ticks = max(1, tone_ms // 20)
        items: list[tuple[bytes, bool] | None] = []
        for digit in digits:
            event = DTMF_EVENTS[digit.upper()]
            for n in range(1, ticks + 1):
                end_bit = 0x80 if n == ticks else 0
                payload = bytes([event, end_bit | (volume & 0x3F)]) + (n * 160).to_bytes(2, "big")
                items.append((payload, n == 1))
            items.extend([(payload, False)] * 2)  # the end packet twice more (RFC 4733 2.5.1.4)
            items.extend([None] * max(1, gap_ms // 20))
        with self._events_lock:
            self._events.extend(items)

    @property
    def dtmf_pending(self) -> bool:
        with self._events_lock:
            return bool(self._events)

    def _next_event(self) -> tuple[bytes, bool] | None:
        with self._events_lock:
            return self._events.popleft() if self._events else None

    def trans(self) -> None:
        """One packet every 20 ms: audio, or a telephone-event packet in its place (same SSRC and sequence)."""
        event_ts = self.outTimestamp
        next_at = time.monotonic()
        while self.NSD:
            audio = self.pmout.read()  # consumed even under a tone, so the voice does not lag behind
            item = self._next_event()
            if item is not None:
                payload, first = item
                if first:
                    event_ts = self.outTimestamp
                header = bytes([0x80, (0x80 if first else 0) | (self.event_payload_type or 101)])
                timestamp = event_ts
            else:
                payload = self.encode_packet(audio)
                header = bytes([0x80, int(self.preference) & 0x7F])
                timestamp = self.outTimestamp
            packet = (header + self.outSequence.to_bytes(2, "big") + timestamp.to_bytes(4, "big")
                      + (self.outSSRC & 0xFFFFFFFF).to_bytes(4, "big") + payload)
            try:
                self.sout.sendto(packet, (self.outIP, self.outPort))
            except OSError:
                if not self.NSD:
                    break
            self.outSequence = (self.outSequence + 1) & 0xFFFF
            self.outTimestamp = (self.outTimestamp + 160) & 0xFFFFFFFF
            now = time.monotonic()
            next_at = max(next_at + self.TICK, now - 0.1)  # after a stall, catch up a little, not in a burst
            time.sleep(max(0.0, next_at - now))

    def stop(self) -> None:
        self.NSD = False
        for sock in {getattr(self, "sin", None), getattr(self, "sout", None)}:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass


# --------------------------------------------------------------------------------------------------
# Transport: socket, receive thread, client transactions, registration


class RegistrationRefused(Exception):
    """The registrar answered with an error that is not about the credentials (e.g. 503)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


@dataclass
class ClientTransaction:
    branch: str
    method: str
    data: bytes
    dest: tuple[str, int]
    on_response: Callable[[SipMessage], None]
    on_timeout: Callable[[], None] | None = None
    started: float = field(default_factory=time.monotonic)
    interval: float = 0.5
    next_at: float = 0.0
    responded: bool = False  # any response: stop retransmitting an INVITE
    final: bool = False


class SipTransport(SIP.SIPClient):
    """pyVoIP's SIP client reduced to what it gets right, with the socket handled by one thread."""

    def __init__(self, *args: Any, expires: int = 300, timeout: float = 8.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_expires = expires
        self.register_timeout = timeout  # REGISTER and non-INVITE transactions give up after this
        self.transaction_timeout = timeout
        self.on_request: Callable[[SipMessage], None] = lambda message: None
        self.on_registration: Callable[[bool, str], None] = lambda ok, why: None
        self._transactions: dict[tuple[str, str], ClientTransaction] = {}
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.register_call_id = self.gen_call_id()
        self.register_tag = self.gen_tag()
        self._register_cseq = 0
        self._register_timer: threading.Timer | None = None
        self.registered = False

    # ---- identifiers (pyVoIP's are a counter hashed: the same on every start) ----
    def gen_call_id(self) -> str:
        return f"{random_token(16)}@{self.myIP}"

    def gen_tag(self) -> str:
        return random_token(6)

    def gen_branch(self, length: int = 32) -> str:
        return "z9hG4bK" + random_token(12)

    @property
    def aor(self) -> str:
        return f"sip:{self.username}@{self.server}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.username}@{self.myIP}:{self.myPort}>"

    def via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.myIP}:{self.myPort};branch={branch};rport"

    # ---- socket ----
    def start(self) -> None:
        if self.NSD:
            raise RuntimeError("SIP transport already started")
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.s.bind((self.myIP, self.myPort))
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                self.s.close()
                raise
            self.s.bind(("0.0.0.0", self.myPort))
        self.out = self.s
        self.NSD = True
        self._stopping.clear()
        for target, name in ((self.recv_loop, "tscrm-sip-recv"), (self._retransmit_loop, "tscrm-sip-timers")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.register()

    def stop(self) -> None:
        if not self.NSD:
            return
        if self._register_timer is not None:
            self._register_timer.cancel()
        if self.registered:
            try:
                self.register(expires=0, timeout=min(self.register_timeout, 2.0))
            except Exception as exc:  # noqa: BLE001 - de-registration is best effort
                log.info("de-registration failed: %s", exc)
        self.registered = False
        self._stopping.set()
        self.NSD = False
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2)
        self._threads.clear()
        self._close_sockets()

    def send(self, data: str | bytes, dest: tuple[str, int]) -> None:
        raw = data.encode("utf8") if isinstance(data, str) else data
        try:
            self.s.sendto(raw, dest)
        except OSError as exc:
            if self.NSD:
                log.warning("SIP send to %s failed: %s", dest, exc)

    def recv_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self.s], [], [], 0.1)
                if not ready:
                    continue
                raw, source = self.s.recvfrom(65535)
            except (OSError, ValueError):
                if self._stopping.is_set():
                    return
                time.sleep(0.05)
                continue
            if not raw.strip():
                continue  # keep-alive
            try:
                message = SipMessage(raw)
            except Exception as exc:  # noqa: BLE001 - a garbled datagram must not stop the phone
                log.debug("unparsable SIP datagram from %s: %s", source, exc)
                continue
            message.source = source  # type: ignore[attr-defined]
            try:
                self.parse_message(message)
            except Exception:
                log.exception("error handling %s", message.heading)

    def parse_message(self, message: SipMessage) -> None:  # type: ignore[override]
        if message.type == SIP.SIPMessageType.RESPONSE:
            key = (message.top_branch or "", message.cseq[1])
            with self._lock:
                tx = self._transactions.get(key)
                if tx is not None:
                    tx.responded = True
                    if message.code >= 200:
                        tx.final = True
            if tx is None:
                self.on_stray_response(message)
            else:
                tx.on_response(message)
            return
        self.on_request(message)

    def on_stray_response(self, message: SipMessage) -> None:
        log.debug("response without a transaction: %s", message.heading)

    # ---- client transactions ----
    def transact(self, method: str, data: str, branch: str, dest: tuple[str, int],
                 on_response: Callable[[SipMessage], None], on_timeout: Callable[[], None] | None = None) -> None:
        tx = ClientTransaction(branch, method, data.encode("utf8"), dest, on_response, on_timeout)
        tx.next_at = tx.started + tx.interval
        with self._lock:
            self._transactions[(branch, method)] = tx
        self.send(tx.data, dest)

    def forget(self, branch: str, method: str) -> None:
        with self._lock:
            self._transactions.pop((branch, method), None)

    def _retransmit_loop(self) -> None:
        """RFC 3261 timers A/B and E/F, roughly: resend until answered, give up after the timeout."""
        while not self._stopping.wait(0.1):
            now = time.monotonic()
            expired, resend = [], []
            with self._lock:
                for key, tx in list(self._transactions.items()):
                    if tx.final:
                        if now - tx.started > 64:  # keep INVITE ones a while for 2xx retransmissions
                            del self._transactions[key]
                        continue
                    if now - tx.started > self.transaction_timeout and not (tx.method == "INVITE" and tx.responded):
                        del self._transactions[key]
                        expired.append(tx)
                        continue
                    if tx.responded and tx.method == "INVITE":
                        continue
                    if now >= tx.next_at:
                        tx.interval = tx.interval * 2 if tx.method == "INVITE" else min(tx.interval * 2, 4.0)
                        tx.next_at = now + tx.interval
                        resend.append(tx)
            for tx in resend:
                self.send(tx.data, tx.dest)
            for tx in expired:
                if tx.on_timeout is not None:
                    try:
                        tx.on_timeout()
                    except Exception:
                        log.exception("timeout handler failed")

    def request_and_wait(self, build: Callable[[str, dict[str, str]], str], method: str, dest: tuple[str, int],
                         timeout: float, uri: str) -> SipMessage:
        """Send a request, answer one 401 and one 407 challenge, return the final response."""
        extra: dict[str, str] = {}
        answered: set[int] = set()
        while True:
            done, box, on_response = final_response_waiter()
            branch = self.gen_branch()
            self.transact(method, build(branch, extra), branch, dest, on_response, done.set)
            if not done.wait(timeout) or not box:
                self.forget(branch, method)
                raise TimeoutError(f"no answer from SIP server {self.server}:{self.port} to {method}")
            self.forget(branch, method)
            response = box[0]
            if response.code in (401, 407) and response.code not in answered:
                answered.add(response.code)
                header = "WWW-Authenticate" if response.code == 401 else "Proxy-Authenticate"
                challenge = parse_challenge(response.header(header) or "")
                name = "Authorization" if response.code == 401 else "Proxy-Authorization"
                extra[name] = digest_header(challenge, username=self.username, password=self.password,
                                            method=method, uri=uri)
                continue
            return response

    # ---- registration ----
    def register(self, expires: int | None = None, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Register (or with ``expires=0`` de-register) and wait for the answer.

        Raises ``InvalidAccountInfoError`` when the server refuses the credentials, ``TimeoutError``
        when it does not answer.
        """
        expires = self.default_expires if expires is None else expires
        uri = f"sip:{self.server}"

        def build(branch: str, extra: dict[str, str]) -> str:
            self._register_cseq += 1
            headers = [
                ("Via", self.via(branch)),
                ("Max-Forwards", "70"),
                ("From", f"<{self.aor}>;tag={self.register_tag}"),
                ("To", f"<{self.aor}>"),
                ("Call-ID", self.register_call_id),
                ("CSeq", f"{self._register_cseq} REGISTER"),
                ("Contact", self.contact),
                ("Expires", str(expires)),
                ("Allow", ALLOW),
                ("User-Agent", USER_AGENT),
                *extra.items(),
            ]
            return build_message(f"REGISTER {uri} SIP/2.0", headers)

        response = self.request_and_wait(build, "REGISTER", (self.server, self.port), timeout or self.register_timeout, uri)
        if 200 <= response.code < 300:
            self.registered = expires > 0
            if expires > 0:
                self.phone._status = PhoneStatus.REGISTERED
                self._schedule_register(_refresh_delay(_granted_expires(response, expires)))
            return True
        min_expires = response.header("Min-Expires") or ""
        if response.code == 423 and min_expires.isdigit() and 0 < expires < int(min_expires):
            self.default_expires = int(min_expires)  # 423 Interval Too Brief: ask for what it allows
            return self.register(self.default_expires, timeout)
        if response.code in (401, 403, 404, 407):
            raise SIP.InvalidAccountInfoError(f"{response.code} {response.reason}")
        raise RegistrationRefused(response.code, response.reason)

    def _schedule_register(self, delay: float) -> None:
        if not self.NSD:
            return
        timer = threading.Timer(delay, self._refresh)
        timer.daemon = True
        timer.name = "tscrm-sip-register"
        self._register_timer = timer
        timer.start()

    def _refresh(self) -> None:
        if not self.NSD:
            return
        try:
            self.register()
            self.on_registration(True, "")
        except Exception as exc:  # noqa: BLE001 - keep trying; the status says it is down
            self.registered = False
            self.phone._status = PhoneStatus.FAILED
            self.on_registration(False, str(exc))
            self._schedule_register(min(30.0, max(1.0, self.default_expires / 2)))


def final_response_waiter() -> tuple[threading.Event, list[SipMessage], Callable[[SipMessage], None]]:
    """An event set by the first final response, the list it lands in, and the handler to pass."""
    done = threading.Event()
    box: list[SipMessage] = []

    def on_response(message: SipMessage) -> None:
        if message.code >= 200 and not box:
            box.append(message)
            done.set()

    return done, box, on_response


def _granted_expires(response: SipMessage, asked: int) -> int:
    contact = response.header("Contact") or ""
    match = re.search(r"expires=(\d+)", contact)
    if match:
        return int(match.group(1))
    value = response.header("Expires")
    return int(value) if value and value.isdigit() else asked


def _refresh_delay(expires: int) -> float:
    return max(1.0, expires - 5 if expires > 20 else expires * 0.75)


def build_message(start_line: str, headers: list[tuple[str, str]], body: str = "",
                  content_type: str | None = None) -> str:
    lines = [start_line, *(f"{name}: {value}" for name, value in headers)]
    if body:
        lines.append(f"Content-Type: {content_type or 'application/sdp'}")
    lines.append(f"Content-Length: {len(body.encode('utf8'))}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def response_destination(request: SipMessage) -> tuple[str, int]:
    """RFC 3261 18.2.2 / RFC 3581: answer to the top Via (received= and rport= when present)."""
    via = request.headers["Via"][0]
    host = via.get("received") or via["address"][0]
    rport = via.get("rport")
    if rport:
        return host, int(rport)
    source = getattr(request, "source", None)
    if "rport" in via and source:
        return source
    return host, int(via["address"][1])


# --------------------------------------------------------------------------------------------------
# Calls


class SipCall(_voip.VoIPCall):
    """One call and its dialog. State changes go through ``SipPhone`` (under its lock)."""

    def __init__(self, phone: SipPhone, state: Any, request: SipMessage, session_id: int, my_ip: str,
                 *, outbound: bool, number: str, ms: dict | None = None, sendmode: str = "sendrecv") -> None:
        self.outbound = outbound
        self.number = number
        self.local_tag = ""
        self.remote_tag = ""
        self.local_uri = ""
        self.remote_uri = ""  # the From/To header value of the far end, without tag
        self.remote_target = ""
        self.route_set: list[str] = []
        self.local_cseq = 0
        self.invite_uri = ""
        self.invite_branch = ""
        self.invite_cseq = 0
        self.invite_body = ""
        self.auth_tried: set[int] = set()
        self.auth_headers: dict[str, str] = {}
        self.provisional = False
        self.ringing = False
        self.cancel_wanted = False
        self.cancel_sent = False
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.outcome_code: int | None = None
        self.refer_done = threading.Event()
        self.refer_result: tuple[int, str] | None = None
        self.timers: list[threading.Timer] = []
        self.muted = False
        self.acked = False
        self.answer_data = ""
        super().__init__(phone, state, request, session_id, my_ip, ms=ms, sendmode=sendmode)
        if not outbound:
            self.assignedPorts = {client.inPort: client.assoc for client in self.RTPClients}

    def create_rtp_clients(self, codecs: dict, ip: str, port: int, request: Any, baseport: int) -> None:
        for index, connection in enumerate(request.body["c"]):
            self.RTPClients.append(RtpStream(codecs, ip, port, connection["address"], baseport + index,
                                             self.sendmode, dtmf=self.dtmf_callback))

    @property
    def codec(self) -> str | None:
        return str(self.RTPClients[0].preference) if self.RTPClients else None

    def stop_media(self) -> None:
        for client in self.RTPClients:
            if client.NSD and hasattr(client, "sin"):
                client.stop()
            client.NSD = False

    def write_audio(self, data: bytes) -> None:
        if self.state == CallState.ANSWERED:
            super().write_audio(data)

    def read_audio(self, length: int = 160, blocking: bool = False) -> bytes:
        if self.state != CallState.ANSWERED or not self.RTPClients:
            return b"\x80" * length
        return super().read_audio(length, blocking)

    def __del__(self) -> None:  # pyVoIP's releases ports from a finalizer: we do it when the call ends
        pass


EventHandler = Callable[[SipCall, str, int | None, str], None]


class SipPhone(_voip.VoIPPhone):
    """pyVoIP's phone with our transport and call handling.

    ``on_event(call, kind, status_code, reason)`` reports: ``incoming``, ``ringing``, ``answered``,
    ``ended`` (then ``call.outcome`` is set). It runs on the receive or a timer thread.
    """

    def __init__(self, server: str, port: int, username: str, password: str, *, my_ip: str, sip_port: int,
                 rtp_low: int, rtp_high: int, expires: int = 300, timeout: float = 8.0,
                 on_event: EventHandler | None = None,
                 accept_incoming: Callable[[SipMessage], tuple[int, str] | None] | None = None) -> None:
        super().__init__(server, port, username, password, myIP=my_ip, callCallback=None, sipPort=sip_port,
                         rtpPortLow=rtp_low, rtpPortHigh=rtp_high)
        self.sip = SipTransport(server, port, username, password, phone=self, myIP=my_ip, myPort=sip_port,
                                callCallback=None, fatalCallback=self.fatal, expires=expires, timeout=timeout)
        self.sip.on_request = self.on_request
        self.sip.on_stray_response = self.on_stray_response
        self.on_event: EventHandler = on_event or (lambda call, kind, code, reason: None)
        self.accept_incoming = accept_incoming or (lambda message: None)
        self.lock = threading.RLock()
        self.calls: dict[str, SipCall] = {}  # type: ignore[assignment]

    # ---- life cycle ----
    def stop(self, failed: bool = False) -> None:
        for call in list(self.calls.values()):
            try:
                self.hang_up(call)
            except Exception:
                log.exception("hang-up during stop failed")
        deadline = time.monotonic() + 1.0  # a cancelled call waits for its 487
        while self.calls and time.monotonic() < deadline:
            time.sleep(0.02)
        for call in list(self.calls.values()):
            self._end(call, "answered" if call.answered_at else "no_answer", None, "phone closed")
        self._status = PhoneStatus.DEREGISTERING
        self.sip.stop()
        self._status = PhoneStatus.FAILED if failed else PhoneStatus.INACTIVE

    # ---- helpers ----
    def _new_session_id(self) -> int:
        return secrets.randbelow(2**31 - 1) + 1

    def _sdp_offer(self, port: int, session_id: int, codecs: dict[int, RTP.PayloadType]) -> str:
        lines = ["v=0", f"o=tscrm {session_id} {session_id} IN IP4 {self.myIP}", "s=tscrm",
                 f"c=IN IP4 {self.myIP}", "t=0 0", f"m=audio {port} RTP/AVP " + " ".join(str(pt) for pt in codecs)]
        for pt, kind in codecs.items():
            lines.append(f"a=rtpmap:{pt} {kind}/{kind.rate}")
            if kind == RTP.PayloadType.EVENT:
                lines.append(f"a=fmtp:{pt} 0-15")
        lines += ["a=ptime:20", "a=sendrecv"]
        return "\r\n".join(lines) + "\r\n"

    def _in_dialog(self, call: SipCall, method: str, branch: str, cseq: int, extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
                   body: str = "", content_type: str | None = None) -> tuple[str, tuple[str, int]]:
        """A request inside the call's dialog, and where to send it (first loose route, else target)."""
        uri = call.remote_target or call.invite_uri
        headers = [("Via", self.sip.via(branch)), ("Max-Forwards", "70")]
        headers += [("Route", route) for route in call.route_set]
        headers += [
            ("From", f"{call.local_uri};tag={call.local_tag}"),
            ("To", f"{call.remote_uri};tag={call.remote_tag}" if call.remote_tag else call.remote_uri),
            ("Call-ID", call.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", self.sip.contact),
            ("User-Agent", USER_AGENT),
            *extra,
        ]
        dest = uri_destination(_uri_of(call.route_set[0])) if call.route_set else uri_destination(uri)
        return build_message(f"{method} {uri} SIP/2.0", headers, body, content_type), dest

    def respond(self, request: SipMessage, code: int, reason: str, *, to_tag: str | None = None,
                extra: list[tuple[str, str]] = (), body: str = "", content_type: str | None = None) -> None:  # type: ignore[assignment]
        headers = [("Via", via) for via in request.header_values("Via")]
        to = request.header("To") or ""
        if to_tag and ";tag=" not in to.replace(" ", ""):
            to = f"{to};tag={to_tag}"
        headers += [("From", request.header("From") or ""), ("To", to), ("Call-ID", request.call_id),
                    ("CSeq", request.header("CSeq") or ""), ("User-Agent", USER_AGENT), *extra]
        self.sip.send(build_message(f"SIP/2.0 {code} {reason}", headers, body, content_type),
                      response_destination(request))

    def _emit(self, call: SipCall, kind: str, code: int | None = None, reason: str = "") -> None:
        try:
            self.on_event(call, kind, code, reason)
        except Exception:
            log.exception("call event listener failed")

    def _after(self, call: SipCall, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.name = "tscrm-sip-call-timer"
        call.timers.append(timer)
        timer.start()

    def _end(self, call: SipCall, outcome: str, code: int | None, reason: str) -> None:
        """Mark the call ended once, release its media and report it."""
        with self.lock:
            if call.state == CallState.ENDED:
                return
            call.state = CallState.ENDED
            call.ended_at = time.monotonic()
            call.outcome = outcome  # type: ignore[attr-defined]
            call.outcome_code = code
            self.calls.pop(call.call_id, None)
        for timer in call.timers:
            timer.cancel()
        call.stop_media()
        with self.portsLock:
            for port in list(call.assignedPorts):
                if port in self.assignedPorts:
                    self.assignedPorts.remove(port)
        call.assignedPorts = {}
        call.refer_done.set()
        self._emit(call, "ended", code, reason)

    # ---- outbound ----
    def call(self, number: str, *, ring_timeout: float | None = None) -> SipCall:  # type: ignore[override]
        port = self.request_port()
        codecs = {0: RTP.PayloadType.PCMU, 8: RTP.PayloadType.PCMA, 101: RTP.PayloadType.EVENT}
        session_id = self._new_session_id()
        call_id = self.sip.gen_call_id()
        local_tag = self.sip.gen_tag()
        uri = f"sip:{number}@{self.server}"
        body = self._sdp_offer(port, session_id, codecs)
        placeholder = SipMessage(build_message(f"INVITE {uri} SIP/2.0", [("Call-ID", call_id)]).encode())
        call = SipCall(self, CallState.DIALING, placeholder, session_id, self.myIP, outbound=True, number=number,
                       ms={port: codecs}, sendmode=self.sendmode)
        call.local_tag, call.local_uri = local_tag, f"<{self.sip.aor}>"
        call.remote_uri, call.invite_uri, call.invite_body = f"<{uri}>", uri, body
        with self.lock:
            self.calls[call_id] = call
        self._send_invite(call, {})
        if ring_timeout:
            self._after(call, ring_timeout, lambda: self._ring_timeout(call))
        return call

    def _send_invite(self, call: SipCall, auth: dict[str, str]) -> None:
        call.local_cseq += 1
        call.invite_cseq = call.local_cseq
        call.invite_branch = self.sip.gen_branch()  # a new branch for every INVITE, also after a challenge
        headers = [
            ("Via", self.sip.via(call.invite_branch)),
            ("Max-Forwards", "70"),
            ("From", f"{call.local_uri};tag={call.local_tag}"),
            ("To", call.remote_uri),
            ("Call-ID", call.call_id),
            ("CSeq", f"{call.invite_cseq} INVITE"),
            ("Contact", self.sip.contact),
            ("Allow", ALLOW),
            ("User-Agent", USER_AGENT),
            *auth.items(),
        ]
        data = build_message(f"INVITE {call.invite_uri} SIP/2.0", headers, call.invite_body)
        call.request = SipMessage(data.encode("utf8"))
        self.sip.transact("INVITE", data, call.invite_branch, (self.server, self.port),
                          lambda message: self._on_invite_response(call, message),
                          lambda: self._end(call, "no_answer" if call.provisional else "failed", 408, "Request Timeout"))

    def _ack_failure(self, call: SipCall, response: SipMessage) -> None:
        """ACK of a non-2xx final answer: same branch as the INVITE, To with the answer's tag."""
        headers = [("Via", self.sip.via(call.invite_branch)), ("Max-Forwards", "70"),
                   ("From", f"{call.local_uri};tag={call.local_tag}"), ("To", response.header("To") or call.remote_uri),
                   ("Call-ID", call.call_id), ("CSeq", f"{call.invite_cseq} ACK"), ("User-Agent", USER_AGENT)]
        self.sip.send(build_message(f"ACK {call.invite_uri} SIP/2.0", headers), (self.server, self.port))

    def _ack_success(self, call: SipCall, cseq: int) -> None:
        """ACK of a 2xx: a new transaction inside the dialog, to the remote target (Contact)."""
        data, dest = self._in_dialog(call, "ACK", self.sip.gen_branch(), cseq)
        self.sip.send(data, dest)

    def _on_invite_response(self, call: SipCall, response: SipMessage) -> None:
        code = response.code
        if response.cseq[0] != call.invite_cseq:
            if 200 <= code < 300:  # a late 2xx to a challenged INVITE: acknowledge, then leave
                self._ack_success(call, response.cseq[0])
            return
        if code < 200:
            with self.lock:
                call.provisional = True
                announce = code in (180, 183) and not call.ringing and call.state == CallState.DIALING
                if announce:
                    call.ringing = True
                cancel = call.cancel_wanted and not call.cancel_sent
            if cancel:
                self._send_cancel(call)
            elif announce:
                self._emit(call, "ringing", code, response.reason)
            return
        if code < 300:
            self._on_invite_success(call, response)
            return
        self._ack_failure(call, response)
        if code in (401, 407) and code not in call.auth_tried and call.state != CallState.ENDED and not call.cancel_wanted:
            call.auth_tried.add(code)
            header = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
            name = "Authorization" if code == 401 else "Proxy-Authorization"
            # keep an earlier answer (a proxy and a registrar may both challenge)
            call.auth_headers[name] = digest_header(
                parse_challenge(response.header(header) or ""), username=self.username, password=self.password,
                method="INVITE", uri=call.invite_uri)
            self._send_invite(call, call.auth_headers)
            return
        self._end(call, "no_answer" if call.cancel_sent else outcome_for(code), code, f"{code} {response.reason}")

    def _on_invite_success(self, call: SipCall, response: SipMessage) -> None:
        with self.lock:
            first = call.state == CallState.DIALING and not call.cancel_sent and not call.cancel_wanted
            if call.state == CallState.DIALING:
                call.remote_tag = response.tag("To")
                call.remote_target = response.contact_uri() or call.invite_uri
                call.route_set = list(reversed(response.header_values("Record-Route")))
        if not first:
            self._ack_success(call, response.cseq[0])
            if call.state != CallState.ANSWERED and (call.cancel_sent or call.cancel_wanted):
                # answered while we were cancelling: take the call down
                self._bye(call)
                self._end(call, "no_answer", 487, "cancelled")
            return
        try:
            call.answered(response)
        except Exception as exc:  # noqa: BLE001 - no usable SDP: hang up rather than keep a silent call
            log.warning("answer without usable SDP: %s", exc)
            self._ack_success(call, response.cseq[0])
            self._bye(call)
            self._end(call, "failed", 488, "no common codec")
            return
        self._ack_success(call, response.cseq[0])
        with self.lock:
            hung_up_meanwhile = call.cancel_wanted  # hang_up() ran while the answer was being set up
            call.answered_at = time.monotonic()
        if hung_up_meanwhile:
            self._bye(call)
            self._end(call, "no_answer", 487, "cancelled")
            return
        for timer in call.timers:
            timer.cancel()
        self._emit(call, "answered", response.code, response.reason)

    def _ring_timeout(self, call: SipCall) -> None:
        if call.state == CallState.DIALING:
            call.ring_timed_out = True  # type: ignore[attr-defined]
            self.hang_up(call)

    def _send_cancel(self, call: SipCall) -> None:
        call.cancel_sent = True
        headers = [("Via", self.sip.via(call.invite_branch)), ("Max-Forwards", "70"),
                   ("From", f"{call.local_uri};tag={call.local_tag}"), ("To", call.remote_uri),
                   ("Call-ID", call.call_id), ("CSeq", f"{call.invite_cseq} CANCEL"), ("User-Agent", USER_AGENT)]
        data = build_message(f"CANCEL {call.invite_uri} SIP/2.0", headers)
        self.sip.transact("CANCEL", data, call.invite_branch, (self.server, self.port), lambda message: None)
        # the 487 ends the call; if the far end never sends it, end it anyway
        self._after(call, self.sip.transaction_timeout, lambda: self._end(call, "no_answer", None, "cancelled"))

    # ---- either direction ----
    def hang_up(self, call: SipCall) -> None:
        """End the call whatever its state: CANCEL, decline (603) or BYE."""
        with self.lock:
            state = call.state
            if state == CallState.ENDED:
                return
            if state == CallState.DIALING:
                call.cancel_wanted = True
                send_cancel = call.provisional and not call.cancel_sent
            else:
                send_cancel = False
        if state == CallState.DIALING:
            if send_cancel:
                self._send_cancel(call)
            elif not call.provisional:  # nothing heard yet: a CANCEL must wait for a provisional answer
                self._after(call, self.sip.transaction_timeout, lambda: self._end(call, "no_answer", None, "cancelled"))
            return
        if state == CallState.RINGING:
            self.respond(call.request, 603, "Decline", to_tag=call.local_tag)  # type: ignore[arg-type]
            self._end(call, "rejected", 603, "declined")
            return
        self._bye(call)
        self._end(call, "answered", None, "hung up")

    def _bye(self, call: SipCall) -> None:
        call.local_cseq += 1
        branch = self.sip.gen_branch()
        data, dest = self._in_dialog(call, "BYE", branch, call.local_cseq)
        self.sip.transact("BYE", data, branch, dest, lambda message: None)

    def answer_call(self, call: SipCall) -> None:
        with self.lock:
            if call.state != CallState.RINGING:
                raise _voip.InvalidStateError("Call is not ringing")
            media = call.gen_ms()
            data = self.sip.gen_answer(call.request, call.session_id, media, call.sendmode)
            call.answer_data = data
            call.state = CallState.ANSWERED
        self.sip.send(data, response_destination(call.request))  # type: ignore[arg-type]
        call.answered_at = time.monotonic()
        self._after(call, 0.5, lambda: self._resend_answer(call, 0.5))
        self._emit(call, "answered", 200, "OK")

    def _resend_answer(self, call: SipCall, interval: float) -> None:
        """RFC 3261 13.3.1.4: the 200 OK goes again until the ACK comes (UDP loses datagrams)."""
        if call.acked or call.state != CallState.ANSWERED:
            return
        if time.monotonic() - (call.answered_at or 0) > self.sip.transaction_timeout:
            self.hang_up(call)  # no ACK ever: the caller is not there
            return
        self.sip.send(call.answer_data, response_destination(call.request))  # type: ignore[arg-type]
        interval = min(interval * 2, 4.0)
        self._after(call, interval, lambda: self._resend_answer(call, interval))

    def _reinvite(self, call: SipCall, request: SipMessage) -> None:
        """A re-INVITE (hold, media change, session refresh): same media on our side, new far end."""
        media = {client.inPort: client.assoc for client in call.RTPClients}
        self.sip.tagLibrary[call.call_id] = call.local_tag  # pyVoIP's gen_answer reads it
        self.sip.send(self.sip.gen_answer(request, call.session_id, media, call.sendmode),
                      response_destination(request))
        body = request.body
        if "c" in body and "m" in body:
            audio = [m for m in body["m"] if m["type"] == "audio"]
            if audio:
                for index, client in enumerate(call.RTPClients):
                    client.outIP = body["c"][min(index, len(body["c"]) - 1)]["address"]
                    client.outPort = audio[0]["port"] + index

    def refer(self, call: SipCall, target_uri: str, timeout: float) -> tuple[int, str]:
        """Blind transfer: REFER, wait for 202 and the final NOTIFY sipfrag; returns its status."""
        if call.state != CallState.ANSWERED:
            raise _voip.InvalidStateError("Call is not answered")
        done, box, on_response = final_response_waiter()
        call.refer_done.clear()
        call.refer_result = None
        call.local_cseq += 1
        branch = self.sip.gen_branch()
        data, dest = self._in_dialog(call, "REFER", branch, call.local_cseq,
                                     [("Refer-To", f"<{target_uri}>"), ("Referred-By", f"<{self.sip.aor}>")])
        self.sip.transact("REFER", data, branch, dest, on_response, done.set)
        if not done.wait(timeout) or not box:
            return 408, "no answer to REFER"
        response = box[0]
        if response.code >= 300:
            return response.code, response.reason
        # 202 Accepted: the NOTIFY sipfrag says how it went; blind transfer assumes success after a while
        if call.refer_done.wait(timeout) and call.refer_result is not None:
            return call.refer_result
        return 200, "accepted"

    # ---- requests from the network ----
    def on_stray_response(self, message: SipMessage) -> None:
        if message.cseq[1] == "INVITE" and 200 <= message.code < 300:
            call = self.calls.get(message.call_id)
            if call is not None:
                self._ack_success(call, message.cseq[0])

    def on_request(self, request: SipMessage) -> None:
        method = request.method
        call = self.calls.get(request.call_id)
        if method == "INVITE":
            if call is None:
                self._incoming(request)
            elif request.tag("To") and call.state == CallState.ANSWERED:
                self._reinvite(call, request)
            elif not request.tag("To") and not call.outbound:  # a retransmission of the first INVITE
                if call.state == CallState.RINGING:
                    self.respond(request, 180, "Ringing", to_tag=call.local_tag, extra=[("Contact", self.sip.contact)])
                elif call.state == CallState.ANSWERED and call.answer_data:
                    self.sip.send(call.answer_data, response_destination(request))
            return
        if method == "ACK":
            if call is not None:
                call.acked = True
            return
        if method == "BYE":
            if call is None:
                self.respond(request, 481, "Call/Transaction Does Not Exist")
                return
            self.respond(request, 200, "OK")
            self._end(call, "answered" if call.answered_at else "no_answer", None, "remote hung up")
            return
        if method == "CANCEL":
            if call is None or call.state != CallState.RINGING:
                self.respond(request, 481, "Call/Transaction Does Not Exist")
                return
            self.respond(request, 200, "OK", to_tag=call.local_tag)
            self.respond(call.request, 487, "Request Terminated", to_tag=call.local_tag)  # type: ignore[arg-type]
            self._end(call, "no_answer", 487, "caller hung up")
            return
        if method == "NOTIFY":
            unsolicited = (request.header("Event") or "").lower().startswith("message-summary")  # voicemail
            if call is None and not unsolicited:
                self.respond(request, 481, "Call/Transaction Does Not Exist")
                return
            self.respond(request, 200, "OK")
            if call is not None:
                self._on_notify(call, request)
            return
        if method in ("OPTIONS", "INFO"):
            self.respond(request, 200, "OK", extra=[("Allow", ALLOW)])
            return
        self.respond(request, 405, "Method Not Allowed", extra=[("Allow", ALLOW)])

    def _on_notify(self, call: SipCall, request: SipMessage) -> None:
        if not (request.header("Event") or "").lower().startswith("refer"):
            return
        match = re.match(rb"\s*SIP/2\.0\s+(\d{3})\s*([^\r\n]*)", request.raw_body)
        if not match:
            return
        code, reason = int(match.group(1)), match.group(2).decode("utf8", "replace")
        terminated = (request.header("Subscription-State") or "").lower().startswith("terminated")
        if code >= 200 or terminated:
            call.refer_result = (code, reason)
            call.refer_done.set()

    def _incoming(self, request: SipMessage) -> None:
        refusal = self.accept_incoming(request)
        if refusal is not None:
            self.respond(request, refusal[0], refusal[1], to_tag=self.sip.gen_tag())
            return
        if "c" not in request.body or "m" not in request.body:
            self.respond(request, 488, "Not Acceptable Here", to_tag=self.sip.gen_tag())
            return
        number = request.user("From")
        try:
            call = SipCall(self, CallState.RINGING, request, self._new_session_id(), self.myIP, outbound=False,
                           number=number, sendmode=self.recvmode)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot take incoming call: %s", exc)
            self.respond(request, 488, "Not Acceptable Here", to_tag=self.sip.gen_tag())
            return
        if not call.RTPClients or all(
            all(kind == RTP.PayloadType.EVENT for kind in client.assoc.values()) for client in call.RTPClients
        ):
            self.respond(request, 488, "Not Acceptable Here", to_tag=self.sip.gen_tag())
            return
        call.local_tag = self.sip.gen_tag()
        self.sip.tagLibrary[call.call_id] = call.local_tag  # pyVoIP's gen_answer reads it
        call.local_uri = _name_addr(request.header("To") or "")["raw"] or ""
        call.remote_uri = _name_addr(request.header("From") or "")["raw"] or ""
        call.remote_tag = request.tag("From")
        call.remote_target = request.contact_uri() or uri_destination_uri(response_destination(request))
        call.route_set = request.header_values("Record-Route")
        call.local_cseq = secrets.randbelow(10000) + 1
        with self.lock:
            self.calls[call.call_id] = call
        self.respond(request, 180, "Ringing", to_tag=call.local_tag, extra=[("Contact", self.sip.contact)])
        self._emit(call, "incoming", None, "")


def uri_destination_uri(dest: tuple[str, int]) -> str:
    return f"sip:{dest[0]}:{dest[1]}"


def outcome_for(code: int) -> str:
    """The CallOutcome value of a final failure response."""
    if code in (486, 600):
        return "busy"
    if code == 603:
        return "rejected"
    if code in (408, 480, 487):
        return "no_answer"
    return "failed"
