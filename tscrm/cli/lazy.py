"""Command groups loaded on demand, so that ``tscrm --help`` and short commands start fast.

Each entry names the module whose ``app`` (a Typer) is the group, and the group's one-line help
(the same text as the module's own, so the catalogue holds it once). To add a group, add a line.
"""

from __future__ import annotations

import importlib
from typing import Any

from typer.core import TyperCommand

from tscrm.i18n import N_, _

LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "clients": ("tscrm.cli.clients", N_("Clients: add, list, show, edit, delete, search.")),
    "leads": ("tscrm.cli.leads", N_("Leads and the shared pool: add, list, claim, close, release.")),
    "deals": ("tscrm.cli.deals", N_("Deals: add, list, show, move through the pipeline, board.")),
    "tasks": ("tscrm.cli.tasks", N_("Tasks: add, list, mark done.")),
    "notes": ("tscrm.cli.notes", N_("Notes in the feed of a client, lead or deal.")),
    "calls": ("tscrm.cli.calls", N_("Calls: the log of inbound, outbound and internal calls.")),
    "team": ("tscrm.cli.team", N_("Team: colleagues, extensions, working hours, presence.")),
    "db": ("tscrm.cli.db", N_("Database schema: upgrade, status.")),
    "schedule": ("tscrm.cli.schedule", N_("Scheduler: run what is due (delayed SMS, reminders, mail sync) from cron; install the timer.")),
    "sms": ("tscrm.cli.sms", N_("SMS: send one or many (templates, delivery report), manage templates.")),
    "dial": ("tscrm.cli.dial", N_("Auto-dialer: call lists from a tag, a filter or a file of numbers; run them.")),
    "mail": ("tscrm.cli.mail", N_("Mail: accounts, sync into the feeds, sending, mailings, signatures.")),
    "import": (
        "tscrm.cli.imports",
        N_("Import clients or leads from CSV/Excel files or a Teamsale account; history and undo."),
    ),
    "export": ("tscrm.cli.exports", N_("Export clients, leads, deals or calls to CSV, Excel (.xlsx) or vCard (.vcf).")),
    "analytics": ("tscrm.cli.analytics", N_("Analytics: calls, deals, leads and tasks per agent and period.")),
}


def load_group(name: str) -> Any:
    """The real click group behind a lazy name (imports its module)."""
    import typer.main

    module_name, _help = LAZY_GROUPS[name]
    module = importlib.import_module(module_name)
    module.app._add_completion = False  # only the root offers shell completion
    command = typer.main.get_group(module.app)  # a group even when it has one command
    command.name = name
    return command


class LazyGroup(TyperCommand):
    """Stands in for a command group in the root's listing; parsing hands over to the real group."""

    def __init__(self, name: str) -> None:
        super().__init__(name, help=_(LAZY_GROUPS[name][1]))
        self._real: Any | None = None

    @property
    def real(self) -> Any:
        if self._real is None:
            self._real = load_group(self.name or "")
        return self._real

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.help or ""

    def make_context(self, info_name: str | None, args: list[str], parent: Any | None = None, **extra: Any) -> Any:
        return self.real.make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:  # only reached if a caller skips make_context
        return self.real.invoke(ctx)


def add_lazy_groups(group: Any) -> None:
    for name in LAZY_GROUPS:
        if name not in group.commands:
            group.add_command(LazyGroup(name), name)
