"""Moved to tscrm.present.records (the TUI uses them too); kept so existing imports keep working."""

from tscrm.present.records import *  # noqa: F403
from tscrm.present.records import contact_records, deal_records, feed_records, first_phone, format_phone  # noqa: F401
