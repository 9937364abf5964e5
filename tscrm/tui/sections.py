"""The sections of the app, as in the product it replaces, with their number keys."""

from __future__ import annotations

from dataclasses import dataclass

from tscrm.i18n import N_


@dataclass(frozen=True)
class Section:
    name: str
    label: str  # translated where shown
    key: str


SECTIONS: tuple[Section, ...] = (
    Section("dashboard", N_("Dashboard"), "1"),
    Section("clients", N_("Clients"), "2"),
    Section("deals", N_("Deals"), "3"),
    Section("calendar", N_("Calendar"), "4"),
    Section("tasks", N_("Tasks"), "5"),
    Section("calls", N_("Calls"), "6"),
    Section("leads", N_("Leads"), "7"),
    Section("team", N_("Team"), "8"),
    Section("analytics", N_("Analytics"), "9"),
    Section("settings", N_("Settings"), "0"),
    Section("help", N_("Help"), "f1"),
)
SECTION_BY_NAME = {s.name: s for s in SECTIONS}
