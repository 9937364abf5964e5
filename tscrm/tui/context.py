"""What every screen needs: the database, who is working, and the company's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tscrm.core.db import Database
from tscrm.core.permissions import Actor


@dataclass
class AppContext:
    db: Database
    actor: Actor
    company_name: str = ""
    base_currency: str = "EUR"
    region: str | None = None

    @classmethod
    def load(cls, db: Database, actor: Actor) -> AppContext:
        from tscrm.core.services.company import get_company

        with db.read() as session:
            company = get_company(session)
            return cls(db, actor, company.name, company.base_currency, company.default_region)


def clock_of(app) -> datetime:
    """The app's "now": ``app.clock()`` when a test or snapshot fixes time, else the real UTC time."""
    from tscrm.core.types import utcnow

    clock = getattr(app, "clock", None)
    return clock() if clock is not None else utcnow()
