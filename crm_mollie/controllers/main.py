# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import hmac
import json
import re

import psycopg2

from odoo import SUPERUSER_ID, api, http
from odoo.http import request
from odoo.tools import verify_hash_signed

from odoo.addons.payment.logging import get_payment_logger

from .. import const

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

WEBHOOK_ID_RE = re.compile(const.WEBHOOK_ID_PATTERN)
EVENT_ENTITY_RE = re.compile(const.EVENT_ENTITY_PATTERN)


class MollieWebhookController(http.Controller):
    """The two doors Mollie knocks on. Both only persist and acknowledge.

    Nothing in a request is trusted: the id is checked against an allow-list,
    the URL token (classic webhooks) or the body signature (signed events)
    proves the request comes from a URL we gave Mollie, and the processing
    cron fetches the object from Mollie with the key of the company the token
    names. The work itself happens after the answer, in the cron, so that
    Mollie gets its 200 within milliseconds and a slow Mollie API or a busy
    database never turns into a lost notification.
    """

    _webhook_url = "/crm_mollie/webhook"
    _events_url = "/crm_mollie/events"

    @http.route(
        _webhook_url,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        max_content_length=const.WEBHOOK_MAX_BODY,
    )
    def mollie_webhook(self, **kwargs):
        """Classic webhook: Mollie posts ``id=tr_...`` to our signed URL.

        Answers 200 for any well-formed id, known or not, so that probing ids
        reveals nothing; 403 only when the URL token is not ours or expired.
        """
        resource_id = kwargs.get("id") or ""
        if not isinstance(resource_id, str) or not WEBHOOK_ID_RE.match(resource_id):
            _logger.warning(
                "Mollie webhook with a malformed id (%(length)d chars) dropped",
                {"length": len(str(resource_id))},
            )
            return self._acknowledge()
        company_id = self._verify_token(request.httprequest.args.get("token", ""))
        if not company_id:
            _logger.warning(
                "Mollie webhook for %(id)s refused: bad, expired or missing token",
                {"id": resource_id},
            )
            return request.make_response("", status=403)
        _logger.info(
            "Mollie webhook for %(id)s (company %(company)s)",
            {"id": resource_id, "company": company_id},
        )
        return self._enqueue(company_id, resource_id, "webhook")

    @http.route(
        _events_url,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        max_content_length=const.WEBHOOK_MAX_BODY,
    )
    def mollie_signed_event(self, **kwargs):
        """Signed (next-gen) event: JSON checked with ``X-Mollie-Signature``.

        The signature is an HMAC-SHA256 of the raw body. Any configured secret
        of any company may match, so that a secret can be rotated, and every
        header value counts (Mollie sends one per secret while rotating).
        """
        body = request.httprequest.get_data(cache=True)
        signatures = request.httprequest.headers.getlist(const.SIGNATURE_HEADER)
        company_id = self._verify_signature(body, signatures)
        if not company_id:
            _logger.warning("Mollie signed event refused: no matching signature")
            return request.make_response("", status=403)
        try:
            event = json.loads(body)
            entity_id = event.get("entityId") or ""
        except (ValueError, AttributeError):
            _logger.warning("Mollie signed event with an unreadable body dropped")
            return self._acknowledge()
        if not isinstance(entity_id, str) or not EVENT_ENTITY_RE.match(entity_id):
            _logger.info(
                "Mollie signed event %(type)s without an entity we sync; acknowledged",
                {"type": str(event.get("type"))[:64]},
            )
            return self._acknowledge()
        # Refunds and chargebacks live below their payment: sync the payment.
        entity = ((event.get("_embedded") or {}).get("entity")) or {}
        payment_id = entity.get("paymentId") if isinstance(entity, dict) else None
        if isinstance(payment_id, str) and WEBHOOK_ID_RE.match(payment_id):
            entity_id = payment_id
        _logger.info(
            "Mollie signed event %(type)s for %(id)s (company %(company)s)",
            {
                "type": str(event.get("type"))[:64],
                "id": entity_id,
                "company": company_id,
            },
        )
        return self._enqueue(company_id, entity_id, "signed_event")

    # === HELPERS === #

    def _verify_token(self, token):
        """The company id a webhook URL token names, or None.

        Fails closed: without a database secret nothing verifies.
        """
        env = request.env(su=True)
        if not token or not env["ir.config_parameter"].get_param("database.secret"):
            return None
        try:
            values = verify_hash_signed(env, const.WEBHOOK_TOKEN_SCOPE, token)
        except Exception:  # noqa: BLE001 - junk tokens raise all kinds of errors
            return None
        if not isinstance(values, dict) or not isinstance(values.get("c"), int):
            return None
        return values["c"]

    def _verify_signature(self, body, signatures):
        """The company whose signing secret produced one of the signatures."""
        candidates = [
            s.split("=", 1)[1].strip()
            for value in signatures
            for s in value.split(",")
            if s.strip().startswith("sha256=")
        ]
        if not candidates:
            return None
        companies = request.env(su=True)["res.company"].search(
            [("mollie_webhook_signing_secrets", "!=", False)]
        )
        for company in companies:
            for secret in company._mollie_webhook_secrets():
                expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                if any(hmac.compare_digest(expected, c) for c in candidates):
                    return company.id
        return None

    def _enqueue(self, company_id, resource_id, source):
        """Persist the event on a cursor of its own, commit, then answer.

        The request's own cursor runs in REPEATABLE READ and commits only
        after the answer is built; a separate READ COMMITTED cursor makes the
        event durable before Mollie hears 200, and lets 50 simultaneous
        duplicates queue on one row lock instead of failing.
        """
        registry = request.env.registry
        try:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                if not env["res.company"].browse(company_id).exists():
                    return self._acknowledge()
                if env["mollie.event"]._mollie_enqueue(
                    cr, company_id, resource_id, source
                ):
                    env["mollie.event"]._mollie_trigger_processing()
        except psycopg2.OperationalError:
            _logger.exception("Mollie event %(id)s not stored", {"id": resource_id})
            # Mollie retries on anything but 200: let it, nothing is lost.
            return request.make_response("", status=503)
        return self._acknowledge()

    def _acknowledge(self):
        return request.make_response("", status=200)
