"""tscrm: a CRM and agent desk for call centres that lives in the terminal."""

__version__ = "0.1.0"
