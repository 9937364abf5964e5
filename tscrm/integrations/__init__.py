"""Clients of outside services (Zadarma, Teamsale, ...). Never imported by tscrm.core."""
