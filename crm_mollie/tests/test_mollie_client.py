# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.crm_mollie import const, utils
from odoo.addons.crm_mollie.exceptions import MollieError
from odoo.addons.crm_mollie.tools import mollie_client

from .common import TEST_KEY, CrmMollieCommon

PAYMENT = {
    "amount": {"currency": "EUR", "value": "12.50"},
    "description": "INV/2026/00001",
    "redirectUrl": "https://erp.example.com/my/invoices/1",
}


@tagged("post_install", "-at_install")
class TestMollieClient(CrmMollieCommon):
    def _client(self):
        return self.company._mollie_client()

    def _idempotency_key(self, purpose="payment"):
        return utils.idempotency_key(
            self.env["ir.config_parameter"].sudo().get_param("database.uuid"),
            "res.company",
            self.company.id,
            purpose,
        )

    def _requests_to(self, method, path):
        return [
            r
            for r in self.simulator.requests
            if r["method"] == method and r["path"].rstrip("/") == path
        ]

    def test_calls_name_odoo_and_the_addon_in_the_user_agent(self):
        self._client().fetch_profile()
        user_agent = self._requests_to("GET", "/v2/profiles/me")[-1]["headers"][
            "User-Agent"
        ]
        self.assertIn("CrmMollie/19.0.1.0.0", user_agent)
        self.assertIn("Odoo/19.0", user_agent)

    def test_create_sends_the_idempotency_key_derived_from_our_record(self):
        key = self._idempotency_key()
        payment = self._client().create_object("payments", PAYMENT, key, reference="t")
        sent = self._requests_to("POST", "/v2/payments")[-1]["headers"]
        self.assertEqual(sent["Idempotency-Key"], key)
        self.assertTrue(payment.id.startswith("tr_"))
        # Derived, not random: the same record and purpose give the same key.
        self.assertEqual(self._idempotency_key(), key)
        self.assertNotEqual(self._idempotency_key("refund"), key)

    def test_create_without_idempotency_key_is_refused_before_any_call(self):
        before = len(self.simulator.requests)
        with self.assertRaises(ValueError):
            self._client().create_object("payments", PAYMENT, "")
        self.assertEqual(len(self.simulator.requests), before)

    def test_server_error_is_retried_with_the_same_key_and_creates_one_payment(self):
        self.simulator.inject_fault(status=500, path_pattern="/v2/payments", times=2)
        key = self._idempotency_key("retry")
        with patch.object(mollie_client.time, "sleep") as sleep:
            payment = self._client().create_object("payments", PAYMENT, key)
        posts = self._requests_to("POST", "/v2/payments")
        self.assertEqual(len(posts), 3)
        self.assertEqual({p["headers"]["Idempotency-Key"] for p in posts}, {key})
        self.assertEqual(sleep.call_count, 2)
        listed = self._client().call("list", lambda sdk: list(sdk.payments.list()))
        self.assertEqual([p.id for p in listed], [payment.id])

    def test_rate_limit_waits_at_least_as_long_as_retry_after(self):
        self.simulator.inject_fault(
            status=429, path_pattern="/v2/profiles/me", times=1, retry_after=3
        )
        with patch.object(mollie_client.time, "sleep") as sleep:
            profile = self._client().fetch_profile()
        self.assertEqual(profile.id and profile.name, "Bakkerij de Mol")
        (delay,), _kwargs = sleep.call_args
        self.assertGreaterEqual(delay, 3)

    def test_retry_after_beyond_the_cap_fails_at_once_as_rate_limited(self):
        self.simulator.inject_fault(
            status=429, path_pattern="/v2/profiles/me", times=1, retry_after=600
        )
        with (
            patch.object(mollie_client.time, "sleep") as sleep,
            self.assertRaises(MollieError) as caught,
        ):
            self._client().fetch_profile()
        self.assertEqual(caught.exception.kind, "rate_limited")
        self.assertEqual(caught.exception.retry_after, 600)
        sleep.assert_not_called()

    def test_persistent_server_errors_end_in_a_clear_error_after_bounded_attempts(self):
        self.simulator.inject_fault(
            status=503, path_pattern="/v2/profiles/me", times=10
        )
        with (
            patch.object(mollie_client.time, "sleep"),
            self.assertRaises(MollieError) as caught,
        ):
            self._client().fetch_profile()
        self.assertEqual(caught.exception.kind, "server")
        self.assertIn("503", str(caught.exception))
        self.assertEqual(
            len(self._requests_to("GET", "/v2/profiles/me")), const.API_MAX_ATTEMPTS
        )

    def test_unprocessable_request_names_mollies_field(self):
        bad = dict(PAYMENT, amount={"currency": "EUR", "value": "12.5"})
        with self.assertRaises(MollieError) as caught:
            self._client().create_object("payments", bad, self._idempotency_key("bad"))
        self.assertEqual(caught.exception.kind, "invalid")
        self.assertEqual(caught.exception.field, "amount.value")
        self.assertIn("amount.value", str(caught.exception))

    def test_unknown_object_maps_to_not_found(self):
        with self.assertRaises(MollieError) as caught:
            self._client().fetch_object("payments", "tr_doesnotexist")
        self.assertEqual(caught.exception.kind, "not_found")

    def test_slow_answer_times_out_and_reports_mollie_unreachable(self):
        self.simulator.inject_fault(
            status=200, path_pattern="/v2/profiles/me", times=5, delay=1.0
        )
        with (
            patch.object(const, "API_TIMEOUT", (1, 0.2)),
            patch.object(
                mollie_client, "_thread_cache", mollie_client.threading.local()
            ),
            patch.object(mollie_client.time, "sleep"),
            self.assertRaises(MollieError) as caught,
        ):
            self._client().fetch_profile()
        self.assertEqual(caught.exception.kind, "unreachable")
        self.assertIn("timeout", str(caught.exception))

    def test_request_and_response_are_logged_without_keys_or_payer_identity(self):
        key = self._idempotency_key("log")
        payment = self._client().create_object(
            "payments", PAYMENT, key, reference="INV/1"
        )
        self.simulator.set_payment_status(payment.id, "paid", method="ideal")
        # level as a number: Odoo renames its level 25 "INFO", so the name would
        # silently mean 25 and miss every info record.
        with self.assertLogs(mollie_client._logger.name, level=logging.INFO) as logs:
            paid = self._client().fetch_object("payments", payment.id)
        output = "\n".join(logs.output)
        consumer = paid.details["consumerName"]
        iban = paid.details["consumerAccount"]
        self.assertIn(payment.id, output)
        self.assertIn("[REDACTED]", output)
        self.assertNotIn(TEST_KEY, output)
        self.assertNotIn(consumer, output)
        self.assertNotIn(iban, output)

    def test_malformed_key_error_never_quotes_the_key(self):
        malformed = "test_has spaces and-dashes"
        with patch.object(
            type(self.company), "_mollie_get_api_key", return_value=malformed
        ):
            with self.assertRaises(MollieError) as caught:
                self._client()
        self.assertEqual(caught.exception.kind, "configuration")
        self.assertNotIn(malformed, str(caught.exception))

    def test_redaction_masks_credentials_inside_free_text(self):
        text = f"Invalid API key: '{TEST_KEY}'. Token access_abcdefghijkl too."
        masked = utils.redact_text(text)
        self.assertNotIn(TEST_KEY, masked)
        self.assertNotIn("access_abcdefghijkl", masked)
        self.assertEqual(masked.count("[REDACTED]"), 2)

    def test_endpoint_comes_from_the_system_parameter_or_defaults_to_production(self):
        self.assertEqual(self.company._mollie_get_api_endpoint(), self.simulator.url)
        self.env["ir.config_parameter"].sudo().set_param(const.API_ENDPOINT_PARAM, "")
        self.assertEqual(self.company._mollie_get_api_endpoint(), const.API_ENDPOINT)
