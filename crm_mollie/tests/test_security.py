# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LIVE_KEY, ORG_TOKEN, TEST_KEY, CrmMollieCommon

SECRET_FIELDS = (
    "mollie_test_api_key",
    "mollie_live_api_key",
    "mollie_org_access_token",
)


@tagged("post_install", "-at_install")
class TestKeysStayWithAdministrators(CrmMollieCommon):
    """An accountant (Invoicing administrator, not Settings administrator)
    manages payments but must never see a Mollie credential."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.sudo().write(
            {"mollie_live_api_key": LIVE_KEY, "mollie_org_access_token": ORG_TOKEN}
        )
        cls.as_accountant = cls.company.with_user(cls.accountant)

    def assertNoSecretIn(self, value):
        text = json.dumps(value, default=str)
        for secret in (TEST_KEY, LIVE_KEY, ORG_TOKEN):
            self.assertNotIn(secret, text)

    def test_accountant_is_really_an_invoicing_administrator(self):
        self.assertTrue(self.accountant.has_group("account.group_account_manager"))
        self.assertFalse(self.accountant.has_group("base.group_system"))
        # The company itself stays readable: only the credentials are guarded.
        self.assertEqual(
            self.as_accountant.read(["name"])[0]["name"], self.company.name
        )

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_cannot_read_a_key_through_read_or_web_read(self):
        for field in SECRET_FIELDS:
            with self.assertRaises(AccessError):
                self.as_accountant.read([field])
            with self.assertRaises(AccessError):
                self.as_accountant.web_read({field: {}})

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_cannot_read_a_key_through_search_read(self):
        companies = self.env["res.company"].with_user(self.accountant)
        for field in SECRET_FIELDS:
            with self.assertRaises(AccessError):
                companies.search_read([("id", "=", self.company.id)], [field])
            with self.assertRaises(AccessError):
                companies.web_search_read([("id", "=", self.company.id)], {field: {}})

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_cannot_export_a_key(self):
        for field in SECRET_FIELDS:
            with self.assertRaises(AccessError):
                self.as_accountant.export_data([field])

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_cannot_group_or_search_by_a_key(self):
        companies = self.env["res.company"].with_user(self.accountant)
        for field in SECRET_FIELDS:
            with self.assertRaises(AccessError):
                companies.read_group([], [field], [field])
            with self.assertRaises(AccessError):
                companies.formatted_read_group([], [field], ["__count"])
            # Searching would let a user guess a key one character at a time.
            with self.assertRaises(AccessError):
                companies.search([(field, "=like", "test_%")])

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_cannot_reach_a_key_through_related_fields(self):
        # Through the settings' related fields ...
        settings = self.env["res.config.settings"].with_user(self.accountant)
        with self.assertRaises(AccessError):
            settings.create({}).read(["mollie_test_api_key"])
        # ... and through a path from a record the accountant can read, the way
        # the web client asks for related records.
        partners = self.env["res.partner"].with_user(self.accountant)
        with self.assertRaises(AccessError):
            partners.web_search_read(
                [("id", "=", self.company.partner_id.id)],
                {"company_id": {"fields": {"mollie_live_api_key": {}}}},
            )
        # ... and the native checkout's own copy of the key.
        providers = self.env["payment.provider"].with_user(self.accountant)
        with self.assertRaises(AccessError):
            providers.search([("code", "=", "mollie")]).read(["mollie_api_key"])

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_gets_no_key_from_an_onchange(self):
        spec = {"name": {}} | {field: {} for field in SECRET_FIELDS}
        try:
            result = self.as_accountant.onchange({}, [], spec)
        except AccessError:
            return  # Refused outright: nothing leaked.
        self.assertNoSecretIn(result)

    def test_accountant_does_not_even_see_the_key_fields_described(self):
        described = self.env["res.company"].with_user(self.accountant).fields_get()
        for field in SECRET_FIELDS:
            self.assertNotIn(field, described)
        self.assertIn("mollie_mode", described)

    def test_settings_administrator_reads_the_keys(self):
        self.assertEqual(
            self.company.read(["mollie_test_api_key"])[0]["mollie_test_api_key"],
            TEST_KEY,
        )

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_accountant_cannot_move_the_api_endpoint(self):
        params = self.env["ir.config_parameter"].with_user(self.accountant)
        with self.assertRaises(AccessError):
            params.set_param("crm_mollie.api_endpoint", "https://attacker.example")
