# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import ValidationError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import tagged

from .common import (
    LIVE_KEY,
    ORG_TOKEN,
    ORGANIZATION_NAME,
    OTHER_TEST_KEY,
    PROFILE_NAME,
    REVOKED_KEY,
    TEST_KEY,
    CrmMollieCommon,
)


@tagged("post_install", "-at_install")
class TestSettings(CrmMollieCommon):
    def _settings(self, company=None, **vals):
        company = company or self.company
        return (
            self.env["res.config.settings"]
            .with_company(company)
            .with_context(allowed_company_ids=company.ids)
            .create(vals)
        )

    def _mollie_provider(self, company):
        provider = self.env["payment.provider"].search(
            [("code", "=", "mollie"), ("company_id", "=", company.id)]
        )
        if not provider:
            provider = self.env.ref("payment.payment_provider_mollie").copy(
                {"company_id": company.id}
            )
        return provider

    def test_settings_round_trip_keys_mode_and_callback_url(self):
        self._settings(
            mollie_mode="live",
            mollie_test_api_key=OTHER_TEST_KEY,
            mollie_live_api_key=LIVE_KEY,
            mollie_org_access_token=ORG_TOKEN,
            mollie_webhook_base_url="https://erp.example.com/",
        ).execute()
        reopened = self._settings()
        self.assertEqual(reopened.mollie_mode, "live")
        self.assertEqual(reopened.mollie_test_api_key, OTHER_TEST_KEY)
        self.assertEqual(reopened.mollie_live_api_key, LIVE_KEY)
        self.assertEqual(reopened.mollie_org_access_token, ORG_TOKEN)
        self.assertEqual(self.company._mollie_get_api_key(), LIVE_KEY)
        self.assertEqual(
            self.company._mollie_get_webhook_base_url(), "https://erp.example.com"
        )

    def test_callback_url_defaults_to_web_base_url(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", "https://odoo.example.nl"
        )
        self.company.mollie_webhook_base_url = False
        self.assertEqual(
            self.company._mollie_get_webhook_base_url(), "https://odoo.example.nl"
        )

    def test_each_company_keeps_its_own_keys(self):
        other = self.env["res.company"].create({"name": "De Mol Oost BV"})
        self._settings(company=other, mollie_test_api_key=OTHER_TEST_KEY).execute()
        self.assertEqual(other._mollie_get_api_key(), OTHER_TEST_KEY)
        self.assertEqual(self.company._mollie_get_api_key(), TEST_KEY)
        self.assertEqual(
            self.company._mollie_client().fetch_profile().name, PROFILE_NAME
        )
        self.assertEqual(other._mollie_client().fetch_profile().name, "Other shop")

    def test_a_live_key_in_the_test_slot_is_refused_as_a_mismatch(self):
        with self.assertRaisesRegex(ValidationError, "Test/live mismatch"):
            self.company.mollie_test_api_key = LIVE_KEY
        with self.assertRaisesRegex(ValidationError, "Test/live mismatch"):
            self.company.mollie_live_api_key = TEST_KEY
        with self.assertRaisesRegex(ValidationError, "access_"):
            self.company.mollie_org_access_token = TEST_KEY

    def test_a_callback_url_without_scheme_is_refused(self):
        with self.assertRaises(ValidationError):
            self.company.mollie_webhook_base_url = "erp.example.com"

    def test_native_mollie_checkout_follows_the_active_key_and_mode(self):
        provider = self._mollie_provider(self.company)
        provider.state = "test"
        self.company.write({"mollie_test_api_key": OTHER_TEST_KEY})
        self.assertEqual(provider.mollie_api_key, OTHER_TEST_KEY)
        self.company.write({"mollie_live_api_key": LIVE_KEY, "mollie_mode": "live"})
        self.assertEqual(provider.mollie_api_key, LIVE_KEY)
        self.assertEqual(provider.state, "enabled")

    def test_a_disabled_native_provider_gets_the_key_but_stays_disabled(self):
        provider = self._mollie_provider(self.company)
        provider.state = "disabled"
        self.company.write({"mollie_test_api_key": OTHER_TEST_KEY})
        self.assertEqual(provider.mollie_api_key, OTHER_TEST_KEY)
        self.assertEqual(provider.state, "disabled")

    def test_a_key_already_on_the_native_provider_is_adopted_at_install(self):
        other = self.env["res.company"].create({"name": "De Mol Oost BV"})
        provider = self._mollie_provider(other)
        provider.mollie_api_key = LIVE_KEY
        other._mollie_import_provider_key()
        self.assertEqual(other.mollie_live_api_key, LIVE_KEY)
        self.assertEqual(other.mollie_mode, "live")

    def test_keys_are_not_copied_with_the_company(self):
        self.company.mollie_org_access_token = ORG_TOKEN
        copied = self.company.copy_data()[0]
        for field in (
            "mollie_test_api_key",
            "mollie_live_api_key",
            "mollie_org_access_token",
        ):
            self.assertNotIn(field, copied)

    def test_neutralizing_the_database_blanks_every_mollie_credential(self):
        self.company.write(
            {
                "mollie_live_api_key": LIVE_KEY,
                "mollie_org_access_token": ORG_TOKEN,
                "mollie_mode": "live",
            }
        )
        self.env.flush_all()
        queries = list(get_neutralization_queries(["crm_mollie"]))
        self.assertTrue(queries)
        for query in queries:
            self.env.cr.execute(query)
        self.env.invalidate_all()
        self.assertFalse(self.company.mollie_test_api_key)
        self.assertFalse(self.company.mollie_live_api_key)
        self.assertFalse(self.company.mollie_org_access_token)
        self.assertEqual(self.company.mollie_mode, "test")


@tagged("post_install", "-at_install")
class TestConnection(CrmMollieCommon):
    def test_connection_test_names_the_profile_and_organization(self):
        self.company.mollie_org_access_token = ORG_TOKEN
        success, message = self.company._mollie_test_connection()
        self.assertTrue(success, message)
        self.assertIn(PROFILE_NAME, message)
        self.assertIn(ORGANIZATION_NAME, message)

    def test_connection_test_reports_an_invalid_key(self):
        self.company.mollie_test_api_key = REVOKED_KEY
        success, message = self.company._mollie_test_connection()
        self.assertFalse(success)
        self.assertTrue(message.startswith("Invalid key"), message)
        self.assertNotIn(REVOKED_KEY, message)

    def test_connection_test_reports_mollie_unreachable(self):
        self.simulator.refuse_connections()
        try:
            success, message = self.company._mollie_test_connection()
        finally:
            self.simulator.accept_connections()
        self.assertFalse(success)
        self.assertTrue(message.startswith("Mollie unreachable"), message)
        self.assertIn("connection refused", message)

    def test_connection_test_reports_a_missing_live_key(self):
        self.company.mollie_mode = "live"
        success, message = self.company._mollie_test_connection()
        self.assertFalse(success)
        self.assertIn("No Mollie live API key", message)

    def test_settings_button_shows_the_outcome_as_a_notification(self):
        settings = (
            self.env["res.config.settings"]
            .with_company(self.company)
            .with_context(allowed_company_ids=self.company.ids)
            .create({})
        )
        action = settings.action_mollie_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(PROFILE_NAME, action["params"]["message"])
