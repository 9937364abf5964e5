"""The company's SMS backend, built once here for the CLI, the TUI and the scheduler.

``sms_backend_for(session)`` reads the Zadarma key and secret (telephony settings, else
``TSCRM_ZADARMA_KEY`` / ``TSCRM_ZADARMA_SECRET``) and returns a ``ZadarmaSmsBackend`` on
``TSCRM_ZADARMA_URL`` (another API address: the sandbox, a test server) with ``TSCRM_SMS_SENDER`` as
the default sender. ``ConfigError`` says what to set up. The caller closes it with
``close_sms_backend`` when done (it holds an HTTP client).
"""

from __future__ import annotations

import os
from typing import Any

from tscrm.core.errors import ConfigError
from tscrm.i18n import _

SENDER_VARIABLE = "TSCRM_SMS_SENDER"


def sms_backend_for(session: Any) -> Any:
    """The SMS backend of the company (Zadarma); ConfigError when no API key is set up."""
    try:
        from tscrm.telephony.zadarma import (
            DEFAULT_BASE_URL,
            URL_VARIABLE,
            ZadarmaClient,
            ZadarmaSmsBackend,
            zadarma_credentials,
        )
    except ImportError as exc:  # pragma: no cover - the telephony extra is part of tscrm
        raise ConfigError(_("No SMS service is available in this installation")) from exc
    key, secret = zadarma_credentials(session)
    client = ZadarmaClient(key, secret, base_url=os.environ.get(URL_VARIABLE) or DEFAULT_BASE_URL)
    return ZadarmaSmsBackend(client, os.environ.get(SENDER_VARIABLE) or None)


def close_sms_backend(backend: Any) -> None:
    """Let go of the backend's HTTP client (any backend: one without a client is left alone)."""
    client = getattr(backend, "client", None)
    close = getattr(client, "close", None)
    if callable(close):
        close()
