"""A call backend for TUI tests: it records what the app asked and lets the test play the far end.

``FakeBackend(mode="sip")`` can answer, transfer, mute and send DTMF; ``mode="desk"`` behaves like the
PBX callback backend: those raise TelephonyUnsupported with the phone-key advice. Events the test
emits go to the listeners from another thread, as a real backend's would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from tscrm.core.errors import TelephonyUnsupported
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.core.types import utcnow
from tscrm.telephony.base import AgentLine, CallEvent, CallEventKind, CallListener, Capability

SIP_CAPABILITIES = frozenset({Capability.ANSWER, Capability.HANG_UP, Capability.TRANSFER, Capability.DTMF, Capability.MUTE})


class FakeBackend:
    def __init__(self, mode: str = "sip") -> None:
        self.mode = mode
        self.name = "fake-" + mode
        self.capabilities = SIP_CAPABILITIES if mode == "sip" else frozenset()
        self.listeners: list[CallListener] = []
        self.calls: list[tuple[str, ...]] = []  # what the app asked, in order
        self.started = False
        self.closed = False
        self._next = 0
        self.clock = utcnow()  # event times: advanced by the test, so durations are exact

    # -- the protocol ---------------------------------------------------------------------------

    def start(self) -> None:
        self.started = True

    def originate(self, agent: AgentLine, number: str) -> str:
        self._next += 1
        call_id = f"fake-{self._next}"
        self.calls.append(("originate", agent.extension, number, call_id))
        return call_id

    def answer(self, call_id: str) -> None:
        self._unsupported("answer", "Answer on your desk phone")
        self.calls.append(("answer", call_id))

    def hang_up(self, call_id: str) -> None:
        self.calls.append(("hang_up", call_id))

    def transfer(self, call_id: str, extension: str) -> None:
        self._unsupported("transfer", "Use your phone's transfer key.")
        self.calls.append(("transfer", call_id, extension))

    def send_dtmf(self, call_id: str, digits: str) -> None:
        self._unsupported("dtmf", "Type the digits on your phone's keypad")
        self.calls.append(("dtmf", call_id, digits))

    def set_muted(self, call_id: str, muted: bool) -> None:
        self._unsupported("mute", "Use your phone's mute key")
        self.calls.append(("mute", call_id, str(muted)))

    def subscribe(self, listener: CallListener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def close(self) -> None:
        self.closed = True

    def _unsupported(self, what: str, advice: str) -> None:
        if self.mode != "sip":
            self.calls.append(("refused", what))
            raise TelephonyUnsupported(advice)

    # -- the far end ----------------------------------------------------------------------------

    def emit(
        self,
        call_id: str,
        kind: CallEventKind,
        number: str,
        *,
        direction: CallDirection = CallDirection.OUTBOUND,
        after: float = 0,
        outcome: CallOutcome | None = None,
    ) -> None:
        """Send one event ``after`` seconds (of the fake clock) after the previous one, from a thread."""
        self.clock += timedelta(seconds=after)
        event = CallEvent(call_id, kind, direction, number, self.clock, outcome=outcome)
        thread = threading.Thread(target=lambda: [listener(event) for listener in list(self.listeners)])
        thread.start()
        thread.join()
