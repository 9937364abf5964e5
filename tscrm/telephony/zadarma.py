"""The Zadarma PBX: its REST API client, and the call, SMS and recording backends built on it.

- ``ZadarmaClient``: signed requests to ``https://api.zadarma.com/v1/...`` (the signing lives in
  ``tscrm.integrations.zadarma_signing``, shared with the Teamsale import). GET parameters go in the
  URL, POST/PUT parameters as a form, ``format=json`` always among the signed ones, paths with the
  trailing slash the SDKs send. Statistics methods are limited by Zadarma to 3 requests a minute:
  the client waits (through an injectable ``sleep``/``clock``) instead of being refused.
- ``ZadarmaCallBackend``: desk-phone mode. Calling is a *callback*: the PBX rings the agent's
  extension, then the client. Events arrive through the PBX's webhooks (``event_from_webhook`` reads
  one), which the app feeds into ``deliver``. Hanging up, transfer, DTMF and mute happen on the phone.
- ``ZadarmaSmsBackend``: ``POST /v1/sms/send/``, one ``SmsResult`` per number.
- ``ZadarmaRecordingSource``: a recording's temporary link from ``/v1/pbx/record/request/``, then
  the file.
- ``calls sync`` helpers: ``month_chunks``, ``iter_pbx_statistics``, ``call_from_statistics``.

Errors are ``TelephonyError`` naming the API method and giving Zadarma's own message;
``TelephonyRateLimited`` (HTTP 429) and ``TelephonyUnavailable`` (network, timeouts, HTTP 5xx) are
``transient``: the same request may work later.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from tscrm.core.errors import (
    ConfigError,
    InvalidPhone,
    NotFound,
    TelephonyError,
    TelephonyRateLimited,
    TelephonyUnavailable,
    TelephonyUnsupported,
)
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.core.phones import digits_of, parse_phone
from tscrm.core.services.call_sync import PbxCall
from tscrm.core.types import utcnow
from tscrm.i18n import _
from tscrm.integrations.zadarma_signing import KEY_VARIABLE, SECRET_VARIABLE, URL_VARIABLE  # noqa: F401  (re-exported)
from tscrm.integrations.zadarma_signing import signed_request
from tscrm.telephony.base import AgentLine, CallEvent, CallEventKind, CallListener, Capability, Listeners, SmsResult

if TYPE_CHECKING:
    from sqlmodel import Session

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.zadarma.com"
SANDBOX_BASE_URL = "https://api-sandbox.zadarma.com"
DEFAULT_TIMEOUT = 20.0
STATISTICS_PER_MINUTE = 3  # Zadarma's limit for /v1/statistics/* (100 a minute for the rest)
STATISTICS_PAGE = 1000  # the most one statistics request returns
RATE_LIMIT_RETRIES = 3  # a sync waits a minute and tries again this many times after an HTTP 429
RECORDING_LINK_LIFETIME = 600  # seconds (Zadarma: 180 .. 5184000)
SMS_BATCH = 100  # numbers per send request
RECORDING_PREFIX = "zadarma:"  # a call's recording_ref: "zadarma:<call_id_with_rec>"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # how Zadarma writes times (the account's time zone)


def _error(cls: type[TelephonyError], message: str, method: str, status: int | None = None) -> TelephonyError:
    exc = cls(message)
    exc.method = method  # type: ignore[attr-defined]
    exc.status_code = status  # type: ignore[attr-defined]
    return exc


def is_transient(exc: BaseException) -> bool:
    """Worth trying again later: rate limited, timed out, unreachable, or a server-side failure."""
    return bool(getattr(exc, "transient", False))


class ZadarmaClient:
    """Zadarma's REST API v1, signed as its SDKs sign (see ``zadarma_signing``)."""

    def __init__(
        self,
        key: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        statistics_per_minute: int = STATISTICS_PER_MINUTE,
    ) -> None:
        if not key or not secret:
            raise ConfigError(_("Zadarma: both the API key and the API secret are needed"))
        self.key = key
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc or self.base_url
        self.statistics_per_minute = statistics_per_minute
        self.sleep = sleep
        self._clock = clock
        self._statistics_sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout, transport=transport, headers={"Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------------

    @staticmethod
    def path_of(method: str) -> str:
        """``"info/balance"`` -> ``"/v1/info/balance/"`` (a path given whole is kept as it is)."""
        return method if method.startswith("/") else f"/v1/{method.strip('/')}/"

    def _throttle(self) -> None:
        """At most ``statistics_per_minute`` statistics requests in any minute: wait for a free slot."""
        with self._lock:
            now = self._clock()
            while self._statistics_sent and now - self._statistics_sent[0] >= 60:
                self._statistics_sent.popleft()
            if len(self._statistics_sent) >= self.statistics_per_minute:
                self.sleep(max(0.0, 60 - (now - self._statistics_sent[0])))
                self._statistics_sent.popleft()
            self._statistics_sent.append(self._clock())

    def request(self, http_method: str, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One signed request; the decoded JSON answer. ``None`` parameters are left out."""
        path = self.path_of(method)
        if path.startswith("/v1/statistics"):
            self._throttle()
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        prepared = signed_request(http_method, self.base_url, path, clean, self.key, self.secret)
        try:
            response = self._http.request(prepared.method, prepared.url, headers=prepared.headers, content=prepared.body)
        except httpx.TimeoutException:
            raise _error(
                TelephonyUnavailable,
                _("Zadarma: {host} did not answer {method} in time").format(host=self.host, method=path),
                path,
            ) from None
        except httpx.HTTPError as exc:
            raise _error(
                TelephonyUnavailable,
                _("Zadarma: cannot reach {host} ({method}): {reason}").format(host=self.host, method=path, reason=exc),
                path,
            ) from None
        return self._answer(response, path)

    @staticmethod
    def _answer(response: httpx.Response, path: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        status = response.status_code
        message = ""
        if isinstance(data, dict) and (data.get("status") == "error" or status >= 400):
            message = str(data.get("message") or data.get("data") or "").strip()
        if not message and status >= 400:
            message = response.reason_phrase or response.text[:200].strip()
        if status == 429:
            raise _error(
                TelephonyRateLimited,
                _("Zadarma: too many requests ({method}, HTTP 429): {message}; try again in a minute").format(
                    method=path, message=message
                ),
                path,
                status,
            )
        if status >= 500:
            raise _error(
                TelephonyUnavailable,
                _("Zadarma failed on {method} (HTTP {status}): {message}").format(method=path, status=status, message=message),
                path,
                status,
            )
        if status in (401, 403):
            raise _error(
                TelephonyError,
                _("Zadarma refused the API key or signature ({method}, HTTP {status}): {message}").format(
                    method=path, status=status, message=message
                ),
                path,
                status,
            )
        if status >= 400 or message:
            raise _error(
                TelephonyError,
                _("Zadarma refused {method} (HTTP {status}): {message}").format(method=path, status=status, message=message),
                path,
                status,
            )
        if not isinstance(data, dict):
            raise _error(
                TelephonyError,
                _("Zadarma: {method} did not answer JSON (HTTP {status})").format(method=path, status=status),
                path,
                status,
            )
        return data

    def download(self, url: str) -> bytes:
        """A file behind a link the API handed out (recordings): plain GET, no signature."""
        host = urlsplit(url).netloc or url
        try:
            response = self._http.get(url, headers={"Accept": "*/*"}, follow_redirects=True)
        except httpx.TimeoutException:
            raise _error(TelephonyUnavailable, _("Zadarma: {host} did not send the file in time").format(host=host), url) from None
        except httpx.HTTPError as exc:
            raise _error(
                TelephonyUnavailable, _("Zadarma: cannot reach {host}: {reason}").format(host=host, reason=exc), url
            ) from None
        if response.status_code in (404, 410):
            raise NotFound(_("The recording is no longer at {url} (HTTP {status})").format(url=url, status=response.status_code))
        if response.status_code >= 400:
            cls = TelephonyUnavailable if response.status_code >= 500 else TelephonyError
            raise _error(
                cls,
                _("Zadarma: {host} refused the download (HTTP {status})").format(host=host, status=response.status_code),
                url,
                response.status_code,
            )
        return response.content

    # -- the methods tscrm uses ---------------------------------------------------------------------

    def balance(self) -> dict[str, Any]:
        """``{"balance": 10.5, "currency": "USD", ...}``"""
        return self.request("GET", "info/balance")

    def callback(self, from_: str, to: str, sip: str | None = None, predicted: bool = False) -> dict[str, Any]:
        """Ring ``from_`` (an extension, e.g. "100") then connect it to ``to``; ``predicted`` rings ``to`` first.

        Numbers are sent as digits, as the SDK does. Answers ``{"from", "to", "time"}``.
        """
        to_digits = digits_of(to)
        if not to_digits:
            raise _error(TelephonyError, _("Zadarma: {number!r} is not a number to call").format(number=to), "/v1/request/callback/")
        params = {
            "from": str(from_).strip(),
            "to": to_digits,
            "sip": (digits_of(sip) or None) if sip else None,
            "predicted": "1" if predicted else None,  # a flag: present means on
        }
        return self.request("GET", "request/callback", params)

    def send_sms(self, numbers: Sequence[str], message: str, caller_id: str | None = None) -> dict[str, Any]:
        """One text to each number (sent as digits, comma-separated); ``caller_id`` as the PHP SDK names
        the sender (one of the account's confirmed numbers or sender names)."""
        params = {
            "number": ",".join(digits_of(n) for n in numbers),
            "message": message,
            "caller_id": caller_id or None,
        }
        return self.request("POST", "sms/send", params)

    def sms_sender_ids(self, phone: str) -> list[str]:
        """The sender names and numbers allowed for texts to ``phone``."""
        data = self.request("GET", "sms/senderid", {"phones": digits_of(phone) or phone})
        senders = data.get("senders") or []
        return [str(s) for s in senders] if isinstance(senders, list) else []

    def pbx_internal(self) -> dict[str, Any]:
        """``{"pbx_id": 1234, "numbers": [100, 101]}``: the PBX's extensions."""
        return self.request("GET", "pbx/internal")

    def extension_status(self, extension: str) -> dict[str, Any]:
        """``{"pbx_id", "number", "is_online": "true"|"false"}``"""
        return self.request("GET", f"pbx/internal/{digits_of(extension) or extension}/status")

    def extension_online(self, extension: str) -> bool:
        return str(self.extension_status(extension).get("is_online", "")).lower() == "true"

    def pbx_statistics(
        self,
        start: datetime | str,
        end: datetime | str,
        call_type: str | None = None,
        skip: int = 0,
        limit: int = STATISTICS_PAGE,
    ) -> dict[str, Any]:
        """One page of the PBX call history (format version 2). ``start``/``end`` in the account's time
        zone, at most a month apart; ``call_type`` "in" or "out". Waits to keep 3 requests a minute."""
        params = {
            "start": _pbx_text(start),
            "end": _pbx_text(end),
            "version": 2,
            "call_type": call_type,
            "skip": skip,
            "limit": limit,
        }
        return self.request("GET", "statistics/pbx", params)

    def record_link(
        self, call_id: str | None = None, pbx_call_id: str | None = None, lifetime: int = RECORDING_LINK_LIFETIME
    ) -> dict[str, Any]:
        """A temporary link to a recording: by ``call_id`` (``{"link"}``) or ``pbx_call_id`` (``{"links": []}``)."""
        if not call_id and not pbx_call_id:
            raise ValueError("record_link needs call_id or pbx_call_id")
        params = {"call_id": call_id or None, "pbx_call_id": pbx_call_id or None, "lifetime": lifetime}
        return self.request("GET", "pbx/record/request", params)

    def set_callinfo_url(self, url: str) -> dict[str, Any]:
        """Where the PBX posts its call notifications (it first checks the URL with ``?zd_echo=``)."""
        return self.request("POST", "pbx/callinfo/url", {"url": url})


def _pbx_text(moment: datetime | str) -> str:
    return moment.strftime(TIME_FORMAT) if isinstance(moment, datetime) else str(moment).strip()


# --- numbers, times, outcomes as the PBX writes them -----------------------------------------------


def _zone(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def pbx_time(value: Any, tz: str | tzinfo | None) -> datetime | None:
    """"2026-01-01 10:00:00" in the PBX's time zone -> aware UTC (None when unreadable)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(tz))
    return moment.astimezone(UTC)


def is_extension(value: str | None) -> bool:
    """A PBX extension (``100``), not a phone number: a few digits only."""
    text = (value or "").strip()
    return text.isdigit() and len(text) <= 5


def pbx_number(raw: Any) -> str:
    """A number as Zadarma sends it -> E.164 when it is one.

    Zadarma writes international numbers as bare digits (``34612345678``); they get their ``+`` back
    when that makes a valid number. Extensions, withheld ids and national numbers stay as given.
    """
    text = str(raw or "").strip()
    compact = text.replace(" ", "").replace("-", "")
    if compact.isdigit() and len(compact) >= 8 and not compact.startswith("0"):
        try:
            return parse_phone("+" + compact).e164
        except InvalidPhone:
            return text
    return text


OUTCOMES: dict[str, CallOutcome] = {
    "answered": CallOutcome.ANSWERED,
    "answer": CallOutcome.ANSWERED,
    "busy": CallOutcome.BUSY,
    "cancel": CallOutcome.NO_ANSWER,  # the caller gave up before anybody answered: a missed call
    "no answer": CallOutcome.NO_ANSWER,
    "noanswer": CallOutcome.NO_ANSWER,
}


def outcome_of(disposition: Any) -> tuple[CallOutcome | None, str]:
    """(outcome, reason) for a Zadarma ``disposition``. Everything that is not answered, busy or
    unanswered (``call failed``, ``no money``, ``unallocated number``, ``line limit``...) failed, and
    the disposition is kept as the reason."""
    text = " ".join(str(disposition or "").strip().lower().split())
    if not text:
        return None, ""
    outcome = OUTCOMES.get(text, CallOutcome.FAILED)
    return outcome, "" if outcome == CallOutcome.ANSWERED else text


def recording_ref(call_id_with_rec: str) -> str:
    """The ``recording_ref`` of a call whose recording Zadarma keeps (``ZadarmaRecordingSource`` reads it)."""
    return f"{RECORDING_PREFIX}{call_id_with_rec.strip()}"


def _direction_of(pbx_call_id: str, default: CallDirection) -> CallDirection:
    if pbx_call_id.startswith("in_"):
        return CallDirection.INBOUND
    if pbx_call_id.startswith("out_"):
        return CallDirection.OUTBOUND
    return default


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


# --- webhooks -> call events -------------------------------------------------------------------------

WEBHOOK_EVENTS = ("NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_OUT_START", "NOTIFY_ANSWER", "NOTIFY_END", "NOTIFY_OUT_END")


def event_from_webhook(fields: Mapping[str, Any], tz: str | tzinfo | None = "UTC") -> CallEvent | None:
    """The ``CallEvent`` a Zadarma call notification (its form fields) stands for; None for other events
    (``NOTIFY_RECORD``, ``NOTIFY_IVR``, SMS) and for notifications without a ``pbx_call_id``.

    ``tz`` is the PBX's time zone, in which ``call_start`` is written. ``data`` carries ``event``,
    ``call_start`` (ISO, UTC) and, on ends, ``duration``, ``disposition``, ``is_recorded``,
    ``call_id_with_rec`` and ``recording_ref`` (when recorded).
    """

    def get(name: str) -> str:
        return str(fields.get(name) or "").strip()

    event = get("event").upper()
    call_id = get("pbx_call_id")
    if event not in WEBHOOK_EVENTS or not call_id:
        return None
    started = pbx_time(get("call_start"), tz)
    at = started or utcnow()
    data: dict[str, str] = {"event": event}
    if started is not None:
        data["call_start"] = started.isoformat()
    extension = get("internal") or None
    caller, destination = get("caller_id"), get("destination")
    did = pbx_number(get("called_did")) or None

    if event in ("NOTIFY_START", "NOTIFY_INTERNAL"):
        return CallEvent(
            call_id, CallEventKind.INCOMING, CallDirection.INBOUND, pbx_number(caller), at,
            extension=extension, did=did, data=data,
        )
    # an extension calling an extension is internal, whatever the id's prefix
    outgoing = CallDirection.INTERNAL if is_extension(destination) else _direction_of(call_id, CallDirection.OUTBOUND)
    if event == "NOTIFY_OUT_START":
        return CallEvent(
            call_id, CallEventKind.RINGING, outgoing, pbx_number(destination), at,
            extension=extension, data=data,
        )
    if event == "NOTIFY_ANSWER":
        direction = _direction_of(call_id, CallDirection.INBOUND)
        number = caller if direction == CallDirection.INBOUND else destination
        if direction == CallDirection.INBOUND and destination:
            data["answered_by"] = destination
        return CallEvent(call_id, CallEventKind.ANSWERED, direction, pbx_number(number), at, extension=extension, data=data)

    # NOTIFY_END (inbound) / NOTIFY_OUT_END (outbound)
    outcome, reason = outcome_of(get("disposition"))
    duration = max(_int(get("duration")) or 0, 0)
    for name in ("duration", "disposition", "is_recorded", "call_id_with_rec", "status_code"):
        if get(name):
            data[name] = get(name)
    rec = get("call_id_with_rec")
    if rec and _flag(get("is_recorded")):
        data["recording_ref"] = recording_ref(rec)
    if event == "NOTIFY_END":
        direction, number = CallDirection.INBOUND, caller
    else:
        direction, number = outgoing, destination
        if caller:
            data["caller_id"] = caller
    return CallEvent(
        call_id,
        CallEventKind.ENDED,
        direction,
        pbx_number(number),
        at + timedelta(seconds=duration),
        outcome=outcome,
        status_code=_int(get("status_code")),
        reason=reason,
        extension=extension,
        did=did if event == "NOTIFY_END" else None,
        data=data,
    )


# --- the call backend (desk-phone mode) ------------------------------------------------------------------


class ZadarmaCallBackend:
    """Calls through the Zadarma PBX with a desk phone (or the Zadarma app) doing the talking.

    ``originate`` asks the PBX for a callback: it rings the agent's extension, and when the agent
    picks up, the client's number. The id it returns is provisional (``callback:<time>``): the PBX's
    own id (``pbx_call_id``) arrives with the webhooks; ``deliver`` tags the first events of that call
    with ``data["callback_id"]`` so a screen can tie them to the call it started.
    """

    name = "zadarma"
    capabilities: frozenset[Capability] = frozenset()
    PENDING_SECONDS = 180  # how long a callback waits for its first webhook to be tied to it

    def __init__(
        self, client: ZadarmaClient, *, predicted: bool = False, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.client = client
        self.predicted = predicted
        self._clock = clock
        self._listeners: Listeners[CallEvent] = Listeners()
        self._pending: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def originate(self, agent: AgentLine, number: str) -> str:
        extension = (agent.extension or "").strip()
        if not extension:
            raise TelephonyError(_("Calling through the Zadarma PBX needs your extension: set it in your profile"))
        answer = self.client.callback(extension, number, sip=extension, predicted=self.predicted)
        now = self._clock()
        stamp = _int(answer.get("time")) or int(now.timestamp())
        call_id = f"callback:{stamp}"
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if (now - v[1]).total_seconds() < self.PENDING_SECONDS}
            self._pending[(extension, digits_of(number))] = (call_id, now)
        return call_id

    def _callback_id(self, event: CallEvent) -> str | None:
        if event.direction == CallDirection.INBOUND or not event.extension:
            return None
        wanted = digits_of(event.number)
        with self._lock:
            for (extension, digits), (call_id, _when) in list(self._pending.items()):
                if extension == event.extension and digits and wanted and (digits.endswith(wanted) or wanted.endswith(digits)):
                    del self._pending[(extension, digits)]
                    return call_id
        return None

    def answer(self, call_id: str) -> None:
        raise TelephonyUnsupported(_("Answer on your desk phone (or the Zadarma app): in desk-phone mode the call is not in tscrm"))

    def hang_up(self, call_id: str) -> None:
        raise TelephonyUnsupported(_("Hang up on your phone: the Zadarma PBX cannot end a call for tscrm"))

    def transfer(self, call_id: str, extension: str) -> None:
        raise TelephonyUnsupported(_("Use your phone's transfer key; the hand-over is recorded"))

    def send_dtmf(self, call_id: str, digits: str) -> None:
        raise TelephonyUnsupported(_("Type the digits on your phone's keypad"))

    def set_muted(self, call_id: str, muted: bool) -> None:
        raise TelephonyUnsupported(_("Use your phone's mute key"))

    def subscribe(self, listener: CallListener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def deliver(self, event: CallEvent) -> None:
        """Hand an event (from a webhook) to every listener; one failing listener does not stop the others."""
        callback_id = self._callback_id(event)
        if callback_id is not None:
            event = replace(event, data={**event.data, "callback_id": callback_id})
        listeners = self._listeners.current()
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not lose the event for the others
                log.exception("call listener failed on %s", event)

    def close(self) -> None:
        with self._lock:
            self._listeners.clear()
            self._pending.clear()
        self.client.close()


# --- SMS ---------------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class ZadarmaSmsBackend:
    """Texts through ``POST /v1/sms/send/``; ``sender`` is the default sender (number or name)."""

    name = "zadarma"

    def __init__(self, client: ZadarmaClient, sender: str | None = None, *, batch_size: int = SMS_BATCH) -> None:
        self.client = client
        self.sender = sender
        self.batch_size = batch_size

    def send(self, numbers: Sequence[str], text: str, sender: str | None = None) -> list[SmsResult]:
        results: list[SmsResult] = []
        for start in range(0, len(numbers), self.batch_size):
            results += self._send(list(numbers[start : start + self.batch_size]), text, sender or self.sender)
        return results

    def _send(self, numbers: list[str], text: str, sender: str | None) -> list[SmsResult]:
        wanted = [n for n in numbers if digits_of(n)]
        answer: dict[str, Any] = {}
        failure: TelephonyError | None = None
        if wanted:
            try:
                answer = self.client.send_sms(wanted, text, sender)
            except TelephonyError as exc:
                failure = exc
        denied = {
            digits_of(str(d.get("number") or "")): str(d.get("message") or "").strip()
            for d in answer.get("denied_numbers") or []
            if isinstance(d, dict)
        }
        details = {
            digits_of(str(d.get("number") or "")): d for d in answer.get("sms_detalization") or [] if isinstance(d, dict)
        }
        currency = str(answer.get("currency") or "") or None
        sent = max(len(wanted) - len(denied), 1)
        total_parts = _int(answer.get("messages")) or 0
        results = []
        for number in numbers:
            digits = digits_of(number)
            if not digits:
                results.append(SmsResult(number, False, error=_("{number!r} is not a phone number").format(number=number)))
            elif failure is not None:
                results.append(SmsResult(number, False, error=str(failure), transient=is_transient(failure)))
            elif digits in denied:
                results.append(SmsResult(number, False, error=denied[digits] or _("refused by Zadarma")))
            else:
                detail = details.get(digits, {})
                parts = _int(detail.get("parts")) or (total_parts // sent if total_parts else 0)
                cost = _decimal(detail.get("cost"))
                if cost is None and len(wanted) == 1:
                    cost = _decimal(answer.get("cost"))
                results.append(SmsResult(number, True, parts=parts, cost=cost, currency=currency))
        return results


# --- recordings ---------------------------------------------------------------------------------------------


class ZadarmaRecordingSource:
    """``tscrm.core.recordings.RecordingSource`` for recordings the PBX keeps.

    A ref is ``zadarma:<call_id_with_rec>`` (``recording_ref``), ``zadarma:<pbx_call_id>`` (``in_…`` /
    ``out_…``: the call's first recording), or an http(s) link handed out earlier.
    """

    def __init__(self, client: ZadarmaClient, *, lifetime: int = RECORDING_LINK_LIFETIME) -> None:
        self.client = client
        self.lifetime = lifetime

    def link(self, ref: str) -> str:
        ident = ref.strip()
        if ident.startswith(("http://", "https://")):
            return ident
        ident = ident.removeprefix(RECORDING_PREFIX).strip()
        if not ident:
            raise NotFound(_("Recording {ref}: no recording id").format(ref=ref))
        try:
            if ident.startswith(("in_", "out_")):
                answer = self.client.record_link(pbx_call_id=ident, lifetime=self.lifetime)
                links = answer.get("links") or []
                link = str(links[0]) if isinstance(links, list) and links else ""
            else:
                answer = self.client.record_link(call_id=ident, lifetime=self.lifetime)
                link = str(answer.get("link") or "")
        except TelephonyError as exc:
            status = getattr(exc, "status_code", None)
            if status is not None and 400 <= status < 500 and status not in (401, 403, 429):
                raise NotFound(_("Recording {ref} is not on the PBX: {reason}").format(ref=ref, reason=exc)) from None
            raise
        if not link:
            raise NotFound(_("Recording {ref} is not on the PBX").format(ref=ref))
        return link

    def fetch(self, ref: str) -> bytes:
        return self.client.download(self.link(ref))


# --- calls sync: the PBX's history ------------------------------------------------------------------------


def month_chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """``[start, end]`` (local, inclusive, to the second) cut at month boundaries: Zadarma answers at
    most one month of statistics per request."""
    chunks: list[tuple[datetime, datetime]] = []
    current = start
    while current <= end:
        first_next = (current.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last = min(end, first_next - timedelta(seconds=1))
        chunks.append((current, last))
        current = first_next
    return chunks


def iter_pbx_statistics(
    client: ZadarmaClient, start: datetime, end: datetime, *, page_size: int = STATISTICS_PAGE, call_type: str | None = None
) -> Iterator[tuple[list[dict[str, Any]], float]]:
    """Every row of the PBX history from ``start`` to ``end`` (local times of the account), page by
    page: yields (rows, fraction of the range done). Waits out rate limits (3 requests a minute)."""
    chunks = month_chunks(start, end)
    for index, (first, last) in enumerate(chunks):
        skip = 0
        while True:
            for attempt in range(RATE_LIMIT_RETRIES + 1):
                try:
                    data = client.pbx_statistics(first, last, call_type=call_type, skip=skip, limit=page_size)
                    break
                except TelephonyRateLimited:
                    if attempt == RATE_LIMIT_RETRIES:
                        raise
                    client.sleep(60)
            stats = data.get("stats") or []
            rows = [r for r in stats if isinstance(r, dict)] if isinstance(stats, list) else []
            skip += len(rows)
            done = len(rows) < page_size
            yield rows, (index + (1 if done else 0.5)) / len(chunks)
            if done:
                break


def call_from_statistics(item: Mapping[str, Any], tz: str | tzinfo | None) -> PbxCall | None:
    """One row of ``/v1/statistics/pbx/`` (version 2) as a ``PbxCall``; None for a row without a start time.

    ``pbx_call_id`` (``in_…``/``out_…``) is the key and gives the direction; ``sip`` is the extension;
    ``clid`` and ``destination`` the two ends; ``call_id`` names the recording when ``is_recorded``.
    """

    def get(name: str) -> str:
        return str(item.get(name) or "").strip()

    started = pbx_time(get("callstart"), tz)
    if started is None:
        return None
    rec_id = get("call_id")
    external = get("pbx_call_id") or (f"zadarma-call:{rec_id}" if rec_id else "")
    clid, destination, sip = get("clid"), get("destination"), get("sip")
    if is_extension(clid) and is_extension(destination):
        direction = CallDirection.INTERNAL
    else:
        direction = _direction_of(external, CallDirection.OUTBOUND if is_extension(clid) else CallDirection.INBOUND)
    outcome, reason = outcome_of(get("disposition"))
    extension = sip if is_extension(sip) else None
    our_number = did = None
    if direction == CallDirection.INBOUND:
        their = clid
        if extension is None and is_extension(destination):
            extension = destination
        elif destination and not is_extension(destination):
            did = pbx_number(destination)
    else:
        their = destination
        if extension is None and is_extension(clid):
            extension = clid
        elif clid and not is_extension(clid):
            our_number = pbx_number(clid)
    return PbxCall(
        external_id=external,
        direction=direction,
        their_number=pbx_number(their) or "?",
        started_at=started,
        seconds=max(_int(get("seconds")) or 0, 0),
        outcome=outcome,
        extension=extension,
        our_number=our_number,
        source_did=did,
        recording_ref=recording_ref(rec_id) if rec_id and _flag(item.get("is_recorded")) else None,
        reason=reason,
    )


# --- settings ------------------------------------------------------------------------------------------------


def _company_settings(session: Session) -> Any:
    try:
        from tscrm.core.services import telephony as settings_module  # built by the settings work
    except ImportError:
        return None
    getter = getattr(settings_module, "company_settings", None)
    return getter(session) if callable(getter) else None


def zadarma_credentials(session: Session) -> tuple[str, str]:
    """The company's Zadarma API key and secret: from the telephony settings (``zadarma_key`` and the
    secret behind ``zadarma_secret_ref``), else from ``TSCRM_ZADARMA_KEY`` / ``TSCRM_ZADARMA_SECRET``."""
    settings = _company_settings(session)
    key = str(getattr(settings, "zadarma_key", None) or "").strip()
    ref = str(getattr(settings, "zadarma_secret_ref", None) or "").strip()
    if key and ref:
        from tscrm.core.secrets import load_secret

        return key, load_secret(session, ref)
    key = os.environ.get(KEY_VARIABLE, "").strip()
    secret = os.environ.get(SECRET_VARIABLE, "").strip()
    if key and secret:
        return key, secret
    raise ConfigError(
        _("No Zadarma API key: set it in the telephony settings, or give --key and --secret (or {key_var} and {secret_var})").format(
            key_var=KEY_VARIABLE, secret_var=SECRET_VARIABLE
        )
    )


def pbx_timezone(session: Session) -> str:
    """The time zone the PBX writes its times in: the telephony setting, else the company's zone
    (``tscrm.core.services.telephony.pbx_timezone`` when the settings exist)."""
    try:
        from tscrm.core.services.telephony import pbx_timezone as from_settings
    except ImportError:
        from_settings = None
    if from_settings is not None:
        return from_settings(session)
    from tscrm.core.services.company import get_company

    return get_company(session).timezone or "UTC"
