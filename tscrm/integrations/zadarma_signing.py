"""Zadarma request signing, shared by the PBX API (telephony) and the Teamsale CRM API (imports).

The algorithm is the one Zadarma's own SDKs implement (see ``../shared/reference/zadarma-api.md``):

1. all request parameters, ``format`` included, sorted by key and written as an RFC 1738 query
   string (spaces as ``+``, ``+`` as ``%2B``); nested values as PHP's ``http_build_query`` writes
   them (``a%5Bb%5D=1``);
2. ``data = method_path + query + md5_hex(query)``;
3. ``signature = base64(hex(HMAC_SHA1(secret, data)))`` -- base64 of the 40-character hex text.

The request carries ``Authorization: <key>:<signature>``. Webhooks are signed the same way over a
per-event concatenation of fields, sent in a ``Signature`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

# Where the API key, secret and address come from when the telephony settings hold none.
KEY_VARIABLE = "TSCRM_ZADARMA_KEY"
SECRET_VARIABLE = "TSCRM_ZADARMA_SECRET"
URL_VARIABLE = "TSCRM_ZADARMA_URL"  # another API address (the sandbox, a test server)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """PHP ``http_build_query`` semantics: nested keys in brackets, None dropped, booleans as 1/0."""
    if value is None:
        return
    if isinstance(value, Mapping):
        # nested keys sorted too: the server rebuilds them in the order received, and a server that
        # sorts the flattened names gets the same order
        for key in sorted(value, key=str):
            _flatten(f"{prefix}[{key}]", value[key], out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    elif isinstance(value, bool):
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))


def query_pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The parameters in the order they are signed and sent: top-level keys sorted."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(params):
        _flatten(str(key), params[key], pairs)
    return pairs


def query_string(params: Mapping[str, Any] | Iterable[tuple[str, str]]) -> str:
    """The signed query string (RFC 1738, as PHP's ``http_build_query`` and Python's ``urlencode``)."""
    pairs = query_pairs(params) if isinstance(params, Mapping) else list(params)
    return urlencode(pairs)


def sign(method_path: str, params: Mapping[str, Any], secret: str) -> str:
    """The signature of a request to ``method_path`` (exactly the path sent, e.g. ``/v1/zcrm/leads``)."""
    query = query_string(params)
    data = method_path + query + hashlib.md5(query.encode("utf-8")).hexdigest()
    digest = hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def authorization(key: str, secret: str, method_path: str, params: Mapping[str, Any]) -> str:
    """The value of the ``Authorization`` header."""
    return f"{key}:{sign(method_path, params, secret)}"


def webhook_signature(secret: str, signed_text: str) -> str:
    """``base64(hex(HMAC_SHA1(secret, text)))``: the ``Signature`` header of a webhook."""
    digest = hmac.new(secret.encode("utf-8"), signed_text.encode("utf-8"), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def signature_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two signatures."""
    return given is not None and hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))


# The fields whose values, concatenated in this order, a webhook's ``Signature`` signs (Zadarma's SDK,
# lib/Webhook/*.php; the SMS event from its NotifySms class). See ../shared/reference/zadarma-api.md §1.4.
WEBHOOK_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
    "SMS": ("result",),
}


def webhook_signed_text(event: str, fields: Mapping[str, Any]) -> str:
    """The text a webhook of ``event`` signs (KeyError for an event Zadarma does not sign this way)."""
    return "".join(str(fields.get(name) or "") for name in WEBHOOK_SIGNED_FIELDS[event])


def webhook_event_signature(event: str, fields: Mapping[str, Any], secret: str) -> str:
    """The ``Signature`` header Zadarma sends with webhook ``event`` carrying ``fields``."""
    return webhook_signature(secret, webhook_signed_text(event, fields))


# --- one signed request, for every client of Zadarma's APIs (PBX and Teamsale) --------------------


@dataclass(frozen=True)
class SignedRequest:
    """What to put on the wire: GET (and DELETE) carry the parameters in the URL, POST and PUT as a form."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None = None


def signed_request(
    http_method: str, base_url: str, method_path: str, params: Mapping[str, Any] | None, key: str, secret: str
) -> SignedRequest:
    """Sign ``params`` (plus ``format=json`` unless given) for ``method_path`` and lay them out to send.

    The parameters are sent in exactly the order and encoding that was signed.
    """
    verb = http_method.upper()
    signed = {**(params or {})}
    signed.setdefault("format", "json")
    query = query_string(signed)
    headers = {"Authorization": authorization(key, secret, method_path, signed)}
    url = base_url.rstrip("/") + method_path
    if verb in ("GET", "DELETE"):
        return SignedRequest(verb, f"{url}?{query}" if query else url, headers)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return SignedRequest(verb, url, headers, query)
