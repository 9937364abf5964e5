"""Passwords and API secrets: in the system keyring, or encrypted in the database, never in clear.

A secret is referred to by a *ref* kept in the owning row (a mail account, a SIP account):
``keyring:NAME`` lives in the system keyring (service "tscrm"); ``db:NAME`` is a ``StoredSecret`` row
encrypted with Fernet under a key derived from ``TSCRM_SECRET_KEY``. Which store is used:
``TSCRM_SECRET_BACKEND`` = ``keyring`` or ``encrypted`` forces one; otherwise the keyring when this
machine has a usable one (a desktop), else the encrypted store (servers, cron).
"""

from __future__ import annotations

import base64
import hashlib
import os

from sqlmodel import Session

from tscrm.core.errors import ConfigError
from tscrm.core.models_telephony import StoredSecret
from tscrm.core.types import utcnow
from tscrm.i18n import _

KEYRING_SERVICE = "tscrm"
KEY_VARIABLE = "TSCRM_SECRET_KEY"
BACKEND_VARIABLE = "TSCRM_SECRET_BACKEND"


def keyring_available() -> bool:
    """A real keyring backend is configured (not the 'fail' or 'null' placeholders)."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:
        return False
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    return getattr(backend, "priority", 0) > 0


def _use_keyring() -> bool:
    forced = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    if forced == "keyring":
        return True
    if forced in ("encrypted", "db"):
        return False
    if forced:
        raise ConfigError(
            _("{var} must be 'keyring' or 'encrypted', not {value!r}.").format(var=BACKEND_VARIABLE, value=forced)
        )
    return keyring_available()


def _fernet():
    from cryptography.fernet import Fernet

    secret = os.environ.get(KEY_VARIABLE, "")
    if not secret:
        raise ConfigError(
            _("No system keyring here: set {var} (any long random text) so that secrets can be stored encrypted.").format(
                var=KEY_VARIABLE
            )
        )
    key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
    return Fernet(key)


def store_secret(session: Session, name: str, value: str) -> str:
    """Keep ``value`` under ``name`` (e.g. "mail/3/password"); returns the ref to save in the owning row."""
    if _use_keyring():
        import keyring

        keyring.set_password(KEYRING_SERVICE, name, value)
        return f"keyring:{name}"
    token = _fernet().encrypt(value.encode()).decode()
    row = session.get(StoredSecret, name)
    if row is None:
        session.add(StoredSecret(name=name, ciphertext=token))
    else:
        row.ciphertext = token
        row.updated_at = utcnow()
    session.flush()
    return f"db:{name}"


def load_secret(session: Session, ref: str) -> str:
    """The clear value of a ref; ConfigError names what is missing (keyring entry, key variable)."""
    store, _sep, name = ref.partition(":")
    if store == "keyring":
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, name)
        if value is None:
            raise ConfigError(_("The system keyring has no secret {name!r}: enter it again.").format(name=name))
        return value
    if store == "db":
        from cryptography.fernet import InvalidToken

        row = session.get(StoredSecret, name)
        if row is None:
            raise ConfigError(_("The secret {name!r} is missing: enter it again.").format(name=name))
        try:
            return _fernet().decrypt(row.ciphertext.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                _("The secret {name!r} cannot be decrypted: {var} is not the key it was stored with.").format(
                    name=name, var=KEY_VARIABLE
                )
            ) from None
    raise ConfigError(_("Unknown secret reference {ref!r}.").format(ref=ref))


def delete_secret(session: Session, ref: str) -> None:
    store, _sep, name = ref.partition(":")
    if store == "keyring":
        import keyring
        from keyring.errors import PasswordDeleteError

        try:
            keyring.delete_password(KEYRING_SERVICE, name)
        except PasswordDeleteError:
            pass
    elif store == "db":
        row = session.get(StoredSecret, name)
        if row is not None:
            session.delete(row)
            session.flush()
