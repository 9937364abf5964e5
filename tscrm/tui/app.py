"""The agent desk: a full-screen Textual app an agent works in all day from the keyboard.

Sections are Textual modes (one screen each, loaded on first use so start-up stays quick).
Database work runs in thread workers; a watcher thread turns other agents' commits into a
``DataChanged`` message so open screens refresh within about a second.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from datetime import datetime

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tscrm.core.db import Database
from tscrm.core.permissions import Actor
from tscrm.i18n import LANGUAGES, N_, _, current_language, set_language
from tscrm.tui.context import AppContext
from tscrm.tui.messages import DataChanged, OpenRecord, OpenSection
from tscrm.tui.sections import SECTION_BY_NAME, SECTIONS

# Where each section's screen lives; a missing module means "not built yet" (a plain placeholder).
SCREEN_PATHS: dict[str, str] = {
    "dashboard": "tscrm.tui.screens.dashboard:DashboardScreen",
    "clients": "tscrm.tui.screens.clients:ClientsScreen",
    "leads": "tscrm.tui.screens.leads:LeadsScreen",
    "deals": "tscrm.tui.screens.deals:DealsScreen",
    "calendar": "tscrm.tui.screens.calendar:CalendarScreen",
    "tasks": "tscrm.tui.screens.tasks:TasksScreen",
    "calls": "tscrm.tui.screens.calls:CallsScreen",
    "team": "tscrm.tui.screens.team:TeamScreen",
    "analytics": "tscrm.tui.screens.analytics:AnalyticsScreen",
    "settings": "tscrm.tui.screens.settings:SettingsScreen",
    "help": "tscrm.tui.screens.help:HelpScreen",
}
CARD_PATHS: dict[str, str] = {
    "client": "tscrm.tui.screens.client_card:ClientCardScreen",
    "lead": "tscrm.tui.screens.lead_card:LeadCardScreen",
    "deal": "tscrm.tui.screens.deal_card:DealCardScreen",
}
HEARTBEAT_S = 30


def _load(path: str):
    module_name, _sep, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return getattr(module, attr)


def screen_factory(section: str):
    def make() -> Screen:
        cls = _load(SCREEN_PATHS[section])
        if cls is None:
            from tscrm.tui.screens.placeholder import placeholder

            cls = placeholder(section)
        return cls()

    return make


PHONE_START_DELAY_S = 0.3


class TscrmApp(App):
    TITLE = "tscrm"
    CSS_PATH = "app.tcss"
    MODES = {name: screen_factory(name) for name in SCREEN_PATHS}
    BINDINGS = [
        *[Binding(s.key, f"section('{s.name}')", s.label, show=False) for s in SECTIONS],
        Binding("slash", "search", N_("Search"), key_display="/"),
        Binding("ctrl+n", "claim_next", N_("Claim next lead")),
        Binding("ctrl+e", "notifications", N_("Notifications"), show=False),
        Binding("f2", "toggle_phone", N_("Phone"), priority=True),
        Binding("ctrl+l", "cycle_language", N_("Language"), show=False),
        Binding("ctrl+q", "quit", N_("Quit"), priority=True),
    ]

    def __init__(
        self, ctx: AppContext, *, watch_changes: bool = True, heartbeat: bool = True, telephony: bool = True
    ) -> None:
        from tscrm.tui.telephony import Phone

        super().__init__()
        self.ctx = ctx
        self.phone = Phone(self)  # the call widget, the incoming-call pop and the header read it
        self.telephony = telephony
        self.clock: Callable[[], datetime] | None = None  # tests and snapshots fix "now" here
        self.watch_changes = watch_changes
        self.heartbeat = heartbeat

    # -- lifecycle -----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.switch_mode("dashboard")
        if self.watch_changes:
            self.watch_database()
        if self.heartbeat:
            self.beat()
            self.set_interval(HEARTBEAT_S, self.beat)
        if self.telephony:
            # after the first screen is up: reading the settings and starting a backend must not slow it
            self.set_timer(PHONE_START_DELAY_S, self.phone.start)

    def on_unmount(self) -> None:
        from tscrm.tui.widgets.dialer_panel import close_dialer

        close_dialer(self)
        self.phone.close()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def watch_database(self) -> None:
        from textual.worker import get_current_worker

        from tscrm.core.changes import ChangeWatcher

        worker = get_current_worker()
        watcher = ChangeWatcher(self.ctx.db)
        try:
            while not worker.is_cancelled:
                if watcher.wait(1.0):
                    self.post_message(DataChanged())
        finally:
            watcher.close()

    @work(thread=True, group="heartbeat", exit_on_error=False)
    def beat(self) -> None:
        from tscrm.core.services import users

        with self.ctx.db.write() as session:
            users.touch(session, self.ctx.actor.id)

    def on_data_changed(self, _message: DataChanged) -> None:
        self.refresh_screens()
        self.phone.data_changed()

    def refresh_screens(self) -> None:
        """The current screen reloads now; the others when they are shown next."""
        if not self.is_running or not self._screen_stack:
            return  # a change noticed while the app closes (its screens are gone already)
        current = self.screen
        for screen in self._installed_section_screens():
            if screen is current:
                screen.refresh_data()
            else:
                screen.stale = True
        if hasattr(current, "refresh_data") and current not in self._installed_section_screens():
            current.refresh_data()

    def _installed_section_screens(self) -> list[Screen]:
        screens = []
        for stack in self._screen_stacks.values():
            screens.extend(s for s in stack if hasattr(s, "refresh_data") and hasattr(s, "stale"))
        return screens

    # -- navigation ----------------------------------------------------------------------------

    def action_section(self, name: str) -> None:
        if name in SECTION_BY_NAME and name != self.current_mode:
            self.switch_mode(name)

    def on_open_section(self, message: OpenSection) -> None:
        self.action_section(message.section)
        if message.preset is not None:
            screen = self.screen
            apply = getattr(screen, "apply_preset", None)
            if apply is not None:
                self.call_after_refresh(apply, message.preset)

    def on_open_record(self, message: OpenRecord) -> None:
        self.open_record(message.kind, message.id)

    def open_record(self, kind: str, record_id: int) -> None:
        cls = _load(CARD_PATHS.get(kind, ""))
        if cls is None:
            self.notify(_("There is no card screen for {kind} records yet.").format(kind=_(kind)), severity="warning")
            return
        self.push_screen(cls(record_id))

    def action_toggle_phone(self) -> None:
        self.phone.toggle_widget()

    def action_notifications(self) -> None:
        from tscrm.tui.screens.notifications import NotificationCentre

        self.push_screen(NotificationCentre())

    def action_open_import(self, entity: str = "client") -> None:
        from tscrm.tui.screens.import_screen import ImportScreen

        self.push_screen(ImportScreen(entity))

    def action_import_history(self) -> None:
        from tscrm.tui.screens.import_history import ImportHistoryScreen

        self.push_screen(ImportHistoryScreen())

    def action_search(self) -> None:
        from tscrm.tui.screens.search import SearchScreen

        def chosen(result: tuple[str, int] | None) -> None:
            if result is not None:
                self.open_record(*result)

        self.push_screen(SearchScreen(), chosen)

    @work(thread=True, exclusive=True, group="claim")
    def action_claim_next(self) -> None:
        from tscrm.core.services import leads

        with self.ctx.db.write() as session:
            lead = leads.claim_next(session, self.ctx.actor)
        if lead is None:
            self.call_from_thread(self.notify, _("The pool is empty: no lead to claim."), severity="warning")
            return
        self.call_from_thread(self.notify, _("Lead claimed: {name}").format(name=lead.name))
        self.call_from_thread(self.open_record, "lead", lead.id)
        self.call_from_thread(self.refresh_screens)

    # -- language ------------------------------------------------------------------------------

    def action_cycle_language(self) -> None:
        codes = list(LANGUAGES)
        self.switch_language(codes[(codes.index(current_language()) + 1) % len(codes)])

    def switch_language(self, code: str) -> None:
        """Re-render every screen in ``code`` at once, and remember it for the user."""
        set_language(code)
        self.save_language(code)
        for stack in self._screen_stacks.values():
            for screen in stack:
                screen.refresh(recompose=True)
        self.notify(_("Language: {name}").format(name=LANGUAGES[current_language()]))

    @work(thread=True, group="language", exit_on_error=False)
    def save_language(self, code: str) -> None:
        from tscrm.core.services import users

        with self.ctx.db.write() as session:
            users.set_language(session, self.ctx.actor, code)

    # -- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for section in SECTIONS:
            yield SystemCommand(
                _("Go to {section}").format(section=_(section.label)),
                _("Open the {section} section").format(section=_(section.label)),
                lambda name=section.name: self.action_section(name),
            )
        yield SystemCommand(_("Search"), _("Universal search"), self.action_search)
        yield SystemCommand(_("Claim next lead"), _("Take the oldest unprocessed lead of the pool"), self.action_claim_next)
        yield SystemCommand(_("Import clients or leads"), _("From a CSV or Excel file (Clients or Leads: i)"), self.action_open_import)
        yield SystemCommand(_("Import history"), _("Past imports; cancel (undo) one"), self.action_import_history)
        yield SystemCommand(_("Notifications"), _("New mail (ctrl+e)"), self.action_notifications)
        yield SystemCommand(_("Phone"), _("Show or hide the call widget (F2)"), self.action_toggle_phone)
        from tscrm.tui.screens.bulk_sms import sms_commands
        from tscrm.tui.screens.dialer import dialer_commands

        yield from dialer_commands(self)
        yield from sms_commands(self)
        for code, name in LANGUAGES.items():
            yield SystemCommand(
                _("Language: {name}").format(name=name), _("Switch the interface language"), lambda c=code: self.switch_language(c)
            )
        # every action the current screen offers, under its own title
        for _key, (_ns, binding, enabled, _tip) in screen.active_bindings.items():
            if enabled and binding.description and _ns is screen:
                yield SystemCommand(
                    _(binding.description),
                    _("Key: {key}").format(key=binding.key_display or binding.key),
                    lambda action=binding.action, target=screen: self.call_after_refresh(target.run_action, action),
                )
        yield SystemCommand(_("Quit"), _("Leave tscrm"), self.exit)


def run_app(db: Database, actor: Actor | None = None, *, login_email: str | None = None) -> None:
    """Open the desk as ``actor``; without one (a shared database), ask for email and password first."""
    if actor is None:
        from tscrm.tui.screens.login import ask_login

        actor = ask_login(db, login_email)
        if actor is None:
            return
    set_language(actor.language)
    TscrmApp(AppContext.load(db, actor)).run()
