"""The small typed protocols behind which every call and SMS backend sits.

Two call backends implement ``CallBackend``: SIP (tscrm itself is the phone, via pyVoIP) and the
Zadarma PBX (callback: the PBX rings the agent's extension, then the client; events come from its
webhooks). The TUI, the dialer and the CLI talk only to these protocols; test doubles live in tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, Protocol, TypeVar, runtime_checkable

from tscrm.core.models import CallDirection, CallOutcome


class CallEventKind(StrEnum):
    INCOMING = "incoming"  # a call for the agent is ringing (answer it, or let it go)
    RINGING = "ringing"  # an outbound call: the far end is ringing
    ANSWERED = "answered"
    ENDED = "ended"  # ``outcome`` says how


class Capability(StrEnum):
    ANSWER = "answer"  # incoming calls are answered in tscrm (SIP), not on a desk phone
    HANG_UP = "hang_up"
    TRANSFER = "transfer"
    DTMF = "dtmf"
    MUTE = "mute"


@dataclass(frozen=True)
class CallEvent:
    """Something that happened to one call, as a backend saw it."""

    call_id: str  # the backend's id of the call: SIP Call-ID, Zadarma pbx_call_id
    kind: CallEventKind
    direction: CallDirection
    number: str  # the far end, as the backend gave it (normalise with tscrm.core.phones)
    at: datetime  # timezone-aware UTC
    outcome: CallOutcome | None = None  # set on ENDED
    status_code: int | None = None  # the SIP or PBX status code, when known
    reason: str = ""  # the backend's words for an unusual end ("486 Busy Here", "no money")
    extension: str | None = None  # the agent's extension involved
    did: str | None = None  # our number that was called (inbound), for source labels
    data: Mapping[str, str] = field(default_factory=dict)  # anything else (recording id, UTM tags)


CallListener = Callable[[CallEvent], None]

T = TypeVar("T")


class Listeners(Generic[T]):
    """The listeners of a backend or an engine, safe to change from any thread while events go out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Callable[[T], None]] = []

    def subscribe(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Add ``listener``; returns the function that removes it (calling it twice is harmless)."""
        with self._lock:
            self._items.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._items:
                    self._items.remove(listener)

        return unsubscribe

    def current(self) -> list[Callable[[T], None]]:
        """The listeners now (a copy: a listener may unsubscribe while being called)."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class AgentLine:
    """Who places a call: the agent's PBX extension (and their tscrm user, when known)."""

    extension: str
    user_id: int | None = None


@runtime_checkable
class CallBackend(Protocol):
    """Places and controls calls; reports what happens to them through listeners.

    Methods a backend cannot do raise ``tscrm.core.errors.TelephonyUnsupported`` with a message that
    says what to do instead (e.g. "use your phone's transfer key"); ``capabilities`` lists what works.
    Listeners may be called from any thread: a UI must hop to its own loop.
    """

    name: str
    capabilities: frozenset[Capability]

    def originate(self, agent: AgentLine, number: str) -> str:
        """Start a call from the agent to ``number``; returns the call id. Events follow."""
        ...

    def answer(self, call_id: str) -> None: ...

    def hang_up(self, call_id: str) -> None:
        """End the call in any state: a ringing outbound call is cancelled, an incoming one declined."""
        ...

    def transfer(self, call_id: str, extension: str) -> None:
        """Blind transfer of an answered call to another extension."""
        ...

    def send_dtmf(self, call_id: str, digits: str) -> None: ...

    def set_muted(self, call_id: str, muted: bool) -> None: ...

    def subscribe(self, listener: CallListener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns a function that unsubscribes."""
        ...

    def close(self) -> None:
        """Hang up what is up, unregister, release sockets and threads."""
        ...


@dataclass(frozen=True)
class SmsResult:
    """What the SMS service said about one recipient."""

    number: str
    ok: bool
    parts: int = 0
    cost: Decimal | None = None
    currency: str | None = None
    error: str = ""  # why it was refused (the service's words), when not ok
    transient: bool = False  # worth retrying later (rate limit, timeout, 5xx)


@runtime_checkable
class SmsBackend(Protocol):
    name: str

    def send(self, numbers: Sequence[str], text: str, sender: str | None = None) -> list[SmsResult]:
        """Send one text to each number; one result per number, in order."""
        ...
