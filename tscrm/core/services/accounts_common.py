"""What the mail and the calendar accounts share: their password in tscrm.core.secrets, their
removal, the stamp of a sync's outcome, and which of them a sync or a scheduler run takes.

An account model here is one with ``id``, ``name``, ``active``, ``secret_ref``, ``last_sync_at``
and ``last_error`` (tscrm.core.models_mail.MailAccount, tscrm.core.models_calendar.CalendarAccount).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from tscrm.core import secrets
from tscrm.core.errors import ConfigError, TscrmError, ValidationError
from tscrm.core.types import utcnow
from tscrm.i18n import _

if TYPE_CHECKING:
    from tscrm.core.db import Database


def required(value: str | None, field: str, limit: int) -> str:
    """Trimmed, not empty, at most ``limit`` characters."""
    text = (value or "").strip()
    if not text:
        raise ValidationError(_("{field}: must not be empty").format(field=field), field)
    if len(text) > limit:
        raise ValidationError(_("{field}: longer than {limit} characters").format(field=field, limit=limit), field)
    return text


def reject_unknown(changes: Iterable[str], allowed: set[str], message: str) -> None:
    """Refuse a change of a field that is not in ``allowed``; ``message`` (marked with ``N_``, one
    ``{field}``) names the fields."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(_(message).format(field=", ".join(sorted(unknown))), min(unknown))


def check_password(password: str | None) -> None:
    if not password:
        raise ValidationError(_("password: must not be empty"), "password")


def store_password(session: Session, account: Any, kind: str, password: str) -> None:
    """Keep the (checked) password of a flushed account in the keyring or the encrypted store."""
    check_password(password)
    account.secret_ref = secrets.store_secret(session, f"{kind}/{account.id}/password", password)


def load_password(session: Session, account: Any, missing: str) -> str:
    """The account's password; ``missing`` is the (translated) message when it has none."""
    if not account.secret_ref:
        raise ConfigError(missing)
    return secrets.load_secret(session, account.secret_ref)


def delete_account(session: Session, account: Any) -> None:
    """Delete the account and its password (what hangs on it goes by the database's cascades)."""
    if account.secret_ref:
        secrets.delete_secret(session, account.secret_ref)
    session.delete(account)
    session.flush()


def record_sync(session: Session, model: type, account_id: int, error: str | None) -> None:
    """Stamp a sync's outcome on the account (``error`` None = success)."""
    account = session.get(model, account_id)
    if account is None:
        return
    account.last_sync_at = utcnow()
    account.last_error = error[:2000] if error else None
    session.flush()


def accounts_due_for_sync(session: Session, model: Any, now: datetime, every: timedelta) -> list[int]:
    """Active accounts last synced ``every`` ago or more (or never), in id order: what a scheduler run syncs."""
    last = col(model.last_sync_at)
    query = select(model.id).where(col(model.active).is_(True), or_(last.is_(None), last <= now - every)).order_by(col(model.id))
    return list(session.exec(query))


def active_account_ids(db: Database, model: Any, account_ids: list[int] | None = None) -> list[int]:
    """Active accounts (all, or those named), in id order."""
    with db.read() as session:
        query = select(model.id).where(col(model.active).is_(True)).order_by(col(model.id))
        if account_ids is not None:
            query = query.where(col(model.id).in_(account_ids))
        return list(session.exec(query))


@dataclass
class SyncReport:
    """How one account's sync went (each kind of account adds its counts)."""

    account_id: int
    name: str
    ok: bool = True
    error: str | None = None


@contextmanager
def sync_outcome(db: Database, report: SyncReport, record: Any, *, label: Any = None) -> Iterator[None]:
    """Run one account's sync in the ``with`` body and never raise for its failures: they go to
    ``report`` (``ok``, ``error``), and the outcome is stamped by ``record(session, account_id, error)``.
    ``label()`` prefixes an unexpected error (default: the report's name)."""
    try:
        yield
    except TscrmError as exc:
        report.ok, report.error = False, str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or a surprise must not stop the other accounts
        prefix = label() if label is not None else report.name
        report.ok, report.error = False, f"{prefix}: {type(exc).__name__}: {exc}"
    try:
        with db.write() as session:
            record(session, report.account_id, report.error)
    except Exception:  # noqa: BLE001, S110 - the report still tells
        pass
