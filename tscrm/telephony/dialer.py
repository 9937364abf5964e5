"""The auto-dialer engine: works through a call list with any ``CallBackend``, one call at a time.

What it does, on the clock it is given (real time, or virtual time in tests and benchmarks):

- claims the next entry of the list (``tscrm.core.services.dialer.claim_next``) and, after the gap
  (``CallList.gap_s``, 0 for the very first call), marks it ``dialling`` (committed) and places the
  call with ``backend.originate``; a callback backend (Zadarma in desk-phone mode) returns a
  provisional id, and the first event carrying ``data["callback_id"]`` equal to it ties the PBX's own
  call id to the call (in the CLI, ``tscrm.telephony.pbx_feed.PbxEventFeed`` delivers those events);
- the far end rings at most ``CallList.ring_timeout_s``; then the engine hangs up and records "no
  answer". Busy / rejected / failed end the call the same way. The next call follows after the gap;
- answered: the agent talks; after the hang-up the engine waits for ``set_outcome`` (one call: the
  TUI's one key), then the next call follows after the gap. ``set_outcome`` may also be given while
  still talking: it is applied at the hang-up;
- ``pause`` / ``resume`` / ``skip`` / ``stop`` at any time (a call in progress finishes first for
  pause and stop; ``skip`` cancels a ringing call or passes over the entry about to be dialled).

For a UI (the TUI's Dialer tab and screen):

- ``state()`` returns the latest ``DialerState`` (frozen; never blocks): ``phase`` (``DialerPhase``:
  idle, waiting — the gap, with ``next_entry`` and ``next_dial_at`` for a countdown —, ringing,
  talking, wrap_up — show the outcome keys —, paused, finished, stopped), ``current``
  (``CurrentCall``: entry, backend call id, dialled / answered / ended times, an outcome already
  chosen), ``upcoming`` (the next entries after ``next_entry``), ``remaining``, ``done`` (newest
  first, ``DoneEntry``: entry, state done/skipped, outcome or skip reason — show it with
  ``tscrm.core.services.dialer.OUTCOME_LABELS`` / ``skip_reason_text`` —, talk seconds, time),
  ``counters`` (dialled, answered, no_answer, busy, rejected, failed, cancelled, skipped,
  talk_seconds), ``interrupted`` (entries an earlier run left in "dialling": offer "call again" /
  "close" through ``resolve_interrupted``), ``paused`` / ``stopping`` (requested, pending the
  current call), ``error`` (why the engine paused itself), the list's ``ring_timeout_s``/``gap_s``.
- ``subscribe(listener)`` calls ``listener(state)`` after every change, from whatever thread made it
  (backend event threads, timer threads, the caller's): a Textual app hops with
  ``app.call_from_thread``. Listeners run outside the engine's lock; they may call ``state()``.
- Commands (``start``, ``pause``, ``resume``, ``skip``, ``stop``, ``hang_up``, ``set_outcome``,
  ``resolve_interrupted``, ``close``) write to the database and may wait while the backend places a
  call: call them from a worker thread (``@work(thread=True)``), never from the event loop. Wrong
  moments raise ``Conflict`` (e.g. ``skip`` while talking), a wrong outcome ``ValidationError``.
- Keys suggested for the outcome: i interested, c call back (ask the time), n not interested,
  w wrong number, d do not call (as ``tscrm dial run`` does); ``AGENT_OUTCOMES`` lists them in order.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tscrm.core.errors import Conflict, TelephonyError, TscrmError
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.core.models_dialer import CallListEntry, DialOutcome, EntryState
from tscrm.core.types import utcnow
from tscrm.telephony.base import AgentLine, CallBackend, CallEvent, CallEventKind, Listeners

# After this many calls in a row that the backend could not place, the engine pauses with the error.
MAX_CONSECUTIVE_FAILURES = 3
DONE_KEPT = 50  # how many finished entries the state carries (newest first)
UPCOMING_SHOWN = 5


# --- clocks ---------------------------------------------------------------------------------------


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Where the engine gets the time and schedules its timers."""

    def now(self) -> datetime: ...

    def call_later(self, delay: float, fn: Callable[[], None]) -> TimerHandle: ...


class RealClock:
    """Wall-clock time; timers are daemon threads."""

    def now(self) -> datetime:
        return utcnow()

    def call_later(self, delay: float, fn: Callable[[], None]) -> TimerHandle:
        timer = threading.Timer(max(0.0, delay), fn)
        timer.daemon = True
        timer.start()
        return timer


class _VirtualTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Virtual time for tests and benchmarks: nothing happens until ``advance`` (or ``run``) is called,
    then every due callback runs in time order, in the calling thread, with ``now()`` at its time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=utcnow().tzinfo)
        self._queue: list[tuple[datetime, int, _VirtualTimer, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    def now(self) -> datetime:
        return self._now

    def call_later(self, delay: float, fn: Callable[[], None]) -> TimerHandle:
        handle = _VirtualTimer()
        with self._lock:
            heapq.heappush(self._queue, (self._now + timedelta(seconds=max(0.0, delay)), next(self._seq), handle, fn))
        return handle

    def advance(self, seconds: float) -> None:
        """Move time forward, running what falls due (including what those callbacks schedule)."""
        target = self._now + timedelta(seconds=seconds)
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > target:
                    break
                at, _seq, handle, fn = heapq.heappop(self._queue)
                self._now = max(self._now, at)
            if not handle.cancelled:
                fn()
        self._now = target

    def next_at(self) -> datetime | None:
        with self._lock:
            live = [item for item in self._queue if not item[2].cancelled]
            return min(live)[0] if live else None

    def run(self, max_seconds: float = 86_400.0) -> None:
        """Advance to each next timer until none is left (or ``max_seconds`` passed)."""
        limit = self._now + timedelta(seconds=max_seconds)
        while True:
            at = self.next_at()
            if at is None or at > limit:
                return
            self.advance(max(0.0, (at - self._now).total_seconds()))


# --- the observable state -------------------------------------------------------------------------


class DialerPhase(StrEnum):
    IDLE = "idle"  # not started
    WAITING = "waiting"  # the gap before the next call: ``next_entry`` is claimed, dialled at ``next_dial_at``
    RINGING = "ringing"  # ``current`` is ringing (at most ring_timeout_s)
    TALKING = "talking"  # ``current`` answered
    WRAP_UP = "wrap_up"  # ``current`` hung up; waiting for the agent's outcome (``set_outcome``)
    PAUSED = "paused"  # nothing happens until ``resume``
    FINISHED = "finished"  # no entry left to call
    STOPPED = "stopped"


@dataclass(frozen=True)
class EntryView:
    entry_id: int
    position: int
    number: str  # E.164
    name: str | None
    client_id: int | None
    lead_id: int | None


@dataclass(frozen=True)
class CurrentCall:
    entry: EntryView
    call_id: str | None  # the backend's id (None while originate has not returned)
    dialled_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome_given: DialOutcome | None = None  # an outcome chosen while still talking


@dataclass(frozen=True)
class DoneEntry:
    entry: EntryView
    state: EntryState  # DONE or SKIPPED
    outcome: DialOutcome | None  # for DONE
    reason: str  # skip reason key / the backend's words for a failure ("486 Busy Here")
    talk_seconds: int
    at: datetime


@dataclass(frozen=True)
class Counters:
    dialled: int = 0
    answered: int = 0
    no_answer: int = 0
    busy: int = 0
    rejected: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    talk_seconds: int = 0


@dataclass(frozen=True)
class DialerState:
    """Everything a dialer screen shows. ``done`` is newest first; ``upcoming`` excludes ``next_entry``."""

    phase: DialerPhase
    list_id: int
    list_name: str
    paused: bool  # pause requested (takes effect after the current call when one is up)
    stopping: bool  # stop requested (takes effect after the current call's outcome)
    current: CurrentCall | None
    next_entry: EntryView | None
    next_dial_at: datetime | None
    upcoming: tuple[EntryView, ...]
    remaining: int  # pending entries left in the list (all agents)
    done: tuple[DoneEntry, ...]
    counters: Counters
    interrupted: tuple[EntryView, ...]  # dialled by an earlier run that died: result unknown, not re-dialled
    error: str | None
    ring_timeout_s: int
    gap_s: int
    now: datetime


StateListener = Callable[[DialerState], None]


def _view(entry: CallListEntry) -> EntryView:
    return EntryView(entry.id, entry.position, entry.number, entry.name, entry.client_id, entry.lead_id)  # type: ignore[arg-type]


_NETWORK: dict[CallOutcome | None, DialOutcome] = {
    CallOutcome.NO_ANSWER: DialOutcome.NO_ANSWER,
    CallOutcome.BUSY: DialOutcome.BUSY,
    CallOutcome.REJECTED: DialOutcome.REJECTED,
    CallOutcome.FAILED: DialOutcome.FAILED,
    CallOutcome.ANSWERED: DialOutcome.NO_ANSWER,  # "ended, answered" without an ANSWERED event: nobody talked
    None: DialOutcome.FAILED,
}
_COUNTER_OF: dict[DialOutcome, str] = {
    DialOutcome.NO_ANSWER: "no_answer",
    DialOutcome.BUSY: "busy",
    DialOutcome.REJECTED: "rejected",
    DialOutcome.FAILED: "failed",
    DialOutcome.CANCELLED: "cancelled",
}


# --- the engine -----------------------------------------------------------------------------------


class DialerEngine:
    """Drives one agent through one call list. ``start()``, then react to ``state()`` / listeners.

    ``db`` is a ``tscrm.core.db.Database``; ``actor`` the agent; ``agent`` the line to call from
    (defaults to the agent's extension). Each step is its own committed transaction, so a crash
    loses at most the step in flight (see tscrm.core.services.dialer for what a crash leaves).
    """

    def __init__(
        self,
        db: Any,
        actor: Any,
        list_id: int,
        backend: CallBackend,
        *,
        agent: AgentLine | None = None,
        clock: Clock | None = None,
        run_id: str | None = None,
    ) -> None:
        from tscrm.core.services import dialer as service
        from tscrm.core.services.company import get_company
        from tscrm.core.services.users import get_user

        self._db = db
        self._actor = actor
        self._service = service
        self._backend = backend
        self._clock: Clock = clock or RealClock()
        self.run_id = run_id or uuid.uuid4().hex
        with db.read() as session:
            call_list = service.get_list(session, actor, list_id)
            user = get_user(session, actor.id)
            company = get_company(session)
            self._list_id = call_list.id
            self._list_name = call_list.name
            self._ring_timeout = call_list.ring_timeout_s
            self._gap = call_list.gap_s
            self._region = company.default_region
            self._without_cc = company.dial_without_country_code
            self._agent = agent or AgentLine(extension=user.extension or "", user_id=user.id)
        self._lock = threading.RLock()
        self._listeners: Listeners[DialerState] = Listeners()
        self._phase = DialerPhase.IDLE
        self._paused = False
        self._stopping = False
        self._current: CurrentCall | None = None
        self._next: EntryView | None = None
        self._next_at: datetime | None = None
        self._timer: TimerHandle | None = None
        self._upcoming: tuple[EntryView, ...] = ()
        self._remaining = 0
        self._done: deque[DoneEntry] = deque(maxlen=DONE_KEPT)
        self._counters = Counters()
        self._interrupted: tuple[EntryView, ...] = ()
        self._error: str | None = None
        self._failures = 0
        self._hours: Any = None  # the agent's working hours, read at the first claim of each start
        self._depth = 0
        self._inbox: deque[CallEvent] = deque()
        self._pending_outcome: tuple[DialOutcome, datetime | None, str | None] | None = None
        self._finished_calls: set[str] = set()
        self._aliases: dict[str, str] = {}  # a backend's real call id -> the id originate returned
        self._published: DialerState | None = None
        self._unsubscribe = backend.subscribe(self._on_event)

    # -- observing -----------------------------------------------------------------------------

    def state(self) -> DialerState:
        """The state as of the last change. Never blocks (a UI thread may call it at any time)."""
        published = self._published
        if published is None:
            with self._lock:
                published = self._published = self._snapshot()
        return published

    def subscribe(self, listener: StateListener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def _snapshot(self) -> DialerState:
        return DialerState(
            phase=self._phase,
            list_id=self._list_id,  # type: ignore[arg-type]
            list_name=self._list_name,
            paused=self._paused,
            stopping=self._stopping,
            current=self._current,
            next_entry=self._next,
            next_dial_at=self._next_at,
            upcoming=self._upcoming,
            remaining=self._remaining,
            done=tuple(reversed(self._done)),
            counters=self._counters,
            interrupted=self._interrupted,
            error=self._error,
            ring_timeout_s=self._ring_timeout,
            gap_s=self._gap,
            now=self._clock.now(),
        )

    def _step(self, work: Callable[[], None], *, user: bool = False) -> None:
        """Run a transition under the lock, then the backend events that came meanwhile, then tell the
        listeners (outside the lock).

        A command of the user (``user``) raises its error to the caller; a timer or a backend event
        cannot, so its error pauses the engine and shows in ``DialerState.error``.
        """
        raised: BaseException | None = None
        with self._lock:
            self._depth += 1
            try:
                self._guarded(work, raise_it=user)
            except BaseException as exc:  # noqa: BLE001 - given back to the caller below
                raised = exc
            finally:
                self._depth -= 1
            while self._inbox and self._depth == 0:
                event = self._inbox.popleft()
                self._guarded(lambda event=event: self._handle(event), raise_it=False)
            nested = self._depth > 0
            snapshot = self._snapshot()
            if not nested:
                self._published = snapshot
            listeners = self._listeners.current()
        if not nested:
            for listener in listeners:
                listener(snapshot)
            if self._inbox:  # an event arrived between the last look and letting go of the lock
                self._on_event(None)
        if raised is not None:
            raise raised

    def _guarded(self, work: Callable[[], None], *, raise_it: bool) -> None:
        try:
            work()
        except TscrmError as exc:
            if raise_it:
                raise
            self._fail(str(exc))
        except Exception as exc:
            if raise_it:
                raise
            self._fail(f"{type(exc).__name__}: {exc}")

    def _fail(self, message: str) -> None:
        self._error = message
        self._paused = True
        self._cancel_timer()
        if self._current is None:
            self._phase = DialerPhase.PAUSED

    # -- commands --------------------------------------------------------------------------------

    def start(self) -> None:
        """Resume the list: give back this agent's stale claims, report interrupted calls, dial the first entry."""

        def work() -> None:
            if self._phase not in (DialerPhase.IDLE, DialerPhase.STOPPED, DialerPhase.FINISHED):
                raise Conflict("already running")
            self._stopping = False
            self._paused = False
            self._error = None
            self._hours = None
            with self._db.write() as session:
                report = self._service.resume(session, self._actor, self._list_id, self.run_id)
                self._interrupted = tuple(_view(e) for e in report.interrupted)
            self._schedule_next(0)

        self._step(work, user=True)

    def pause(self) -> None:
        def work() -> None:
            self._paused = True
            if self._phase == DialerPhase.WAITING:
                self._cancel_timer()
                self._next_at = None
                self._phase = DialerPhase.PAUSED

        self._step(work, user=True)

    def resume(self) -> None:
        def work() -> None:
            self._paused = False
            self._error = None
            self._failures = 0
            if self._phase == DialerPhase.PAUSED:
                if self._next is not None:
                    self._wait_then_dial(self._gap)
                else:
                    self._schedule_next(self._gap)

        self._step(work, user=True)

    def skip(self) -> None:
        """Pass over the entry about to be dialled, or cancel the ringing call; the next follows after the gap."""

        def work() -> None:
            if self._phase in (DialerPhase.WAITING, DialerPhase.PAUSED) and self._next is not None:
                self._cancel_timer()
                entry = self._next
                with self._db.write() as session:
                    self._service.skip_claimed(session, entry.entry_id, self.run_id, now=self._clock.now())
                self._count(skipped=1)
                self._done.append(DoneEntry(entry, EntryState.SKIPPED, None, self._service.SKIP_BY_AGENT, 0, self._clock.now()))
                self._next = None
                self._next_at = None
                if self._phase == DialerPhase.WAITING:
                    self._schedule_next(self._gap)
            elif self._phase == DialerPhase.RINGING:
                self._cancel_ringing(DialOutcome.CANCELLED)
                self._after_call()
            elif self._phase in (DialerPhase.TALKING, DialerPhase.WRAP_UP):
                raise Conflict("the call was answered: pick an outcome")

        self._step(work, user=True)

    def stop(self) -> None:
        """Stop: a ringing call is cancelled; an answered one ends normally and stops after its outcome."""

        def work() -> None:
            self._stopping = True
            if self._phase in (DialerPhase.TALKING, DialerPhase.WRAP_UP):
                return
            if self._phase == DialerPhase.RINGING:
                self._cancel_ringing(DialOutcome.CANCELLED)
            self._stop_now()

        self._step(work, user=True)

    def set_outcome(self, outcome: DialOutcome | str, *, callback_at: datetime | None = None, note: str | None = None) -> None:
        """The agent's outcome for the answered call (interested, call back later + time, not
        interested, wrong number, do not call). Raises ValidationError / Conflict at once when wrong."""
        result = self._service.parse_outcome(outcome)
        if result == DialOutcome.CALL_BACK and callback_at is None:
            from tscrm.core.errors import ValidationError
            from tscrm.i18n import _

            raise ValidationError(_("callback_at: \"call back later\" needs a time"), "callback_at")
        with self._lock:
            phase = self._phase
        if phase not in (DialerPhase.TALKING, DialerPhase.WRAP_UP):
            raise Conflict("no answered call waiting for an outcome")
        errors: list[TscrmError] = []

        def work() -> None:
            if self._current is None or self._phase not in (DialerPhase.TALKING, DialerPhase.WRAP_UP):
                return
            if self._phase == DialerPhase.TALKING:
                self._current = replace(self._current, outcome_given=result)
                self._pending_outcome = (result, callback_at, note)
                return
            try:
                self._apply_outcome(result, callback_at, note)
            except TscrmError as exc:  # e.g. the call-back task could not be made: the agent may retry
                errors.append(exc)

        self._step(work, user=True)
        if errors:
            raise errors[0]

    def hang_up(self) -> None:
        """End the answered call from tscrm (the far end or the desk phone may end it too)."""

        def work() -> None:
            if self._phase != DialerPhase.TALKING or self._current is None or self._current.call_id is None:
                raise Conflict("no call to hang up")
            call_id = self._current.call_id
            self._backend.hang_up(call_id)
            if self._phase == DialerPhase.TALKING and self._current is not None and self._current.call_id == call_id:
                # the backend did not report the end synchronously: do as if it had
                self._handle(CallEvent(call_id, CallEventKind.ENDED, CallDirection.OUTBOUND, self._current.entry.number, self._clock.now()))

        self._step(work, user=True)

    def resolve_interrupted(self, entry_id: int, *, requeue: bool) -> None:
        """Decide about an interrupted entry: call it again (``requeue``) or close it as interrupted."""

        def work() -> None:
            with self._db.write() as session:
                self._service.resolve_interrupted(session, self._actor, entry_id, requeue=requeue)
            self._interrupted = tuple(e for e in self._interrupted if e.entry_id != entry_id)
            if requeue and self._phase == DialerPhase.FINISHED and not self._stopping:
                self._schedule_next(self._gap)

        self._step(work, user=True)

    def close(self) -> None:
        """Stop and stop listening to the backend (the backend itself belongs to the caller)."""
        self.stop()
        self._unsubscribe()

    # -- internals (called with the lock held) ---------------------------------------------------

    def _count(self, **deltas: int) -> None:
        self._counters = replace(self._counters, **{k: getattr(self._counters, k) + v for k, v in deltas.items()})

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule_next(self, delay: float) -> None:
        """Claim the next entry and dial it after ``delay`` seconds."""
        self._cancel_timer()
        now = self._clock.now()
        with self._db.write() as session:
            if self._hours is None:
                self._hours = self._service.agent_hours(session, self._actor)
            claim = self._service.claim_next(session, self._actor, self._list_id, self.run_id, now=now, hours=self._hours)
            upcoming = self._service.upcoming(session, self._list_id, UPCOMING_SHOWN)
            self._remaining = self._service.pending_count(session, self._list_id)
        for skipped in claim.skipped:
            self._count(skipped=1)
            self._done.append(DoneEntry(_view(skipped), EntryState.SKIPPED, None, skipped.skip_reason or "", 0, now))
        self._upcoming = tuple(_view(e) for e in upcoming)
        if claim.off_hours is not None:  # the agent's day is over: wait, skip nothing
            self._next = None
            self._next_at = None
            self._error = claim.off_hours
            self._paused = True
            self._phase = DialerPhase.PAUSED
            return
        if claim.entry is None:
            self._next = None
            self._next_at = None
            self._phase = DialerPhase.FINISHED
            return
        self._next = _view(claim.entry)
        self._wait_then_dial(delay)

    def _wait_then_dial(self, delay: float) -> None:
        self._phase = DialerPhase.WAITING
        self._next_at = self._clock.now() + timedelta(seconds=delay)
        if delay <= 0:
            self._dial()
        else:
            self._timer = self._clock.call_later(delay, lambda: self._step(self._dial))

    def _dial(self) -> None:
        self._timer = None
        if self._phase != DialerPhase.WAITING or self._next is None or self._paused or self._stopping:
            return
        entry = self._next
        now = self._clock.now()
        with self._db.write() as session:
            won = self._service.mark_dialling(session, entry.entry_id, self.run_id, now=now)
        if not won:  # the claim went stale and someone else took it: never dial it
            self._next = None
            self._schedule_next(0)
            return
        self._next = None
        self._next_at = None
        self._current = CurrentCall(entry, None, now)
        self._phase = DialerPhase.RINGING
        self._count(dialled=1)
        self._pending_outcome = None
        from tscrm.core.phones import dial_string

        try:
            call_id = self._backend.originate(self._agent, dial_string(entry.number, self._region, self._without_cc))
        except TelephonyError as exc:
            self._failures += 1
            self._finish_unanswered(DialOutcome.FAILED, str(exc))
            if self._failures >= MAX_CONSECUTIVE_FAILURES:
                self._error = str(exc)
                self._paused = True
            self._after_call()
            return
        self._failures = 0
        self._current = replace(self._current, call_id=call_id)
        with self._db.write() as session:
            self._service.set_backend_call_id(session, entry.entry_id, call_id)
        self._timer = self._clock.call_later(self._ring_timeout, lambda: self._step(lambda: self._ring_timeout_hit(call_id)))

    def _ring_timeout_hit(self, call_id: str) -> None:
        if self._phase != DialerPhase.RINGING or self._current is None or self._current.call_id != call_id:
            return
        self._timer = None
        self._cancel_ringing(DialOutcome.NO_ANSWER)
        self._after_call()

    def _cancel_ringing(self, outcome: DialOutcome) -> None:
        assert self._current is not None
        self._cancel_timer()
        call_id = self._current.call_id
        if call_id is not None:
            self._finished_calls.add(call_id)
            try:
                self._backend.hang_up(call_id)
            except TelephonyError:
                pass  # it may have ended on its own meanwhile
        self._finish_unanswered(outcome, "")

    def _finish_unanswered(self, outcome: DialOutcome, reason: str) -> None:
        assert self._current is not None
        current = self._current
        now = self._clock.now()
        with self._db.write() as session:
            self._service.record_unanswered(
                session, self._actor, current.entry.entry_id, outcome, started_at=current.dialled_at, ended_at=now, reason=reason
            )
        self._count(**{_COUNTER_OF[outcome]: 1})
        self._done.append(DoneEntry(current.entry, EntryState.DONE, outcome, reason, 0, now))
        self._current = None

    def _after_call(self) -> None:
        self._current = None
        if self._stopping:
            self._stop_now()
        elif self._paused:
            self._phase = DialerPhase.PAUSED
        else:
            self._schedule_next(self._gap)

    def _stop_now(self) -> None:
        self._cancel_timer()
        if self._next is not None:
            with self._db.write() as session:
                self._service.release_claim(session, self._next.entry_id, self.run_id)
            self._next = None
        self._next_at = None
        self._phase = DialerPhase.STOPPED

    def _apply_outcome(self, outcome: DialOutcome, callback_at: datetime | None, note: str | None) -> None:
        assert self._current is not None
        current = self._current
        now = self._clock.now()
        with self._db.write() as session:
            self._service.record_outcome(session, self._actor, current.entry.entry_id, outcome, callback_at=callback_at, note=note, now=now)
        talk = int(((current.ended_at or now) - (current.answered_at or now)).total_seconds())
        self._done.append(DoneEntry(current.entry, EntryState.DONE, outcome, "", max(0, talk), now))
        self._after_call()

    # -- backend events --------------------------------------------------------------------------

    def _on_event(self, event: CallEvent | None) -> None:
        """Backend events are queued; whoever holds the engine's lock handles them before letting go,
        so a backend thread never waits for the engine (no deadlock while ``originate`` runs)."""
        if event is not None:
            self._inbox.append(event)
        if not self._lock.acquire(blocking=False):
            return  # the thread holding the lock will handle it
        try:
            nested = self._depth > 0
        finally:
            self._lock.release()
        if not nested:
            self._step(lambda: None)

    def _handle(self, event: CallEvent) -> None:
        current = self._current
        # a callback backend (Zadarma) returns a provisional id; its events carry the real one and,
        # on the first, data["callback_id"] = the provisional id: from then on both name the call
        tied = event.data.get("callback_id") if event.data else None
        if current is not None and tied and tied == current.call_id and event.call_id != tied:
            self._aliases[event.call_id] = tied
        if event.call_id in self._aliases:
            event = replace(event, call_id=self._aliases[event.call_id])
        if current is None or event.call_id != current.call_id or event.call_id in self._finished_calls:
            return
        if event.kind == CallEventKind.ANSWERED and self._phase == DialerPhase.RINGING:
            self._cancel_timer()
            answered = self._clock.now()
            with self._db.write() as session:
                entry = self._service.record_answered(
                    session, self._actor, current.entry.entry_id, started_at=current.dialled_at, answered_at=answered
                )
                view = _view(entry)
            self._current = replace(current, entry=view, answered_at=answered)
            self._phase = DialerPhase.TALKING
            self._count(answered=1)
        elif event.kind == CallEventKind.ENDED and self._phase == DialerPhase.RINGING:
            self._cancel_timer()
            self._finished_calls.add(event.call_id)
            self._finish_unanswered(_NETWORK.get(event.outcome, DialOutcome.FAILED), event.reason)
            self._after_call()
        elif event.kind == CallEventKind.ENDED and self._phase == DialerPhase.TALKING:
            self._finished_calls.add(event.call_id)
            ended = self._clock.now()
            assert current.answered_at is not None
            with self._db.write() as session:
                self._service.record_hangup(
                    session, self._actor, current.entry.entry_id, started_at=current.dialled_at, answered_at=current.answered_at, ended_at=ended
                )
            self._count(talk_seconds=max(0, int((ended - current.answered_at).total_seconds())))
            self._current = replace(current, ended_at=ended)
            self._phase = DialerPhase.WRAP_UP
            pending = self._pending_outcome
            if pending is not None:
                self._pending_outcome = None
                try:
                    self._apply_outcome(*pending)
                except TscrmError as exc:
                    self._error = str(exc)  # stays in wrap-up: the agent picks again
