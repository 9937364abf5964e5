"""The phone inside the app: owns the user's call backend, follows the call on the line, and writes
every call event to core.

One ``Phone`` lives on the app (``app.phone``). Backend listeners may fire on any thread: events hop
onto the app's loop with ``call_soon_threadsafe``. Database work and backend requests run on one
thread of their own, in order, so a call's "incoming", "answered" and "ended" reach core in the order
they happened and a note typed during the call lands after the call row exists. In desk-phone mode
the PBX's webhooks arrive through ``tscrm serve`` into the database: each ``DataChanged`` makes the
phone read the new PBX events of the user's extension and feed them to the backend as call events.

The widget (tscrm/tui/widgets/call_widget.py) and the incoming-call pop
(tscrm/tui/screens/incoming_call.py) are views of this state; it survives screen switches.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.signal import Signal

from tscrm.core.errors import TelephonyUnsupported, TscrmError
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.i18n import _
from tscrm.telephony.base import AgentLine, CallBackend, CallEvent, CallEventKind, Capability

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 5.0
BackendFactory = Callable[[Any, Any], CallBackend]  # (session, user) -> an unstarted backend


class PhoneStatus:
    OFF = "off"  # not started (yet)
    STARTING = "starting"
    READY = "ready"
    NOT_CONFIGURED = "not_configured"
    ERROR = "error"


@dataclass
class CallState:
    """The call on the line, as the widget and the pop show it."""

    number: str  # E.164 when we know it, else as the backend gave it
    direction: CallDirection
    call_id: str | None = None  # the backend's id (None while an outbound call is being placed)
    name: str = ""
    record: tuple[str, int] | None = None  # ("client" | "lead", id) on the line, when known
    company: str = ""
    last_activity: str = ""
    owner_name: str = ""
    state: str = "dialling"  # dialling, ringing, incoming, answered, ended
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: CallOutcome | None = None
    db_id: int | None = None  # the Call row, once core has it
    muted: bool = False
    identified: bool = False  # the number lookup is done (found or not)
    bound: bool = False  # an event of the backend carried this call's id
    hang_up_asked: bool = False
    notes: list[str] = field(default_factory=list)  # notes written into the feed during the call

    @property
    def live(self) -> bool:
        return self.state != "ended"

    def seconds(self, now: datetime) -> int:
        """Talk time so far (or ring time before the answer)."""
        start = self.answered_at or self.started_at
        if start is None:
            return 0
        end = self.ended_at or now
        return max(0, int((end - start).total_seconds()))


def clock(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def mode_label(mode: str | None) -> str:
    labels = {
        "softphone": _("softphone"),
        "desk_phone": _("desk phone"),
        "softphone_working_hours": _("softphone in working hours"),
    }
    return labels.get(str(mode or ""), str(mode or ""))


class Phone:
    """The app's telephone. Every public method is called on the app's loop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.backend_factory: BackendFactory | None = None  # None: tscrm.telephony.factory.backend_for
        self.backend: CallBackend | None = None
        self.status = PhoneStatus.OFF
        self.problem = ""  # what to configure, or what went wrong
        self.mode: str | None = None
        self.extension: str | None = None  # the user's PBX extension
        self.without_country_code = False  # the company dials national numbers without +CC
        self.side = "right"
        self.call: CallState | None = None
        self.last_call: CallState | None = None
        self.calls_logged = 0  # bumped when an ended call is in the database: the history reloads on it
        self.changed: Signal[Phone] = Signal(app, "phone-changed")
        # the widget's fields survive screen switches
        self.widget_visible = False
        self.docks: weakref.WeakSet[Any] = weakref.WeakSet()  # the mounted CallDocks (one, normally)
        self.number_text = ""
        self.note_text = ""
        # two threads: database writes in order (a call's events, then its notes), and backend requests
        # in order (a hang-up after the originate), so a slow backend never holds up the call log
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tscrm-phone-db")
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tscrm-phone-backend")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: contextvars.Context | None = None  # the app's (Textual finds its app there)
        self._unsubscribe: Callable[[], None] | None = None
        self._pbx_after: int | None = None
        self._closed = False

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def _soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the app's loop, from any thread."""
        if self._loop is None or self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(fn, *args, context=self._context)
        except RuntimeError:  # the loop closed meanwhile (app exiting)
            pass

    def _submit(self, fn: Callable[..., Any], *args: Any, backend: bool = False) -> None:
        """Run ``fn(*args)`` on the database thread (or, ``backend``, on the backend thread)."""
        if self._closed:
            return

        def run() -> None:
            try:
                fn(*args)
            except TscrmError as exc:
                self._soon(self._say, str(exc), "error")
            except Exception as exc:  # a backend bug must not kill the phone thread
                log.exception("phone job failed")
                self._soon(self._say, _("Telephony error: {error}").format(error=exc), "error")

        (self._control if backend else self._jobs).submit(run)

    def _say(self, message: str, severity: str = "information") -> None:
        self.app.notify(message, severity=severity, timeout=10)  # type: ignore[arg-type]

    def _changed(self) -> None:
        self.changed.publish(self)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until the queued jobs ran (tests; app exit)."""
        self._control.submit(lambda: None).result(timeout=timeout)
        self._jobs.submit(lambda: None).result(timeout=timeout)

    # -- start and stop -----------------------------------------------------------------------

    def start(self) -> None:
        """Read the user's settings and start the backend, off the event loop (the first frame
        must not wait for them); the header says "not configured" as soon as that is known."""
        if self._closed or not self.app.is_running:  # the app quit before the delayed start came
            return
        if self._loop is None:
            from textual.signal import SignalError

            try:
                self.app.screen_change_signal.subscribe(self.app, self._screen_changed)
            except SignalError:  # the app is shutting down
                return
            self._loop = asyncio.get_running_loop()
            self._context = contextvars.copy_context()
            self.app.set_interval(1.0, self._tick)
        self._submit(self._read_settings)

    def _read_settings(self) -> None:
        from tscrm.core.services import telephony, users
        from tscrm.core.services.company import get_company

        problem = None
        with self.ctx.db.read() as session:
            settings = telephony.user_settings(session, self.ctx.actor.id)
            user = users.get_user(session, self.ctx.actor.id)
            found = {
                "mode": str(getattr(settings.mode, "value", settings.mode)),
                "side": settings.widget_side if settings.widget_side in ("left", "right") else "right",
                "extension": user.extension,
                "without_country_code": get_company(session).dial_without_country_code,
            }
            if self.backend_factory is None:
                from tscrm.telephony.factory import check_settings

                try:
                    check_settings(session, user)
                except TscrmError as exc:
                    problem = str(exc)
        self._soon(self._settings_read, found, problem)

    def _settings_read(self, found: dict[str, Any], problem: str | None) -> None:
        self.mode, self.side = found["mode"], found["side"]
        self.extension, self.without_country_code = found["extension"], found["without_country_code"]
        if problem is not None:
            self.status, self.problem = PhoneStatus.NOT_CONFIGURED, problem
            self._changed()
            return
        self.status = PhoneStatus.STARTING
        self._changed()
        self._submit(self._start_backend, backend=True)

    def restart(self) -> None:
        """After the settings changed: drop the backend and start again."""
        if self.call is not None and self.call.live:
            self._say(_("The new telephony settings apply after this call."), "warning")
            return
        self._submit(self._stop_backend, backend=True)
        self.status = PhoneStatus.OFF
        self.start()

    def _screen_changed(self, _screen) -> None:
        if self.widget_visible:
            from tscrm.tui.widgets.call_widget import follow_screens

            follow_screens(self.app)

    def _tick(self) -> None:
        if self.call is not None and self.call.state == "answered":
            self._changed()  # the header's timer

    def _start_backend(self) -> None:
        from tscrm.core.errors import TelephonyError
        from tscrm.core.services import users

        factory = self.backend_factory
        if factory is None:
            from tscrm.telephony.factory import backend_for as factory
        try:
            with self.ctx.db.read() as session:
                user = users.get_user(session, self.ctx.actor.id)
                backend = factory(session, user)
            start = getattr(backend, "start", None)
            if callable(start):
                start()
        except TelephonyError as exc:
            self._soon(self._backend_failed, str(exc), PhoneStatus.NOT_CONFIGURED)
            return
        except Exception as exc:  # unreachable server, refused credentials, a bug: say it, keep the app
            log.exception("the call backend did not start")
            self._soon(self._backend_failed, str(exc), PhoneStatus.ERROR)
            return
        self.backend = backend
        self._unsubscribe = backend.subscribe(self._listener)
        if self.mode == "desk_phone" or self._events_from_pbx():
            self._pbx_after = self._last_pbx_event_id()
        self._soon(self._backend_ready)

    def _backend_ready(self) -> None:
        self.status, self.problem = PhoneStatus.READY, ""
        self._changed()

    def _backend_failed(self, message: str, status: str) -> None:
        self.status, self.problem = status, message
        self._changed()

    def _stop_backend(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        backend, self.backend = self.backend, None
        if backend is not None:
            try:
                backend.close()
            except Exception:  # closing must never stop the app from exiting
                log.exception("closing the call backend failed")

    def close(self) -> None:
        """The app is leaving: hang up, unregister, finish the queued writes."""
        if self._closed:
            return
        self._submit(self._stop_backend, backend=True)
        waits = [self._jobs.submit(lambda: None), self._control.submit(lambda: None)]
        self._closed = True
        for done in waits:
            try:
                done.result(timeout=CLOSE_WAIT_S)  # the last writes (a call that just ended) reach the database
            except Exception:  # a backend stuck in a request: leave it, the app must be able to quit
                log.warning("the phone threads did not finish within %s s", CLOSE_WAIT_S)
        self._jobs.shutdown(wait=False)
        self._control.shutdown(wait=False)

    # -- state for the header -----------------------------------------------------------------

    def status_text(self) -> str:
        call = self.call
        if call is not None and call.live:
            who = call.name or call.number
            if call.state == "answered":
                from tscrm.tui.context import clock_of

                return _("in call {time} · {who}").format(time=clock(call.seconds(clock_of(self.app))), who=who)
            if call.state == "incoming":
                return _("incoming call · {who}").format(who=who)
            return _("calling {who}…").format(who=who)
        if self.status == PhoneStatus.READY:
            return _("{mode}: ready").format(mode=mode_label(self.mode))
        if self.status == PhoneStatus.STARTING:
            return _("{mode}: connecting…").format(mode=mode_label(self.mode))
        if self.status == PhoneStatus.ERROR:
            return _("phone: error")
        if self.status == PhoneStatus.NOT_CONFIGURED:
            return _("phone: not configured")
        return _("no calls")

    def can(self, capability: Capability) -> bool:
        return self.backend is not None and capability in self.backend.capabilities

    def not_ready_message(self) -> str:
        if self.status == PhoneStatus.STARTING:
            return _("The phone is still connecting; try again in a moment.")
        if self.problem:
            return _("The phone is not ready: {problem}").format(problem=self.problem)
        return _("The phone is not configured: see Settings → Telephony.")

    # -- events from the backend --------------------------------------------------------------

    def _listener(self, event: CallEvent) -> None:
        self._soon(self.handle_event, event)

    def handle_event(self, event: CallEvent) -> None:
        call = self.call
        mine = call is not None and call.live and (
            event.call_id == call.call_id
            or (call.call_id is not None and event.data.get("callback_id") == call.call_id)
            or (not call.bound and call.direction == CallDirection.OUTBOUND and event.kind != CallEventKind.INCOMING)
        )
        if mine:
            assert call is not None
            call.call_id, call.bound = event.call_id, True
            self._update(call, event)
        elif event.kind == CallEventKind.INCOMING and (call is None or not call.live):
            call = CallState(
                number=event.number, direction=event.direction, call_id=event.call_id, state="incoming",
                started_at=event.at, bound=True,
            )
            self.call = call
            self._submit(self._apply, call, event)
            self._submit(self._identify, call)
            self._pop(call)
            self._changed()
            return
        else:
            call = None
            if event.kind == CallEventKind.INCOMING:
                self._say(_("Another call is ringing: {number}").format(number=event.number), "warning")
        self._submit(self._apply, call, event)

    def _update(self, call: CallState, event: CallEvent) -> None:
        if event.kind == CallEventKind.RINGING:
            call.state = "ringing"
        elif event.kind == CallEventKind.ANSWERED:
            call.state, call.answered_at = "answered", event.at
        elif event.kind == CallEventKind.ENDED:
            call.state, call.ended_at, call.outcome = "ended", event.at, event.outcome
            self.last_call = call
            self.call = None
            self._ended(call, event)
        self._submit(self._apply, call, event)
        self._changed()

    def _ended(self, call: CallState, event: CallEvent) -> None:
        from tscrm.core.services.calls import OUTCOME_LABELS

        outcome = _(OUTCOME_LABELS[call.outcome]) if call.outcome in OUTCOME_LABELS else _("ended")
        text = _("Call with {who} ended: {outcome}").format(who=call.name or call.number, outcome=outcome)
        if call.answered_at is not None:
            text += f" · {clock(call.seconds(call.ended_at or event.at))}"
        if event.reason and call.outcome != CallOutcome.ANSWERED:
            text += f" ({event.reason})"
        self._say(text)

    def _pop(self, call: CallState) -> None:
        from tscrm.tui.screens.incoming_call import IncomingCallScreen
        from tscrm.tui.widgets.call_widget import show_call_widget

        if not isinstance(self.app.screen, IncomingCallScreen):
            self.widget_visible = True
            show_call_widget(self.app, focus=False)  # stays with the call when the pop is hidden
        self.app.push_screen(IncomingCallScreen(call))

    def show_pop(self) -> None:
        """Bring the pop back for the call on the line (the widget's "Caller" button)."""
        from tscrm.tui.screens.incoming_call import IncomingCallScreen

        if self.call is not None and self.call.live and not isinstance(self.app.screen, IncomingCallScreen):
            self.app.push_screen(IncomingCallScreen(self.call))

    # -- work on the phone thread -------------------------------------------------------------

    def _apply(self, call: CallState | None, event: CallEvent) -> None:
        from tscrm.core.services import telephony

        me = self.ctx.actor
        if self._events_from_pbx():
            # the webhook server stored and applied this event already (with the agent the PBX named):
            # applying it again here would make whichever app reads it first the call's agent
            with self.ctx.db.read() as session:
                found = telephony.call_by_external_id(session, event.call_id)
                if found is not None and call is not None:
                    call.db_id = found.id
                    if call.record is None and (found.client_id or found.lead_id):
                        call.record = ("client", found.client_id) if found.client_id else ("lead", found.lead_id)  # type: ignore[assignment]
            self._soon(self._applied, event)
            return
        agent_id = me.id if not event.extension or event.extension == self.extension else None
        with self.ctx.db.write() as session:
            row = telephony.apply_call_event(
                session,
                call_id=event.call_id,
                kind=str(event.kind.value),
                direction=str(event.direction.value),
                number=event.number,
                at=event.at,
                agent_id=agent_id,
                extension=event.extension or self.extension,
                outcome=event.outcome,
                did=event.did,
                data=dict(event.data),
            )
            db_id = row.id
            if call is not None and call.record is None and (row.client_id or row.lead_id):
                call.record = ("client", row.client_id) if row.client_id else ("lead", row.lead_id)  # type: ignore[assignment]
        if call is not None:
            call.db_id = db_id
        self._soon(self._applied, event)

    def _events_from_pbx(self) -> bool:
        """Desk-phone mode: call events come from the PBX's webhooks, through the database."""
        return getattr(self.backend, "name", "") == "zadarma"

    def _applied(self, event: CallEvent) -> None:
        if event.kind == CallEventKind.ENDED:
            self.calls_logged += 1
        if event.kind in (CallEventKind.ENDED, CallEventKind.INCOMING, CallEventKind.ANSWERED):
            self._refresh()
        self._changed()

    def _identify(self, call: CallState) -> None:
        from tscrm.core.services import telephony

        with self.ctx.db.read() as session:
            match = telephony.identify_number(session, self.ctx.actor, call.number)
        self._soon(self._identified, call, match)

    def _identified(self, call: CallState, match: Any) -> None:
        call.identified = True
        if match is not None:
            call.record = (match.kind, match.id)
            call.name = match.name
            call.company = match.company or ""
            call.owner_name = match.owner_name or ""
            call.last_activity = match.last_activity_text or ""
        self._changed()

    # -- what the user does -------------------------------------------------------------------

    def dial(self, number: str, *, name: str = "", record: tuple[str, int] | None = None) -> bool:
        """Place a call to ``number`` (any format the company's region reads); False if it cannot start."""
        if self.call is not None and self.call.live:
            self._say(_("You are already in a call: hang up first."), "warning")
            return False
        from tscrm.core.errors import ValidationError
        from tscrm.core.phones import dial_string, format_phone, parse_phone

        if self.backend is None:
            message = self.not_ready_message()
            reason = (self.problem or message).rstrip(".")
            try:
                e164 = parse_phone(number, self.ctx.region).e164
                message = _("Telephony is not connected yet ({problem}): dial {dial} ({number}) for {name}.").format(
                    problem=reason,
                    dial=dial_string(e164, self.ctx.region, self.without_country_code),
                    number=format_phone(e164, self.ctx.region),
                    name=name or e164,
                )
            except ValidationError:
                pass
            self._say(message, "warning")
            return False

        number = number.strip()
        if not number:
            self._say(_("Type a number to call."), "warning")
            return False
        if number.isdigit() and len(number) <= 6:  # an extension: a colleague
            e164 = number
        else:
            try:
                e164 = parse_phone(number, self.ctx.region).e164
            except ValidationError as exc:
                self._say(str(exc), "error")
                return False
        from tscrm.core.types import utcnow

        call = CallState(number=e164, direction=CallDirection.OUTBOUND, name=name, record=record, started_at=utcnow())
        call.identified = record is not None
        self.call = call
        self._submit(self._originate, call, backend=True)
        if record is None and not e164.isdigit():
            self._submit(self._identify, call)
        self.show_widget()
        self._changed()
        return True

    def _originate(self, call: CallState) -> None:
        from tscrm.core.phones import dial_string

        backend = self.backend
        if backend is None:
            self._soon(self._originate_failed, call, self.not_ready_message())
            return
        if call.number.startswith("+"):
            target = dial_string(call.number, self.ctx.region, self.without_country_code)
        else:
            target = call.number
        agent = AgentLine(extension=self.extension or "", user_id=self.ctx.actor.id)
        try:
            call_id = backend.originate(agent, target)
        except TscrmError as exc:
            self._soon(self._originate_failed, call, str(exc))
            return
        except Exception as exc:
            log.exception("originate failed")
            self._soon(self._originate_failed, call, _("Telephony error: {error}").format(error=exc))
            return
        if not call.bound:
            call.call_id = call_id
        if call.hang_up_asked:
            self._unsupported_aware(backend.hang_up, call_id)

    def _originate_failed(self, call: CallState, message: str) -> None:
        if self.call is call:
            self.call = None
        self._say(message, "error")
        self._changed()

    def answer(self) -> None:
        call = self.call
        if call is None or call.state != "incoming" or call.call_id is None:
            return
        if not self.can(Capability.ANSWER):
            self._say(_("Answer on your phone: in desk-phone mode the call rings there."), "warning")
            return
        self._submit(self._unsupported_aware, self.backend.answer, call.call_id, backend=True)  # type: ignore[union-attr]

    def hang_up(self) -> None:
        call = self.call
        if call is None or not call.live:
            return
        if call.call_id is None:
            call.hang_up_asked = True  # the call is still being placed: hang up as soon as it has an id
            return
        if self.backend is not None:
            self._submit(self._unsupported_aware, self.backend.hang_up, call.call_id, backend=True)

    def send_dtmf(self, digits: str) -> None:
        call = self.call
        if call is None or call.state != "answered" or self.backend is None or call.call_id is None:
            return
        self._submit(self._unsupported_aware, self.backend.send_dtmf, call.call_id, digits, backend=True)

    def toggle_mute(self) -> None:
        call = self.call
        if call is None or call.state != "answered" or self.backend is None or call.call_id is None:
            return
        if not self.can(Capability.MUTE):
            self._say(_("Mute works in softphone mode only: use your phone's mute key."), "warning")
            return
        call.muted = not call.muted
        self._submit(self._unsupported_aware, self.backend.set_muted, call.call_id, call.muted, backend=True)
        self._changed()

    def _unsupported_aware(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except TelephonyUnsupported as exc:
            self._soon(self._say, str(exc), "warning")

    def transfer(self, member_id: int, extension: str, name: str) -> None:
        """Hand the answered call to a colleague: REFER in SIP mode; in desk-phone mode, the phone's own
        transfer key (the PBX has no transfer request) — either way the hand-over is recorded."""
        call = self.call
        if call is None or not call.live or self.backend is None or call.call_id is None:
            self._say(_("No call to transfer."), "warning")
            return
        if not extension:
            self._say(_("{name} has no extension to transfer to.").format(name=name), "warning")
            return
        self._submit(self._transfer, call, member_id, extension, name, backend=True)

    def _transfer(self, call: CallState, member_id: int, extension: str, name: str) -> None:
        assert self.backend is not None and call.call_id is not None
        try:
            self.backend.transfer(call.call_id, extension)
            message, severity = _("Call transferred to {name} ({ext}).").format(name=name, ext=extension), "information"
        except TelephonyUnsupported:
            message = _("Use your phone's transfer key to pass the call to {name} ({ext}); the hand-over is recorded.").format(
                name=name, ext=extension
            )
            severity = "warning"
        self._soon(self._say, message, severity)
        self._submit(self._record_handover, call, member_id)

    def _record_handover(self, call: CallState, member_id: int) -> None:
        from tscrm.core.services import telephony

        if call.db_id is None:
            raise TscrmError(_("The call is not recorded yet; the hand-over was not noted."))
        with self.ctx.db.write() as session:
            telephony.record_handover(session, self.ctx.actor, call.db_id, member_id)
        self._soon(self._refresh)

    def add_note(self, text: str, call: CallState | None = None) -> None:
        """Write ``text`` into the feed of the client or lead on the line (through the call)."""
        call = call or self.call or self.last_call
        text = text.strip()
        if not text:
            return
        if call is None:
            self._say(_("No call to attach the note to."), "warning")
            return
        call.notes.append(text)
        self._submit(self._add_note, call, text)

    def _add_note(self, call: CallState, text: str) -> None:
        from tscrm.core.services import telephony

        if call.db_id is None:
            raise TscrmError(_("The call is not recorded yet; the note was not saved."))
        with self.ctx.db.write() as session:
            telephony.add_call_note(session, self.ctx.actor, call.db_id, text)
        self._soon(self._note_saved, call)

    def _note_saved(self, call: CallState) -> None:
        self.app.notify(_("Note saved in the feed."), timeout=3)
        self._refresh()

    def _refresh(self) -> None:
        refresh = getattr(self.app, "refresh_screens", None)
        if refresh is not None:
            refresh()

    def create_record(self, call: CallState, kind: str, name: str, *, open_card: bool = True) -> None:
        """Make a client or lead of the caller; its card opens and the call's notes are in its feed."""
        self._submit(self._create_record, call, kind, name, open_card)

    def _create_record(self, call: CallState, kind: str, name: str, open_card: bool) -> None:
        from tscrm.core.services import telephony

        if call.db_id is None:
            raise TscrmError(_("The call is not recorded yet; try again in a moment."))
        with self.ctx.db.write() as session:
            made_kind, made_id = telephony.create_from_call(session, self.ctx.actor, call.db_id, kind, name)
        self._soon(self._created, call, made_kind, made_id, name, open_card)

    def _created(self, call: CallState, kind: str, record_id: int, name: str, open_card: bool) -> None:
        call.record, call.name, call.identified = (kind, record_id), name, True
        self._say(_("{kind} created: {name}").format(kind=_("Client") if kind == "client" else _("Lead"), name=name))
        self._refresh()
        if open_card:
            self.app.open_record(kind, record_id)  # type: ignore[attr-defined]
        self._changed()

    # -- desk-phone mode: PBX events stored by ``tscrm serve`` --------------------------------

    def data_changed(self) -> None:
        """Another commit landed: in desk-phone mode, new PBX events may be among them."""
        if self._pbx_after is not None and self.backend is not None and hasattr(self.backend, "deliver"):
            self._submit(self._pull_pbx_events)

    def _last_pbx_event_id(self) -> int:
        from tscrm.core.services import telephony

        with self.ctx.db.read() as session:
            return telephony.last_pbx_event_id(session)

    def _pull_pbx_events(self) -> None:
        from tscrm.core.services import telephony
        from tscrm.telephony.zadarma import event_from_webhook

        backend = self.backend
        if backend is None or self._pbx_after is None:
            return
        with self.ctx.db.read() as session:
            rows = telephony.pbx_events_after(session, self._pbx_after, extension=self.extension)
            tz = telephony.pbx_timezone(session)
            payloads = [(row.id, dict(row.payload)) for row in rows]
        for row_id, payload in payloads:
            self._pbx_after = max(self._pbx_after, int(row_id))
            event = event_from_webhook(payload, tz)
            current = self.call
            # only what rings (or names) my extension, and my call's own events: the rest is the
            # business of the webhook server (which records every call) and of the other agents' apps
            if event is not None and (
                (event.extension and event.extension == self.extension)
                or (current is not None and current.call_id == event.call_id)
            ):
                backend.deliver(event)  # type: ignore[attr-defined]

    # -- the widget -------------------------------------------------------------------------

    def show_widget(self) -> None:
        from tscrm.tui.widgets.call_widget import show_call_widget

        self.widget_visible = True
        show_call_widget(self.app)

    def toggle_widget(self) -> None:
        """F2: show the widget and focus it; focus it when shown but not focused; else hide it."""
        from tscrm.tui.widgets.call_widget import CallDock, hide_call_widget, show_call_widget, widget_focused

        if self.widget_visible and self.app.screen.query(CallDock) and not widget_focused(self.app):
            show_call_widget(self.app)
            return
        self.widget_visible = not self.widget_visible
        if self.widget_visible:
            show_call_widget(self.app)
        else:
            hide_call_widget(self.app)

