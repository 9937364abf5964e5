"""Test doubles of the dialer tests: a call backend and an SMS backend that follow a script.

The call backend lives in virtual time: ``originate`` schedules the far end's behaviour on the
engine's ``VirtualClock`` (ringing, then answer / busy / reject / nothing), so a test moves time with
``clock.advance(seconds)`` and sees exactly what a real peer would make happen.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tscrm.core.errors import TelephonyError
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.telephony.base import (
    AgentLine,
    CallEvent,
    CallEventKind,
    Capability,
    SmsResult,
)
from tscrm.telephony.dialer import VirtualClock


@dataclass
class Peer:
    """How a number behaves: ``answer`` after ``ring_s`` (then hangs up after ``talk_s``, None: never),
    or ends with ``end`` (busy / rejected / failed) after ``ring_s``, or rings forever (``silent``)."""

    kind: str = "silent"  # answer, busy, reject, fail, silent, refuse (originate raises)
    ring_s: float = 3.0
    talk_s: float | None = None


class ScriptedCallBackend:
    name = "scripted"
    capabilities = frozenset({Capability.HANG_UP})

    def __init__(self, clock: VirtualClock, peers: dict[str, Peer] | None = None, default: Peer | None = None) -> None:
        self.clock = clock
        self.peers = peers or {}
        self.default = default or Peer("silent")
        self.dialled: list[str] = []
        self.dial_times: list[tuple[str, float]] = []
        self.hung_up: list[str] = []
        self._listeners: list[Callable[[CallEvent], None]] = []
        self._ids = itertools.count(1)
        self._numbers: dict[str, str] = {}
        self._live: set[str] = set()
        self.start = clock.now()

    def subscribe(self, listener):
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, call_id: str, kind: CallEventKind, outcome: CallOutcome | None = None, reason: str = "") -> None:
        if call_id not in self._live:
            return
        if kind == CallEventKind.ENDED:
            self._live.discard(call_id)
        event = CallEvent(call_id, kind, CallDirection.OUTBOUND, self._numbers[call_id], self.clock.now(), outcome=outcome, reason=reason)
        for listener in list(self._listeners):
            listener(event)

    def originate(self, agent: AgentLine, number: str) -> str:
        peer = self.peers.get(number, self.default)
        self.dialled.append(number)
        self.dial_times.append((number, (self.clock.now() - self.start).total_seconds()))
        if peer.kind == "refuse":
            raise TelephonyError(f"cannot call {number}")
        call_id = f"call-{next(self._ids)}"
        self._numbers[call_id] = number
        self._live.add(call_id)
        self.clock.call_later(0.2, lambda: self._emit(call_id, CallEventKind.RINGING))
        if peer.kind == "answer":
            self.clock.call_later(peer.ring_s, lambda: self._emit(call_id, CallEventKind.ANSWERED))
            if peer.talk_s is not None:
                self.clock.call_later(peer.ring_s + peer.talk_s, lambda: self._emit(call_id, CallEventKind.ENDED, CallOutcome.ANSWERED))
        elif peer.kind in ("busy", "reject", "fail"):
            outcome = {"busy": CallOutcome.BUSY, "reject": CallOutcome.REJECTED, "fail": CallOutcome.FAILED}[peer.kind]
            self.clock.call_later(peer.ring_s, lambda: self._emit(call_id, CallEventKind.ENDED, outcome, "486 Busy Here" if peer.kind == "busy" else ""))
        return call_id

    def hang_up(self, call_id: str) -> None:
        self.hung_up.append(call_id)
        self._emit(call_id, CallEventKind.ENDED, CallOutcome.NO_ANSWER)

    def answer(self, call_id):  # pragma: no cover - not used by the dialer
        raise NotImplementedError

    def transfer(self, call_id, extension):  # pragma: no cover
        raise NotImplementedError

    def send_dtmf(self, call_id, digits):  # pragma: no cover
        raise NotImplementedError

    def set_muted(self, call_id, muted):  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass


class ScriptedSmsBackend:
    """Answers per number: ``fail`` (refused), ``transient`` N times then ok, or ok with a cost."""

    name = "scripted-sms"

    def __init__(self, fail: dict[str, str] | None = None, transient: dict[str, int] | None = None, cost: str = "0.05") -> None:
        self.fail = fail or {}
        self.transient = dict(transient or {})
        self.cost = Decimal(cost)
        self.sent: list[tuple[str, str]] = []  # (number, text) accepted
        self.calls: list[tuple[str, ...]] = []

    def send(self, numbers: Sequence[str], text: str, sender: str | None = None) -> list[SmsResult]:
        self.calls.append(tuple(numbers))
        out = []
        for number in numbers:
            if self.transient.get(number, 0) > 0:
                self.transient[number] -= 1
                out.append(SmsResult(number, False, error="429 rate limited", transient=True))
            elif number in self.fail:
                out.append(SmsResult(number, False, error=self.fail[number]))
            else:
                self.sent.append((number, text))
                parts = 1 if len(text) <= 160 else 2
                out.append(SmsResult(number, True, parts=parts, cost=self.cost * parts, currency="EUR"))
        return out


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()
