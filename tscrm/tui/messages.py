"""Messages that travel upward from widgets and screens to the app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


class DataChanged(Message):
    """Someone (maybe another agent) committed a change: visible data may be stale."""


@dataclass
class OpenRecord(Message):
    """Open the card of a client, lead or deal."""

    kind: str
    id: int


@dataclass
class OpenSection(Message):
    """Switch to a section, optionally with a preset (e.g. a tab or a filter)."""

    section: str
    preset: str | None = None
