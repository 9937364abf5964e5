"""Mail adapters: IMAP sync (imap, parse, sync), SMTP sending (smtp), account checks (check)."""
