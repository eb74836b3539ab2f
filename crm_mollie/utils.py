# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pure helpers: no database, no network."""

import hashlib
import hmac
import json
import re
import uuid

from . import const

_SECRET_RE = re.compile(const.SECRET_PATTERN)
_REDACTED = "[REDACTED]"


def redact_text(text):
    """Mask everything shaped like a Mollie key or token in a free text.

    :param str text: Any text, e.g. an SDK exception message.
    :return: The text with credentials replaced by ``[REDACTED]``.
    :rtype: str
    """
    return _SECRET_RE.sub(_REDACTED, text or "")


def redact(data):
    """Return a copy of a JSON-like structure with sensitive values masked.

    Values under a key of :data:`const.SENSITIVE_KEYS` are replaced whole;
    strings elsewhere go through :func:`redact_text`.

    :param data: A dict, list or scalar as decoded from Mollie's JSON.
    :return: The masked copy.
    """
    if isinstance(data, dict):
        return {
            key: _REDACTED if key in const.SENSITIVE_KEYS else redact(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact(value) for value in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


def redact_body(body, limit=const.LOG_BODY_LIMIT):
    """Render a request or response body for the log, masked and shortened.

    :param body: Raw body (``bytes`` or ``str``), possibly JSON.
    :param int limit: Maximum number of characters kept.
    :return: The printable, masked body.
    :rtype: str
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not body:
        return ""
    try:
        text = json.dumps(redact(json.loads(body)), sort_keys=True)
    except ValueError:
        # Not JSON (an HTML error page from a proxy, say): mask keys only.
        text = redact_text(body)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} chars)"
    return text


def idempotency_key(database_uuid, model, res_id, purpose, revision=0):
    """Derive a stable Idempotency-Key for one create call about one record.

    The SDK sends a random UUID4 when given none, which protects nothing on a
    retry. A UUID5 of the database, the record and the purpose stays the same
    across retries and processes, and differs between databases that share a
    Mollie account (a staging copy, say).

    :param str database_uuid: ``database.uuid`` system parameter.
    :param str model: Model name of the record the call is about.
    :param int res_id: Id of that record.
    :param str purpose: What the call creates (``"payment-link"``, ``"refund"``).
    :param int revision: Bumped when a new object is wanted on purpose.
    :return: A UUID string.
    :rtype: str
    """
    namespace = uuid.UUID(database_uuid) if database_uuid else uuid.NAMESPACE_URL
    name = f"crm_mollie/{model}/{res_id}/{purpose}/{revision}"
    return str(uuid.uuid5(namespace, name))


def _metadata_signature(secret, model, res_id):
    message = f"crm_mollie/{model}/{res_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def sign_metadata(secret, model, res_id):
    """The ``metadata`` we give Mollie for a record: its id and a signature.

    Mollie returns metadata with every fetch. The signature, keyed with the
    database secret, proves the id came from this database, so a payment made
    elsewhere cannot claim one of our invoices.

    :return: A dict of at most a few dozen bytes (Mollie allows ~1 kB).
    :rtype: dict
    """
    return {
        "crm_mollie": {
            "model": model,
            "id": res_id,
            "sig": _metadata_signature(secret, model, res_id),
        }
    }


def verify_metadata(secret, metadata, model="account.move"):
    """The record id of our signed metadata, or None if absent or forged.

    :param str secret: ``database.secret``.
    :param metadata: What Mollie returned (any JSON value).
    :rtype: int | None
    """
    ours = metadata.get("crm_mollie") if isinstance(metadata, dict) else None
    if not isinstance(ours, dict) or ours.get("model") != model:
        return None
    res_id = ours.get("id")
    if not isinstance(res_id, int) or not secret:
        return None
    expected = _metadata_signature(secret, model, res_id)
    if not hmac.compare_digest(expected, str(ours.get("sig", ""))):
        return None
    return res_id


def format_amount(amount, decimals):
    """An amount as Mollie wants it: a string with the currency's decimals.

    :param float amount: The amount, already rounded by its currency.
    :param int decimals: Decimal places of the currency (0 for JPY).
    :rtype: str
    """
    return f"{round(amount, decimals):.{decimals}f}"
