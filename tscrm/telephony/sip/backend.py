"""SIP call backend: tscrm registers the agent's extension and is the phone.

Construction and start. ``SipCallBackend(server=..., username=..., password=..., my_ip=...)`` does
nothing on the network; ``start()`` binds the SIP port and blocks until the registrar accepted the
extension, or raises ``TelephonyError`` (wrong credentials, no answer, port in use). ``my_ip`` goes
into Via, Contact and SDP: the address the PBX can reach (a NAT's public address works when the
NAT forwards the ports); "" or "auto" means the local address that routes to the server. The
registration is refreshed on its own; ``registered`` says whether the last refresh worked.

Threads. The SIP stack runs on its own threads (receive, timers, two RTP threads and one audio
thread per answered call). Listeners are called from ONE dispatcher thread of this backend
("tscrm-sip-events"), in order; they must return quickly, and a UI must hop to its own loop
(Textual: ``app.call_from_thread``). Backend methods may be called from any thread, listeners
included; ``transfer()`` blocks until the far end accepted or refused the transfer (up to
``transfer_timeout`` seconds, twice), so call it from a worker.

Outbound. ``originate()`` sends the INVITE and returns the call id at once; events follow: RINGING
(180/183), ANSWERED, ENDED. ``hang_up()`` cancels a ringing call (outcome NO_ANSWER) or sends BYE.
After ``ring_timeout`` seconds of ringing the call is cancelled as NO_ANSWER. Final failures map to
outcomes: 486/600 BUSY, 603 REJECTED, 408/480/487 NO_ANSWER, anything else FAILED; ``status_code``
and ``reason`` ("486 Busy Here") say what the server answered.

Incoming calls. An INVITE is answered with 180 Ringing and announced as ``CallEvent(kind=INCOMING,
direction=INBOUND, number=<caller>, did=<number called>)``. Then ``answer(call_id)`` takes it and
``hang_up(call_id)`` declines it (603 Decline, outcome REJECTED); if the caller gives up first the
call ENDS as NO_ANSWER (487). ``ring_only_when()`` (e.g. "within working hours") is asked on every
new INVITE, on the SIP receive thread (keep it quick and thread-safe; if it raises, the call rings):
when it returns False the call is refused at once with 480 Temporarily Unavailable, nothing rings,
and one ENDED event (INBOUND, NO_ANSWER, status 480, ``data["refused"] = "outside_hours"``, no
INCOMING before it) lets the call log keep the missed call.

ENDED events carry ``data``: ``duration`` (whole seconds, answered calls), ``codec`` (PCMU/PCMA),
``transferred_to`` (after a blind transfer). A BYE from the far end ends an answered call as
ANSWERED with reason "remote hung up".

Audio. One call at a time has the sound device (the first answered); ``set_muted`` sends silence.
"""

from __future__ import annotations

import logging
import queue
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Self

from tscrm.core.errors import TelephonyError, TelephonyUnsupported, ValidationError
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.core.types import utcnow
from tscrm.i18n import _
from tscrm.telephony.base import (
    AgentLine,
    CallEvent,
    CallEventKind,
    CallListener,
    Capability,
    Listeners,
)
from tscrm.telephony.sip.audio import SILENCE, AudioDevice, NullAudio

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\+?[0-9A-Za-z*#._-]+$")
_EXTENSION = re.compile(r"^[0-9A-Za-z*#._+-]+$")
_DTMF = re.compile(r"^[0-9*#A-Da-d]+$")


class SipCallBackend:
    """``CallBackend`` over SIP (UDP) with pyVoIP; see the module docstring for threads and events."""

    name = "sip"
    capabilities = frozenset(Capability)

    def __init__(
        self,
        *,
        server: str,
        port: int = 5060,
        username: str,
        password: str,
        my_ip: str,
        sip_port: int = 5060,
        rtp_low: int = 10000,
        rtp_high: int = 20000,
        audio: AudioDevice | None = None,
        ring_only_when: Callable[[], bool] | None = None,
        ring_timeout: float = 60.0,
        register_expires: int = 300,
        timeout: float = 8.0,
        transfer_timeout: float = 10.0,
    ) -> None:
        self.server, self.port, self.username = server, port, username
        self._password = password
        self.my_ip, self.sip_port = my_ip, sip_port
        self.rtp_low, self.rtp_high = rtp_low, rtp_high
        self.audio: AudioDevice = audio if audio is not None else NullAudio()
        self.ring_only_when = ring_only_when
        self.ring_timeout = ring_timeout
        self.register_expires = register_expires
        self.timeout = timeout
        self.transfer_timeout = transfer_timeout
        self._listeners: Listeners[CallEvent] = Listeners()
        self._lock = threading.RLock()
        self._events: queue.Queue[CallEvent | None] = queue.Queue()
        self._dispatcher: threading.Thread | None = None
        self._phone = None
        self._pump: _AudioPump | None = None

    # ---- life cycle ----
    @property
    def registered(self) -> bool:
        return bool(self._phone is not None and self._phone.sip.registered)

    def start(self) -> None:
        """Register the extension; raises TelephonyError with the reason when it fails."""
        from tscrm.telephony.sip.phone import SIP, RegistrationRefused, SipPhone

        if self._phone is not None:
            return
        if not self.my_ip or self.my_ip in ("auto", "0.0.0.0"):
            self.my_ip = local_address_towards(self.server, self.port)
        phone = SipPhone(self.server, self.port, self.username, self._password, my_ip=self.my_ip,
                         sip_port=self.sip_port, rtp_low=self.rtp_low, rtp_high=self.rtp_high,
                         expires=self.register_expires, timeout=self.timeout, on_event=self._on_phone_event,
                         accept_incoming=self._accept_incoming)
        where = f"{self.server}:{self.port}"
        try:
            phone.start()
        except SIP.InvalidAccountInfoError as exc:
            raise TelephonyError(
                _("The SIP server {server} refused extension {user}: check the user name and password ({why}).")
                .format(server=where, user=self.username, why=exc)
            ) from exc
        except RegistrationRefused as exc:
            raise TelephonyError(
                _("The SIP server {server} refused to register extension {user}: {why}.")
                .format(server=where, user=self.username, why=exc)
            ) from exc
        except TimeoutError as exc:
            raise TelephonyError(
                _("The SIP server {server} did not answer: check its address and port.").format(server=where)
            ) from exc
        except OSError as exc:
            raise TelephonyError(
                _("Cannot use local SIP address {address}: {error}").format(
                    address=f"{self.my_ip}:{self.sip_port}", error=exc.strerror or exc)
            ) from exc
        phone.sip.on_registration = self._on_registration
        self._phone = phone
        self._dispatcher = threading.Thread(target=self._dispatch, name="tscrm-sip-events", daemon=True)
        self._dispatcher.start()

    def close(self) -> None:
        phone, self._phone = self._phone, None
        if phone is not None:
            try:
                phone.stop()
            except Exception:
                log.exception("SIP phone stop failed")
        self._stop_pump()
        if self._dispatcher is not None:
            self._events.put(None)
            if self._dispatcher is not threading.current_thread():
                self._dispatcher.join(timeout=5)
            self._dispatcher = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- CallBackend ----
    def subscribe(self, listener: CallListener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def originate(self, agent: AgentLine, number: str) -> str:
        phone = self._require_phone()
        dial = re.sub(r"[\s()\-]", "", number or "")
        if not dial or not _NUMBER.match(dial):
            raise ValidationError(_("{number} is not a number that can be dialled.").format(number=number), "number")
        from tscrm.telephony.sip.phone import _voip

        try:
            call = phone.call(dial, ring_timeout=self.ring_timeout)
        except _voip.NoPortsAvailableError as exc:
            raise TelephonyError(
                _("No free RTP port between {low} and {high}.").format(low=self.rtp_low, high=self.rtp_high)
            ) from exc
        call.agent_extension = agent.extension  # type: ignore[attr-defined]
        return call.call_id

    def answer(self, call_id: str) -> None:
        phone = self._require_phone()
        call = self._call(call_id)
        if call.outbound:
            raise TelephonyError(_("Only an incoming call can be answered."))
        from tscrm.telephony.sip.phone import _voip

        try:
            phone.answer_call(call)
        except _voip.InvalidStateError as exc:
            raise TelephonyError(_("The call is no longer ringing.")) from exc
        except OSError as exc:
            raise TelephonyError(_("Cannot open the audio port: {error}").format(error=exc)) from exc

    def hang_up(self, call_id: str) -> None:
        phone = self._phone
        if phone is None:
            return
        call = phone.calls.get(call_id)
        if call is not None:
            phone.hang_up(call)

    def transfer(self, call_id: str, extension: str) -> None:
        phone = self._require_phone()
        call = self._call(call_id)
        target = (extension or "").strip()
        if not target or not _EXTENSION.match(target):
            raise ValidationError(_("{extension} is not an extension.").format(extension=extension), "extension")
        from tscrm.telephony.sip.phone import CallState, _voip

        if call.state != CallState.ANSWERED:
            raise TelephonyError(_("Only an answered call can be transferred."))
        try:
            code, reason = phone.refer(call, f"sip:{target}@{self.server}", self.transfer_timeout)
        except _voip.InvalidStateError as exc:
            raise TelephonyError(_("Only an answered call can be transferred.")) from exc
        if code >= 300:
            raise TelephonyError(
                _("Transfer to {extension} failed: {code} {reason}").format(extension=target, code=code, reason=reason)
            )
        call.transferred_to = target  # type: ignore[attr-defined]
        phone.hang_up(call)

    def send_dtmf(self, call_id: str, digits: str) -> None:
        self._require_phone()
        call = self._call(call_id)
        if not digits or not _DTMF.match(digits):
            raise ValidationError(_("DTMF digits are 0-9, *, # and A-D."), "digits")
        from tscrm.telephony.sip.phone import CallState

        if call.state != CallState.ANSWERED:
            raise TelephonyError(_("Tones can only be sent on an answered call."))
        try:
            for stream in call.RTPClients:
                stream.send_dtmf(digits)
        except ValueError as exc:
            raise TelephonyUnsupported(
                _("The other side does not accept RFC 2833 tones (telephone-event).")
            ) from exc

    def set_muted(self, call_id: str, muted: bool) -> None:
        self._require_phone()
        self._call(call_id).muted = muted

    # ---- internals ----
    def _require_phone(self):
        if self._phone is None:
            raise TelephonyError(_("The SIP phone is not registered: start it first."))
        return self._phone

    def _call(self, call_id: str):
        call = self._require_phone().calls.get(call_id)
        if call is None:
            raise TelephonyError(_("No such call: it has ended."))
        return call

    def _accept_incoming(self, request) -> tuple[int, str] | None:
        check = self.ring_only_when
        try:
            allowed = True if check is None else bool(check())
        except Exception:
            log.exception("ring_only_when failed; letting the call ring")
            allowed = True
        if allowed:
            return None
        self._events.put(CallEvent(
            call_id=request.call_id, kind=CallEventKind.ENDED, direction=CallDirection.INBOUND,
            number=request.user("From"), at=utcnow(), outcome=CallOutcome.NO_ANSWER, status_code=480,
            reason="outside working hours", extension=self.username, did=request.user("To") or None,
            data={"refused": "outside_hours"},
        ))
        return 480, "Temporarily Unavailable"

    def _on_registration(self, ok: bool, why: str) -> None:
        if not ok:
            log.warning("SIP re-registration with %s:%s failed: %s", self.server, self.port, why)

    def _on_phone_event(self, call, kind: str, code: int | None, reason: str) -> None:
        direction = CallDirection.OUTBOUND if call.outbound else CallDirection.INBOUND
        data: dict[str, str] = {}
        did = None
        if not call.outbound:
            did = call.request.user("To") or None
        if call.codec:
            data["codec"] = call.codec
        outcome = None
        if kind == "answered":
            self._start_pump(call)
        elif kind == "ended":
            outcome = CallOutcome(call.outcome)
            if call.answered_at is not None:
                data["duration"] = str(round((call.ended_at or time.monotonic()) - call.answered_at))
            transferred = getattr(call, "transferred_to", None)
            if transferred:
                data["transferred_to"] = transferred
                reason = f"transferred to {transferred}"
            if getattr(call, "ring_timed_out", False):
                reason = "no answer"
            if self._pump is not None and self._pump.call is call:
                self._stop_pump()
        event_kind = {"incoming": CallEventKind.INCOMING, "ringing": CallEventKind.RINGING,
                      "answered": CallEventKind.ANSWERED, "ended": CallEventKind.ENDED}[kind]
        self._events.put(CallEvent(
            call_id=call.call_id, kind=event_kind, direction=direction, number=call.number, at=utcnow(),
            outcome=outcome, status_code=code, reason=reason,
            extension=getattr(call, "agent_extension", None) or self.username, did=did, data=data,
        ))

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            for listener in self._listeners.current():
                try:
                    listener(event)
                except Exception:
                    log.exception("call listener failed")

    def _start_pump(self, call) -> None:
        with self._lock:
            if self._pump is not None and self._pump.alive:
                log.info("audio stays with call %s; call %s has no sound", self._pump.call.call_id, call.call_id)
                return
            self._pump = _AudioPump(call, self.audio)
            self._pump.start()

    def _stop_pump(self) -> None:
        with self._lock:
            pump, self._pump = self._pump, None
        if pump is not None:
            pump.stop()


def local_address_towards(server: str, port: int) -> str:
    """The local IP address the system would use to reach the server (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((server, port))
            return sock.getsockname()[0]
    except OSError as exc:
        raise TelephonyError(
            _("Cannot find a route to the SIP server {server}: {error}").format(server=server, error=exc)
        ) from exc


class _AudioPump:
    """Moves 20 ms frames between the device and one answered call; sends silence while muted."""

    def __init__(self, call, device: AudioDevice) -> None:
        self.call = call
        self.device = device
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tscrm-sip-audio", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        from tscrm.telephony.sip.phone import CallState

        try:
            self.device.start()
        except Exception:
            log.exception("cannot open the audio device")
            return
        try:
            while not self._stop.is_set() and self.call.state == CallState.ANSWERED:
                frame = self.device.read_frame()
                self.call.write_audio(SILENCE if self.call.muted else frame)
                self.device.write_frame(self.call.read_audio(len(SILENCE), blocking=False))
        except Exception:
            log.exception("audio pump failed")
        finally:
            try:
                self.device.stop()
            except Exception:
                log.exception("closing the audio device failed")
