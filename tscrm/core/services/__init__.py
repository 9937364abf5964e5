"""Domain services: one module per area. Every business rule lives here."""
