"""The domain: tables, services, search, permissions, settings."""
