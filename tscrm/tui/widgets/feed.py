"""The activity feed of a client, lead or deal: every event in time order, filterable by kind."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.text import Text
from textual.widgets import RichLog

from tscrm.core.models import Activity, ActivityKind
from tscrm.core.services.activity import display_text
from tscrm.i18n import N_, _
from tscrm.labels import (
    CALL_DIRECTIONS,
    CALL_OUTCOMES,
    DEAL_STATUSES,
    LEAD_STATUSES,
    label,
)

KIND_LABELS: dict[str, str] = {
    ActivityKind.CREATED: N_("Created"),
    ActivityKind.EDITED: N_("Edited"),
    ActivityKind.STATUS_CHANGED: N_("Status"),
    ActivityKind.CLAIMED: N_("Claimed"),
    ActivityKind.OWNER_CHANGED: N_("Responsible"),
    ActivityKind.CONVERTED: N_("Converted"),
    ActivityKind.NOTE: N_("Note"),
    ActivityKind.CALL: N_("Call"),
    ActivityKind.TASK: N_("Task"),
    ActivityKind.TASK_DONE: N_("Task done"),
    ActivityKind.DEAL: N_("Deal"),
    ActivityKind.TAGGED: N_("Tags"),
    ActivityKind.EMAIL: N_("Email"),
    ActivityKind.SMS: N_("SMS"),
}
KIND_STYLES: dict[str, str] = {
    ActivityKind.NOTE: "yellow",
    ActivityKind.CALL: "green",
    ActivityKind.DEAL: "magenta",
    ActivityKind.TASK: "cyan",
    ActivityKind.TASK_DONE: "cyan",
    ActivityKind.EMAIL: "blue",
    ActivityKind.SMS: "blue",
}
# The kind filter cycles through these groups (None = everything).
FILTERS: tuple[tuple[str, frozenset[str] | None], ...] = (
    (N_("All"), None),
    (N_("Notes"), frozenset({ActivityKind.NOTE})),
    (N_("Calls"), frozenset({ActivityKind.CALL})),
    (N_("Tasks"), frozenset({ActivityKind.TASK, ActivityKind.TASK_DONE})),
    (N_("Deals"), frozenset({ActivityKind.DEAL})),
    (N_("Changes"), frozenset({ActivityKind.CREATED, ActivityKind.EDITED, ActivityKind.STATUS_CHANGED, ActivityKind.CLAIMED, ActivityKind.OWNER_CHANGED, ActivityKind.CONVERTED, ActivityKind.TAGGED})),
    (N_("Email and SMS"), frozenset({ActivityKind.EMAIL, ActivityKind.SMS})),
)


def describe(entry: Activity, authors: dict[int, str]) -> str:
    """One line of detail for an entry, beyond its text (call outcome and duration, status moves)."""
    data = entry.data or {}
    parts: list[str] = []
    if entry.kind == ActivityKind.CALL:
        if data.get("direction"):
            parts.append(label(CALL_DIRECTIONS, data["direction"]))
        if data.get("outcome"):
            parts.append(label(CALL_OUTCOMES, data["outcome"]))
        if data.get("duration"):
            seconds = int(data["duration"])
            parts.append(f"{seconds // 60}:{seconds % 60:02d}")
        if data.get("recording_ref"):
            parts.append(_("recording"))
    elif entry.kind == ActivityKind.STATUS_CHANGED and "from" in data and "to" in data:

        names = {**LEAD_STATUSES, **DEAL_STATUSES} if entry.deal_id else LEAD_STATUSES  # "in progress", not "in_progress"
        parts.append(f"{label(names, data['from'])} → {label(names, data['to'])}")
    return " · ".join(parts)


class ActivityFeed(RichLog):
    """Shows entries given by ``show(entries, authors, tz)``; ``cycle_filter()`` switches kinds."""

    DEFAULT_CSS = """
    ActivityFeed { border: round $panel-lighten-1; padding: 0 1; }
    ActivityFeed:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, **kwargs)
        self.filter_index = 0
        self._entries: list[Activity] = []
        self._authors: dict[int, str] = {}
        self._tz = ZoneInfo("UTC")

    @property
    def filter_label(self) -> str:
        return _(FILTERS[self.filter_index][0])

    def show(self, entries: list[Activity], authors: dict[int, str], tz: str) -> None:
        self._entries, self._authors, self._tz = entries, authors, ZoneInfo(tz)
        self._render_entries()

    def cycle_filter(self) -> str:
        self.filter_index = (self.filter_index + 1) % len(FILTERS)
        self._render_entries()
        return self.filter_label

    def _render_entries(self) -> None:
        self.clear()
        kinds = FILTERS[self.filter_index][1]
        self.border_title = _("Activity") + f" · {self.filter_label}"
        shown = [e for e in self._entries if kinds is None or e.kind in kinds]
        if not shown:
            self.write(Text(_("Nothing here yet."), style="dim"))
            return
        for entry in shown:
            when = entry.created_at.astimezone(self._tz).strftime("%Y-%m-%d %H:%M")
            line = Text()
            line.append(when, style="dim")
            line.append(f"  {_(KIND_LABELS.get(entry.kind, entry.kind))}", style=f"bold {KIND_STYLES.get(entry.kind, '')}".strip())
            author = self._authors.get(entry.author_id or -1)
            if author:
                line.append(f"  {author}", style="dim")
            detail = describe(entry, self._authors)
            if detail:
                line.append(f"  {detail}", style="italic")
            self.write(line)
            text = display_text(entry)
            if text:
                self.write(Text("    " + text))
