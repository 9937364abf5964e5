"""Moved to tscrm.labels (the TUI uses them too); kept so existing imports keep working."""

from tscrm.labels import *  # noqa: F403
from tscrm.labels import label  # noqa: F401
