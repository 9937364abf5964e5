"""The Dialer: pick a call list, run it with your phone, and work the live queue.

The table lists your call lists and the shared ones with their progress; Enter starts the highlighted
one with the phone of the app (``app.phone.backend``) or, when the app has none running, the
backend of your telephony settings (``tscrm.telephony.factory.backend_for``). The panel below is the
live queue (tscrm/tui/widgets/dialer_panel.py): p pause, r resume, s skip, x stop, h hang up, and
after an answered call the outcome (i interested, c call back later, n not interested, w wrong
number, d do not call). Calls an earlier run left without a result ("interrupted") are asked about
when the list starts: call them again, close them, or decide later.

The run belongs to the app: leaving the screen (escape) keeps it going, and the call widget's
Dialer tab shows it. Open the screen from the command palette ("Dialer") or with D in Calls.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from tscrm.core.errors import TelephonyError, TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.widgets.dialer_panel import (
    DialerPanel,
    DialerRun,
    current_run,
    dialer_signal,
)
from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.status_header import StatusHeader

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", N_("Call list"), 32),
    ("shared", N_("Shared"), 7),
    ("pending", N_("To call"), 8),
    ("done", N_("Done"), 6),
    ("skipped", N_("Skipped"), 8),
    ("interrupted", N_("Interrupted"), 11),
    ("created", N_("Created"), 16),
)
FORWARDED = ("pause", "resume", "skip", "stop", "hang_up")


def list_rows(session: Any, actor: Any) -> list[dict[str, Any]]:
    from tscrm.core.services import dialer

    return dialer.list_summaries(session, actor)


def dialer_backend(app: App) -> tuple[Any, bool]:
    """The call backend for the dialer and whether the dialer owns it (must close it).

    The app's phone backend when it runs (one line, one registration); else the user's configured
    backend, started here. Raises a TscrmError saying what is wrong (not configured, still connecting).
    """
    phone = getattr(app, "phone", None)
    backend = getattr(phone, "backend", None)
    if backend is not None:
        return backend, False
    if phone is not None and getattr(phone, "status", None) == "starting":
        raise TelephonyError(phone.not_ready_message())
    from tscrm.core.services.users import get_user
    from tscrm.telephony.factory import backend_for

    ctx = app.ctx  # type: ignore[attr-defined]
    with ctx.db.read() as session:
        backend = backend_for(session, get_user(session, ctx.actor.id))
    start = getattr(backend, "start", None)
    if callable(start):
        start()
    return backend, True


def open_dialer(app: App) -> None:
    """Show the Dialer screen (once: a second request brings nothing new)."""
    if not isinstance(app.screen, DialerScreen):
        app.push_screen(DialerScreen())


def dialer_commands(app: App):
    """The command palette's entries for the dialer (``yield from dialer_commands(self)`` in the app)."""
    yield SystemCommand(_("Dialer"), _("Call lists and the auto-dialer's live queue (D in Calls)"), lambda: open_dialer(app))


class DialerScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("f5", "reload", N_("Refresh"), show=False),
        *[Binding(key, f"panel('{action}')", show=False) for key, action in zip("prsxh", FORWARDED, strict=True)],
        *[Binding(key, f"panel_outcome('{key}')", show=False) for key in "icnwd"],
    ]
    DEFAULT_CSS = """
    DialerScreen #dialer-body { height: 1fr; padding: 0 1; }
    DialerScreen #dialer-lists { height: auto; max-height: 12; }
    DialerScreen .dialer-title { text-style: bold; padding: 1 0 0 0; }
    DialerScreen #dialer-lists-hint { color: $text-muted; }
    DialerScreen #dialer-panel { border-top: solid $accent; margin-top: 1; }
    """

    def __init__(self, *, clock: Any = None) -> None:
        """``clock``: the dialer engine's clock (a VirtualClock in tests); real time by default."""
        super().__init__(id="dialer-screen")
        self.clock = clock
        self.rows: list[dict[str, Any]] = []
        self._asked_interrupted: set[int] = set()
        self._following = False

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Vertical(id="dialer-body"):
            yield Static(_("Call lists"), classes="dialer-title")
            yield DataTable(id="dialer-lists", cursor_type="row", zebra_stripes=True)
            yield Static(
                _("Enter starts the highlighted list · build lists with b in Clients or Leads, or tscrm dial"), id="dialer-lists-hint"
            )
            yield DialerPanel(id="dialer-panel")
        yield KeyBar()

    def on_mount(self) -> None:
        self._setup()

    async def recompose(self) -> None:
        """After a language switch the widgets are new: set them up again (the run goes on)."""
        await super().recompose()
        self._setup()

    def _setup(self) -> None:
        self.query_one(StatusHeader).section_title = _("Dialer")
        table = self.query_one("#dialer-lists", DataTable)
        for key, label, width in COLUMNS:
            table.add_column(_(label), key=key, width=width)
        self._follow()
        run = current_run(self.app)
        if run is not None and run.active:
            self.query_one(DialerPanel).focus()
        else:
            table.focus()
        self.load_lists()

    def refresh_data(self) -> None:
        """The app says the data changed (another agent, or our own dialer): new progress."""
        self.load_lists()

    def action_reload(self) -> None:
        self.load_lists()

    def action_back(self) -> None:
        run = current_run(self.app)
        if run is not None and run.active:
            self.notify(_("The dialer keeps running: F2 shows it in the phone's Dialer tab; x here stops it."), timeout=6)
        self.dismiss()

    # -- the lists ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="dialer-lists", exit_on_error=False)
    def load_lists(self) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                rows = list_rows(session, ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_lists, rows)

    def _show_lists(self, rows: list[dict[str, Any]]) -> None:
        from tscrm.present import show_time

        self.rows = rows
        table = self.query_one("#dialer-lists", DataTable)
        keep = None
        if table.row_count and table.cursor_row is not None and 0 <= table.cursor_row < table.row_count:
            keep = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        table.clear()
        tz = self.ctx.actor.timezone
        for row in rows:
            table.add_row(
                row["name"],
                _("yes") if row["shared"] else "",
                str(row["pending"]),
                str(row["done"]),
                str(row["skipped"]),
                str(row["interrupted"]) if row["interrupted"] else "",
                show_time(row["created_at"], tz),
                key=str(row["id"]),
            )
        if keep is not None:
            with suppress(RowDoesNotExist):  # the list is gone: the cursor stays where it is
                table.move_cursor(row=table.get_row_index(keep))
        self.query_one("#dialer-lists-hint", Static).update(
            _("Enter starts the highlighted list · build lists with b in Clients or Leads, or tscrm dial")
            if rows
            else _("No call list yet: select clients (space) and press b → Add to call list, or use tscrm dial --tag NAME")
        )

    @on(DataTable.RowSelected, "#dialer-lists")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.start_list(int(event.row_key.value))

    # -- starting -------------------------------------------------------------------------------

    def start_list(self, list_id: int) -> None:
        run = current_run(self.app)
        if run is not None and run.active and run.phase != "idle":  # idle: its start failed
            if run.state.list_id == list_id:
                self.query_one(DialerPanel).focus()
                return
            self.notify(_("Another call list is running: stop it first (x)."), severity="warning")
            return
        if run is not None:
            run.close()
        self.prepare(list_id)

    @work(thread=True, exclusive=True, group="dialer-start", exit_on_error=False)
    def prepare(self, list_id: int) -> None:
        from tscrm.telephony.dialer import DialerEngine

        ctx = self.ctx
        try:
            backend, owned = dialer_backend(self.app)
            engine = DialerEngine(ctx.db, ctx.actor, list_id, backend, clock=self.clock)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.app.call_from_thread(self._begin, engine, backend, owned)

    def _begin(self, engine: Any, backend: Any, owned: bool) -> None:
        run = DialerRun(self.app, engine, backend=backend, owns_backend=owned, clock=self.clock)
        panel = self.query_one(DialerPanel)
        panel.attach(run)
        panel.focus()
        run.command("start", done=lambda: self._started(run))

    def _follow(self) -> None:
        """Reload the lists' progress each time the run's phase changes (a call ends, the list ends)."""
        if self._following:
            return
        self._following = True
        seen: dict[str, Any] = {"phase": None}

        def changed(run: DialerRun | None) -> None:
            phase = run.phase if run is not None else None
            if phase != seen["phase"]:
                seen["phase"] = phase
                self.load_lists()

        dialer_signal(self.app).subscribe(self, changed)

    def _started(self, run: DialerRun) -> None:
        self.load_lists()
        pending = [e for e in run.state.interrupted if e.entry_id not in self._asked_interrupted]
        if not pending:
            return
        self._asked_interrupted.update(e.entry_id for e in pending)
        from tscrm.tui.screens.clients import ChoiceDialog

        who = ", ".join((e.name or e.number) for e in pending[:3]) + ("…" if len(pending) > 3 else "")
        title = _("{n} call(s) of an earlier run were interrupted, their result is unknown ({who}). They may have rung once.").format(
            n=len(pending), who=who
        )
        options = [
            ("requeue", _("Call them again")),
            ("close", _("Leave them: close as interrupted")),
            ("later", _("Decide later (they stay aside)")),
        ]

        def chosen(choice: str | None) -> None:
            if choice in ("requeue", "close"):
                for entry in pending:
                    run.command("resolve_interrupted", entry.entry_id, requeue=choice == "requeue")
                self.notify(
                    _("{n} interrupted call(s) back in the queue.").format(n=len(pending))
                    if choice == "requeue"
                    else _("{n} interrupted call(s) closed.").format(n=len(pending))
                )

        self.app.push_screen(ChoiceDialog(title, options, dialog_id="dialer-interrupted"), chosen)

    # -- keys forwarded to the panel (when the list table has the focus) -------------------------

    async def action_panel(self, action: str) -> None:
        await self.query_one(DialerPanel).run_action(action)

    async def action_panel_outcome(self, key: str) -> None:
        await self.query_one(DialerPanel).run_action(f"outcome('{key}')")
