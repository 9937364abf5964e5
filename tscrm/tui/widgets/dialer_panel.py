"""The live dialer queue: a view of a running ``DialerEngine`` (tscrm/telephony/dialer.py) and its keys.

Two pieces:

- ``DialerRun``: one run of the auto-dialer in the app (engine, its backend, its clock). It lives on
  the app (``current_run(app)``), so it survives screen switches: the full Dialer screen starts it and
  the call widget's Dialer tab shows the same run. The engine calls back from any thread: each change
  hops onto the app's loop and is published on ``run.changed`` (a Textual signal). Engine commands
  may block (they write to the database, the backend places calls): ``run.command(...)`` runs them in
  a thread worker and turns errors into notifications.
- ``DialerPanel``: the widget. The call on the line (number, name, phase, a timer), the countdown to
  the next call during the gap, the next entries, the done entries with their outcome, the counters
  (dialled, answered, no answer, busy, talk time). ``DialerPanel(compact=True)`` is the small version
  for the call widget's Dialer tab. Without a run it says how to start one.

Keys (the panel focused, or forwarded by the Dialer screen): p pause, r resume, s skip, x stop,
h hang up; after an answered call the outcome: i interested, c call back later (asks the time, in the
user's zone), n not interested, w wrong number, d do not call.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.signal import Signal
from textual.widgets import Input, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _

log = logging.getLogger(__name__)

RUN_ATTRIBUTE = "dialer_run"  # where the app keeps its DialerRun
SIGNAL_ATTRIBUTE = "dialer_changed"  # and the signal of its changes
OUTCOME_KEYS: dict[str, str] = {  # key -> DialOutcome value (as ``tscrm dial run``)
    "i": "interested",
    "c": "call_back",
    "n": "not_interested",
    "w": "wrong_number",
    "d": "do_not_call",
}
PHASE_LABELS: dict[str, str] = {
    "idle": N_("not started"),
    "waiting": N_("next call soon"),
    "ringing": N_("ringing"),
    "talking": N_("talking"),
    "wrap_up": N_("call ended: pick the outcome"),
    "paused": N_("paused"),
    "finished": N_("finished: nobody left to call"),
    "stopped": N_("stopped"),
}
ACTIVE_PHASES = frozenset({"idle", "waiting", "ringing", "talking", "wrap_up", "paused"})


def minutes(seconds: int) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins}:{secs:02d}"


def current_run(app: App) -> DialerRun | None:
    """The app's dialer run (running or ended), if one was started."""
    return getattr(app, RUN_ATTRIBUTE, None)


def dialer_signal(app: App) -> Signal[DialerRun | None]:
    """Published with the run (or None) on every change of the app's dialer: a run starts, its state
    changes, it is closed. The panel and the header subscribe: ``dialer_signal(app).subscribe(node, fn)``."""
    signal = getattr(app, SIGNAL_ATTRIBUTE, None)
    if signal is None:
        signal = Signal(app, "dialer-changed")
        setattr(app, SIGNAL_ATTRIBUTE, signal)
    return signal


def dialer_status_text(app: App) -> str:
    """One line for the header: "dialer idle", or the running list and what it does."""
    run = current_run(app)
    if run is None or not run.active:
        return _("dialer idle")
    phase = run.phase
    return _("dialer: {name} · {phase}").format(name=run.state.list_name, phase=_(PHASE_LABELS.get(phase, phase)))


class DialerRun:
    """One agent working one call list in the app. Created on the app's loop."""

    def __init__(self, app: App, engine: Any, *, backend: Any = None, owns_backend: bool = False, clock: Any = None) -> None:
        self.app = app
        self.engine = engine
        self.backend = backend
        self.owns_backend = owns_backend
        self.clock = clock
        self.state = engine.state()
        self.changed = dialer_signal(app)
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._closed = False
        self._unsubscribe = engine.subscribe(self._listener)
        setattr(app, RUN_ATTRIBUTE, self)
        self.changed.publish(self)

    # -- state --------------------------------------------------------------------------------

    @property
    def phase(self) -> str:
        return str(self.state.phase.value)

    @property
    def active(self) -> bool:
        """Started and not over (finished or stopped)."""
        return self.phase in ACTIVE_PHASES and not self._closed

    def now(self) -> datetime:
        if self.clock is not None:
            return self.clock.now()
        from tscrm.core.types import utcnow

        return utcnow()

    def _listener(self, _state: Any) -> None:
        """From the engine, on any thread: read the newest state on the app's loop."""
        if self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(self._publish, context=self._context)
        except RuntimeError:  # the loop closed meanwhile (app exiting)
            pass

    def _publish(self) -> None:
        if self._closed:
            return
        error_before = self.state.error
        self.state = self.engine.state()
        if self.state.error and self.state.error != error_before:  # the engine paused itself: say why, wherever the user is
            self.app.notify(_("Dialer paused: {error}").format(error=self.state.error), severity="error", timeout=10)
        self.changed.publish(self)

    # -- commands -----------------------------------------------------------------------------

    def command(self, name: str, *args: Any, done: Callable[[], None] | None = None, **kwargs: Any) -> None:
        """Run ``engine.<name>(*args, **kwargs)`` in a thread; a TscrmError becomes a notification."""
        method = getattr(self.engine, name)
        app = self.app

        def work() -> None:
            try:
                method(*args, **kwargs)
            except TscrmError as exc:
                app.call_from_thread(app.notify, str(exc), severity="error", timeout=8)
                return
            except Exception as exc:  # a backend bug: say it, keep the app
                log.exception("dialer command %s failed", name)
                app.call_from_thread(app.notify, _("Dialer error: {error}").format(error=exc), severity="error", timeout=10)
                return
            app.call_from_thread(self._publish)
            if done is not None:
                app.call_from_thread(done)

        app.run_worker(work, thread=True, group="dialer", exit_on_error=False, name=f"dialer-{name}")

    def close(self, *, wait: bool = False) -> None:
        """Stop the run (a ringing call is cancelled) and let go of the backend if it is ours.

        ``wait``: do it now, in this thread (the app is exiting: a worker would not run any more)."""
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        engine, backend, owned = self.engine, self.backend, self.owns_backend

        def work() -> None:
            try:
                engine.close()
            except Exception:  # closing must never stop the app
                log.exception("closing the dialer failed")
            if owned and backend is not None:
                try:
                    backend.close()
                except Exception:
                    log.exception("closing the dialer's backend failed")

        if getattr(self.app, RUN_ATTRIBUTE, None) is self:
            setattr(self.app, RUN_ATTRIBUTE, None)
            if not wait:
                self.changed.publish(None)
        if wait:
            work()
        else:
            self.app.run_worker(work, thread=True, group="dialer-close", exit_on_error=False)


def close_dialer(app: App) -> None:
    """The app is leaving: stop its dialer run, if any (``on_unmount``; blocks briefly)."""
    run = current_run(app)
    if run is not None:
        run.close(wait=True)


# --- "call back later": when ---------------------------------------------------------------------


def parse_callback_time(raw: str, tz: str, now: datetime) -> datetime:
    """A time typed in the user's zone: "2026-12-01 10:00", "10:00" (today, or tomorrow if past),
    "+2h" / "+30m" / "+1d" (from now). Returns aware UTC; ValidationError when unreadable or past."""
    from tscrm.core.errors import ValidationError
    from tscrm.present import get_zone, parse_time

    text = (raw or "").strip().lower()
    if not text:
        raise ValidationError(_("When: type a time like 2026-12-01 10:00, 10:00 or +2h"), "callback")
    zone = get_zone(tz)
    if text.startswith("+") and text[-1:] in ("m", "h", "d") and text[1:-1].isdigit():
        amount = int(text[1:-1])
        unit = {"m": "minutes", "h": "hours", "d": "days"}[text[-1]]
        return now + timedelta(**{unit: amount})
    if len(text) <= 5 and ":" in text:
        hour, _sep, minute = text.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValidationError(_("When: {value!r} is not a time like 10:00").format(value=raw), "callback")
        local = now.astimezone(zone).replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
        if local <= now:
            local += timedelta(days=1)
        return local.astimezone(now.tzinfo)
    when = parse_time(text, tz, _("When"))
    assert when is not None
    if when <= now:
        raise ValidationError(_("When: that time is past"), "callback")
    return when


def default_callback_text(now: datetime, tz: str) -> str:
    """Tomorrow at 10:00 in the user's zone, as the dialog proposes it."""
    from tscrm.present import get_zone

    local = (now.astimezone(get_zone(tz)) + timedelta(days=1)).replace(hour=10, minute=0)
    return local.strftime("%Y-%m-%d %H:%M")


class CallbackDialog(ModalScreen[tuple[datetime, str] | None]):
    """When to call back (in the user's zone) and an optional note; Enter confirms, escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = """
    CallbackDialog { align: center middle; }
    CallbackDialog > Vertical { width: 60; max-width: 95%; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    CallbackDialog .dialog-title { text-style: bold; padding: 0 0 1 0; }
    CallbackDialog .dialog-hint { color: $text-muted; }
    CallbackDialog .dialog-error { color: $error; height: auto; }
    """

    def __init__(self, who: str, tz: str, now: datetime) -> None:
        super().__init__(id="dialer-callback")
        self.who, self.tz, self.now = who, tz, now

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Call back {who}: when? ({zone})").format(who=self.who, zone=self.tz), classes="dialog-title")
            yield Input(default_callback_text(self.now, self.tz), id="callback-when")
            yield Input(placeholder=_("note (optional)"), id="callback-note")
            yield Static("", id="callback-error", classes="dialog-error")
            yield Static(_("2026-12-01 10:00 · 10:00 · +2h · Enter confirms · escape cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#callback-when", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            when = parse_callback_time(self.query_one("#callback-when", Input).value, self.tz, self.now)
        except TscrmError as exc:
            self.query_one("#callback-error", Static).update(str(exc))
            self.query_one("#callback-when", Input).focus()
            return
        self.dismiss((when, self.query_one("#callback-note", Input).value.strip()))


# --- the panel -------------------------------------------------------------------------------------


class DialerPanel(Vertical, can_focus=True):
    """The live queue of the app's dialer run; ``compact`` for the call widget's Dialer tab."""

    BINDINGS = [
        Binding("p", "pause", N_("Pause")),
        Binding("r", "resume", N_("Resume")),
        Binding("s", "skip", N_("Skip")),
        Binding("x", "stop", N_("Stop")),
        Binding("h", "hang_up", N_("Hang up")),
        Binding("i", "outcome('i')", N_("Interested")),
        Binding("c", "outcome('c')", N_("Call back")),
        Binding("n", "outcome('n')", N_("Not interested")),
        Binding("w", "outcome('w')", N_("Wrong number")),
        Binding("d", "outcome('d')", N_("Do not call")),
    ]
    DEFAULT_CSS = """
    DialerPanel { height: auto; padding: 0 1; }
    DialerPanel:focus { background: $boost; }
    DialerPanel > Static { height: auto; }
    DialerPanel #dialer-head { text-style: bold; }
    DialerPanel #dialer-current { padding: 1 0 0 0; }
    DialerPanel #dialer-counters { padding: 1 0 0 0; }
    DialerPanel #dialer-queue { padding: 1 0 0 0; }
    DialerPanel #dialer-keys { color: $text-muted; padding: 1 0 0 0; }
    DialerPanel.compact #dialer-current, DialerPanel.compact #dialer-counters, DialerPanel.compact #dialer-queue, DialerPanel.compact #dialer-keys { padding: 0; }
    """

    def __init__(self, *, compact: bool = False, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.compact = compact
        self.set_class(compact, "compact")
        self._run: DialerRun | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="dialer-head")
        yield Static("", id="dialer-current")
        yield Static("", id="dialer-counters")
        yield Static("", id="dialer-queue")
        yield Static("", id="dialer-keys")

    def on_mount(self) -> None:
        dialer_signal(self.app).subscribe(self, self._changed)
        self._run = current_run(self.app) or self._run
        self.show()
        self.set_interval(1.0, self._tick)

    # -- the run ------------------------------------------------------------------------------

    @property
    def run(self) -> DialerRun | None:
        return self._run

    def attach(self, run: DialerRun) -> None:
        """Show ``run`` (the app's current run is shown anyway: this only makes it immediate)."""
        self._run = run
        self.show()

    def _changed(self, run: DialerRun | None) -> None:
        if run is not None:
            self._run = run  # None: the run was closed; it stays shown (its counters) until another starts
        self.show()

    def _tick(self) -> None:
        run = self._run
        if run is not None and run.phase in ("waiting", "ringing", "talking"):
            self.show()  # the timers

    # -- rendering ----------------------------------------------------------------------------

    def show(self) -> None:
        if not self.query("#dialer-keys"):
            return  # not composed yet
        run = self._run
        if run is None:
            self.query_one("#dialer-head", Static).update(_("Auto-dialer"))
            self.query_one("#dialer-current", Static).update(
                Text(_("No call list running. Open the Dialer (command palette: Dialer, or D in Calls) and pick a list."), style="dim")
            )
            for part in ("#dialer-counters", "#dialer-queue", "#dialer-keys"):
                self.query_one(part, Static).update("")
            self.refresh_bindings()
            return
        state, now = run.state, run.now()
        self.query_one("#dialer-head", Static).update(self._head(state, now))
        self.query_one("#dialer-current", Static).update(self._current(state, now))
        self.query_one("#dialer-counters", Static).update(self._counters(state))
        self.query_one("#dialer-queue", Static).update(self._queue(state))
        self.query_one("#dialer-keys", Static).update(self._keys(state))
        self.refresh_bindings()

    def _head(self, state: Any, now: datetime) -> Text:
        phase = str(state.phase.value)
        text = Text(state.list_name, style="bold")
        text.append(" · ")
        label = _(PHASE_LABELS.get(phase, phase))
        if phase == "waiting" and state.next_dial_at is not None:
            label = _("next call in {seconds} s").format(seconds=max(0, math.ceil((state.next_dial_at - now).total_seconds())))
        text.append(label, style="reverse bold" if phase in ("ringing", "talking", "wrap_up") else "")
        if state.paused and phase not in ("paused", "finished", "stopped"):
            text.append(" · " + _("pauses after this call"), style="yellow")
        if state.stopping and phase not in ("finished", "stopped"):
            text.append(" · " + _("stops after this call"), style="yellow")
        text.append(" · " + _("{n} to call").format(n=state.remaining), style="dim")
        if state.error:
            text.append("\n" + state.error, style="bold red")
        return text

    def _who(self, entry: Any, *, short: bool = False) -> str:
        """Number and name; ``short``: the name alone when there is one (the compact panel)."""
        from tscrm.core.phones import format_phone

        if short and entry.name:
            return entry.name
        region = getattr(getattr(self.app, "ctx", None), "region", None)
        number = format_phone(entry.number, region)
        return f"{number} {entry.name}" if entry.name else number

    def _current(self, state: Any, now: datetime) -> Text:
        phase = str(state.phase.value)
        call = state.current
        if call is not None:
            text = Text()
            text.append("☎ ", style="bold")
            text.append(self._who(call.entry), style="bold")
            if call.answered_at is None:
                seconds = (now - call.dialled_at).total_seconds()
                text.append("  " + _("ringing {time} (of {limit} s)").format(time=minutes(int(seconds)), limit=state.ring_timeout_s))
            elif call.ended_at is None:
                text.append("  " + _("talking {time}").format(time=minutes(int((now - call.answered_at).total_seconds()))), style="green")
            else:
                text.append("  " + _("talked {time}").format(time=minutes(int((call.ended_at - call.answered_at).total_seconds()))))
            if call.outcome_given is not None:
                from tscrm.core.services.dialer import OUTCOME_LABELS

                text.append("  → " + _(OUTCOME_LABELS[call.outcome_given]), style="cyan")
            return text
        if phase == "waiting" and state.next_entry is not None:
            return Text(_("Next: {who}").format(who=self._who(state.next_entry)))
        if phase == "paused" and state.next_entry is not None:
            return Text(_("Paused before: {who}").format(who=self._who(state.next_entry)))
        return Text(_(PHASE_LABELS.get(phase, phase)), style="dim")

    def _counters(self, state: Any) -> Text:
        c = state.counters
        parts = [
            (_("dialled"), c.dialled),
            (_("answered"), c.answered),
            (_("no answer"), c.no_answer),
            (_("busy"), c.busy),
        ]
        if c.rejected or c.failed:
            parts.append((_("failed"), c.rejected + c.failed))
        if c.skipped:
            parts.append((_("skipped"), c.skipped))
        text = Text()
        for index, (label, value) in enumerate(parts):
            if index:
                text.append(" · ", style="dim")
            text.append(f"{label} ")
            text.append(str(value), style="bold")
        text.append(" · ", style="dim")
        text.append(_("talk time") + " ")
        text.append(minutes(c.talk_seconds), style="bold")
        return text

    def _queue(self, state: Any) -> Text:
        from tscrm.core.services.dialer import OUTCOME_LABELS, skip_reason_text

        upcoming = list(state.upcoming)  # ``next_entry`` is on the line above ("Next: …")
        done_limit, next_limit = (3, 2) if self.compact else (12, 5)
        text = Text()
        if upcoming:
            text.append(_("Then") + "\n", style="bold underline")
            for entry in upcoming[:next_limit]:
                text.append("  → ", style="dim")
                text.append(self._who(entry, short=self.compact) + "\n")
        if state.done:
            text.append(_("Done") + "\n", style="bold underline")
            width = max(len(self._who(item.entry, short=self.compact)) for item in state.done[:done_limit])
            for item in state.done[:done_limit]:
                if item.outcome is not None:
                    label = _(OUTCOME_LABELS[item.outcome])
                    if item.talk_seconds:
                        label += f" ({minutes(item.talk_seconds)})"
                    style = "green" if item.outcome.value in ("interested", "call_back") else ""
                else:
                    label = _("skipped: {reason}").format(reason=skip_reason_text(item.reason))
                    style = "dim"
                text.append("  " + self._who(item.entry, short=self.compact).ljust(width) + "  ")
                text.append(label + "\n", style=style)
        if state.interrupted:
            text.append(_("{n} interrupted call(s) of an earlier run wait for a decision").format(n=len(state.interrupted)), style="yellow")
        text.rstrip()
        return text

    def _keys(self, state: Any) -> Text:
        phase = str(state.phase.value)
        if phase in ("talking", "wrap_up"):
            return Text(_("i interested · c call back · n not interested · w wrong number · d do not call · h hang up"))
        if phase in ("finished", "stopped"):
            return Text("")
        if self.compact:
            return Text(_("p pause · r resume · s skip · x stop"))
        return Text(_("p pause · r resume · s skip · x stop (the outcome keys come after an answered call)"))

    # -- keys ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only the keys that apply now are shown (the others are hidden, not dimmed)."""
        if action not in ("pause", "resume", "skip", "stop", "hang_up", "outcome"):
            return True
        run = self._run
        if run is None or not run.active:
            return False
        state = run.state
        phase = str(state.phase.value)
        if action == "pause":
            return not state.paused and phase in ("waiting", "ringing", "talking", "wrap_up")
        if action == "resume":
            return phase == "paused" or state.paused
        if action == "skip":
            return phase == "ringing" or (phase in ("waiting", "paused") and state.next_entry is not None)
        if action == "stop":
            return not state.stopping
        if action == "hang_up":
            return phase == "talking"
        return phase in ("talking", "wrap_up")

    def _command(self, name: str, *args: Any, **kwargs: Any) -> None:
        run = self.run
        if run is None or not run.active:
            self.notify(_("No call list running."), severity="warning")
            return
        run.command(name, *args, **kwargs)

    def action_pause(self) -> None:
        self._command("pause")

    def action_resume(self) -> None:
        self._command("resume")

    def action_skip(self) -> None:
        self._command("skip")

    def action_stop(self) -> None:
        self._command("stop")

    def action_hang_up(self) -> None:
        self._command("hang_up")

    def action_outcome(self, key: str) -> None:
        run = self.run
        outcome = OUTCOME_KEYS.get(key)
        if run is None or outcome is None:
            return
        state = run.state
        if str(state.phase.value) not in ("talking", "wrap_up") or state.current is None:
            self.notify(_("The outcome is for an answered call."), severity="warning")
            return
        if outcome != "call_back":
            run.command("set_outcome", outcome)
            return
        tz = self.app.ctx.actor.timezone  # type: ignore[attr-defined]

        def chosen(answer: tuple[datetime, str] | None) -> None:
            if answer is not None:
                when, note = answer
                run.command("set_outcome", outcome, callback_at=when, note=note or None)

        self.app.push_screen(CallbackDialog(self._who(state.current.entry), tz, run.now()), chosen)
