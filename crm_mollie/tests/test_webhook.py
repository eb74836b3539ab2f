# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import datetime, timedelta
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import hash_sign, mute_logger, verify_hash_signed

from odoo.addons.crm_mollie import const
from odoo.addons.crm_mollie.models.mollie_event import MollieEvent

from .common import CrmMollieHttpCommon

WEBHOOK = "/crm_mollie/webhook"
EVENTS = "/crm_mollie/events"
SECRET = "whsec_crmMollieSuiteSigning000001"


@tagged("post_install", "-at_install")
class TestWebhook(CrmMollieHttpCommon):
    """The classic webhook: allow-list, signed URL, persist and acknowledge."""

    def _token(self, **kwargs):
        url = self.company._mollie_webhook_url(**kwargs)
        return url.split("token=", 1)[1]

    def _post(self, resource_id, token=None, data=None, path=WEBHOOK):
        token = self._token() if token is None else token
        url = f"{path}?token={token}" if token else path
        return self.url_open(
            url, data=data if data is not None else {"id": resource_id}
        )

    def _events(self, resource_id=None):
        domain = [("company_id", "=", self.company.id)]
        if resource_id:
            domain.append(("resource_id", "=", resource_id))
        return self.env["mollie.event"].search(domain)

    def test_paid_webhook_books_one_payment_reconciled_with_the_invoice(self):
        invoice = self._create_invoice(121.0)
        payment = self._mollie_payment_for(invoice)
        self._deliver(
            self.simulator.set_payment_status, payment.id, "paid", method="creditcard"
        )
        delivered = [
            w for w in self.simulator.webhook_log if w["object_id"] == payment.id
        ]
        self.assertEqual(delivered[0]["status"], 200)
        self.assertEqual(self._events(payment.id).state, "pending")

        self._process_events()

        record = self.env["mollie.payment"].search([("mollie_id", "=", payment.id)])
        self.assertEqual(record.status, "paid")
        self.assertEqual(record.invoice_ids, invoice)
        self.assertEqual(record.partner_id, invoice.partner_id)
        self.assertTrue(record.account_payment_id)
        self.assertEqual(record.account_payment_id.state, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self._events(payment.id).state, "done")
        messages = invoice.message_ids.filtered(lambda m: payment.id in (m.body or ""))
        self.assertEqual(len(messages), 1)

    def test_duplicate_webhooks_merge_into_one_event_and_one_booking(self):
        invoice = self._create_invoice(50.0)
        payment = self._mollie_payment_for(invoice, webhook=False)
        self.simulator.set_payment_status(payment.id, "paid")
        for _attempt in range(5):
            self.assertEqual(self._post(payment.id).status_code, 200)
        event = self._events(payment.id)
        self.assertEqual((len(event), event.hits), (1, 5))
        self._process_events()
        self._post(payment.id)
        self._process_events()
        payments = self.env["account.payment"].search(
            [("payment_reference", "=", payment.id)]
        )
        self.assertEqual(len(payments), 1)
        self.assertEqual(invoice.payment_state in ("paid", "in_payment"), True)

    def test_database_unique_index_refuses_a_second_record_of_one_payment(self):
        Payment = self.env["mollie.payment"].sudo()
        Payment.create({"company_id": self.company.id, "mollie_id": "tr_dupl1cate"})
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                Payment.create(
                    {"company_id": self.company.id, "mollie_id": "tr_dupl1cate"}
                )
                self.env.flush_all()

    @mute_logger("odoo.addons.crm_mollie.models.mollie_event")
    def test_unknown_payment_is_acknowledged_and_ignored_after_lasting_404s(self):
        response = self._post("tr_doesnotexist")
        self.assertEqual((response.status_code, response.text), (200, ""))
        event = self._events("tr_doesnotexist")
        for _attempt in range(const.NOT_FOUND_MAX_ATTEMPTS):
            event.next_attempt_at = datetime.now() - timedelta(seconds=1)
            self._process_events()
        self.assertEqual(event.state, "ignored")
        self.assertFalse(
            self.env["mollie.payment"].search([("mollie_id", "=", "tr_doesnotexist")])
        )
        self.assertFalse(
            self.env["account.payment"].search(
                [("payment_reference", "=", "tr_doesnotexist")]
            )
        )

    @mute_logger("odoo.addons.crm_mollie.controllers.main")
    def test_malformed_ids_are_acknowledged_without_any_call_or_write(self):
        before = len(self.simulator.requests)
        for bad in (
            "tr_../../refunds",
            "tr_" + "a" * 100,
            "tr_ab",
            "re_abcdefgh",
            "ord_abcdefgh",
            "tr_abc\u00e9defg",
            "tr_abc%00defg",
            "",
        ):
            with self.subTest(bad=bad):
                self.assertEqual(self._post(bad).status_code, 200)
        self.assertFalse(self._events())
        self.assertEqual(len(self.simulator.requests), before)

    @mute_logger("odoo.addons.crm_mollie.controllers.main")
    def test_missing_tampered_expired_or_foreign_token_is_refused_with_403(self):
        token = self._token()
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        expired = hash_sign(
            self.env(su=True),
            const.WEBHOOK_TOKEN_SCOPE,
            {"c": self.company.id},
            expiration=datetime.now() - timedelta(minutes=1),
        )
        other_scope = hash_sign(
            self.env(su=True), "pos_mollie", {"c": self.company.id}, expiration_hours=27
        )
        for name, bad in (
            ("tampered", tampered),
            ("expired", expired),
            ("scope", other_scope),
            ("junk", "!!!"),
        ):
            with self.subTest(token=name):
                self.assertEqual(self._post("tr_abcdefgh", token=bad).status_code, 403)
        self.assertEqual(
            self.url_open(WEBHOOK, data={"id": "tr_abcdefgh"}).status_code, 403
        )
        self.assertFalse(self._events())

    def test_url_token_outlives_mollies_26_hours_of_retries(self):
        token = self._token()
        env = self.env(su=True)
        with freeze_time(datetime.now() + timedelta(hours=26, minutes=59)):
            self.assertEqual(
                verify_hash_signed(env, const.WEBHOOK_TOKEN_SCOPE, token),
                {"c": self.company.id},
            )
        with freeze_time(datetime.now() + timedelta(hours=27, minutes=5)):
            self.assertIsNone(verify_hash_signed(env, const.WEBHOOK_TOKEN_SCOPE, token))

    def test_a_long_lived_object_gets_a_token_valid_for_its_lifetime(self):
        token = self._token(valid_for=timedelta(days=30))
        with freeze_time(datetime.now() + timedelta(days=29)):
            self.assertTrue(
                verify_hash_signed(self.env(su=True), const.WEBHOOK_TOKEN_SCOPE, token)
            )

    @mute_logger("odoo.addons.crm_mollie.controllers.main")
    def test_fails_closed_without_a_database_secret(self):
        token = self._token()
        Params = type(self.env["ir.config_parameter"])
        real_get_param = Params.get_param

        def no_secret(params, key, default=False):
            if key == "database.secret":
                return False
            return real_get_param(params, key, default)

        with patch.object(Params, "get_param", no_secret):
            response = self._post("tr_abcdefgh", token=token)
        self.assertEqual(response.status_code, 403)
        self.assertFalse(self._events())

    def test_oversized_body_is_refused_with_413(self):
        response = self._post(None, data={"id": "tr_abcdefgh", "pad": "x" * 70_000})
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self._events())

    @mute_logger("odoo.addons.crm_mollie.controllers.main", "odoo.http")
    def test_bodies_of_other_shapes_never_get_a_server_error(self):
        url = f"{self.base_url()}{WEBHOOK}?token={self._token()}"
        for content_type, body in (
            ("application/json", b'{"id": "tr_abcdefgh"}'),
            ("application/json", b'{"resource": "event", "entityId": "tr_x"'),
            ("application/xml", b"<id>tr_abcdefgh</id>"),
            ("text/plain", b"\x00\xff\xfe garbage"),
            ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
            ("application/x-www-form-urlencoded", b""),
        ):
            with self.subTest(content_type=content_type, body=body[:20]):
                response = self.opener.post(
                    url, data=body, headers={"Content-Type": content_type}, timeout=10
                )
                self.assertLess(response.status_code, 500)
        self.assertFalse(self._events())

    def test_other_methods_than_post_are_refused(self):
        response = self.url_open(f"{WEBHOOK}?token={self._token()}&id=tr_abcdefgh")
        self.assertEqual(response.status_code, 405)

    @mute_logger("odoo.addons.crm_mollie.controllers.main")
    def test_database_failure_while_storing_answers_503_so_mollie_retries(self):
        with patch.object(
            MollieEvent,
            "_mollie_enqueue",
            side_effect=psycopg2.OperationalError("database is down"),
        ):
            response = self._post("tr_abcdefgh")
        self.assertEqual(response.status_code, 503)

    # === SIGNED EVENTS === #

    def _signed(self, entity_id, secrets, entity=None):
        """A signed event as Mollie sends it: one header per secret."""
        return self._deliver(
            self.simulator.send_signed_event,
            self.base_url() + EVENTS,
            secrets,
            "payment.paid",
            entity_id,
            entity,
        )

    def test_signed_event_with_a_valid_signature_is_queued(self):
        self.company.mollie_webhook_signing_secrets = SECRET
        self.assertEqual(self._signed("tr_signed0001", [SECRET]), 200)
        self.assertEqual(self._events("tr_signed0001").source, "signed_event")

    def test_signed_event_accepts_any_configured_secret_during_rotation(self):
        self.company.mollie_webhook_signing_secrets = f"whsec_new000000001\n{SECRET}"
        # Two signature headers, only the second one valid.
        self.assertEqual(self._signed("tr_signed0002", ["whsec_wrong", SECRET]), 200)
        self.assertTrue(self._events("tr_signed0002"))

    @mute_logger("odoo.addons.crm_mollie.controllers.main")
    def test_signed_event_with_a_bad_or_missing_signature_is_refused(self):
        self.company.mollie_webhook_signing_secrets = SECRET
        self.assertEqual(self._signed("tr_signed0003", ["whsec_wrong"]), 403)
        self.assertEqual(self._signed("tr_signed0003", []), 403)
        self.assertFalse(self._events("tr_signed0003"))

    @mute_logger("odoo.addons.crm_mollie.controllers.main")
    def test_signed_event_fails_closed_when_no_secret_is_configured(self):
        self.company.mollie_webhook_signing_secrets = False
        self.assertEqual(self._signed("tr_signed0004", [SECRET]), 403)

    def test_signed_refund_event_queues_its_payment(self):
        self.company.mollie_webhook_signing_secrets = SECRET
        entity = {
            "resource": "refund",
            "id": "re_signed0005",
            "paymentId": "tr_parent0005",
        }
        self.assertEqual(self._signed("re_signed0005", [SECRET], entity), 200)
        self.assertTrue(self._events("tr_parent0005"))

    def test_simulator_signed_event_is_verified_on_the_raw_body(self):
        self.company.mollie_webhook_signing_secrets = SECRET
        status = self._deliver(
            self.simulator.send_signed_event,
            self.base_url() + EVENTS,
            SECRET,
            "payment-link.paid",
            "tr_simevent01",
        )
        self.assertEqual(status, 200)
        self.assertTrue(self._events("tr_simevent01"))
