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
from typing import Any
from urllib.parse import urlencode


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
