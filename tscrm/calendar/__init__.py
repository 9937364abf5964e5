"""CalDAV calendar sync: the network side (caldav) and iCalendar (icalendar); the rules are in core."""
