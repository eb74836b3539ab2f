# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo import Command
from odoo.tests import HttpCase, new_test_user
from odoo.tests.common import _super_send, release_test_lock

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.base.models.ir_cron import IrCron

from .. import utils
from .mollie_simulator import MollieSimulator

# Keys the simulator accepts. Every secret a test uses is listed here: the
# test session fails if any of them shows up in the log (see conftest.py).
TEST_KEY = "test_crmMollieSuite0000000000000001"
OTHER_TEST_KEY = "test_crmMollieSuiteOther00000000002"
LIVE_KEY = "live_crmMollieSuite0000000000000003"
ORG_TOKEN = "access_crmMollieSuite000000000000004"
REVOKED_KEY = "test_crmMollieSuiteRevoked000000005"
ALL_SECRETS = (TEST_KEY, OTHER_TEST_KEY, LIVE_KEY, ORG_TOKEN, REVOKED_KEY)

PROFILE_NAME = "Bakkerij de Mol"
ORGANIZATION_NAME = "De Mol Holding BV"


class CrmMollieCommon(AccountTestInvoicingCommon):
    """Base of the addon's tests: a company with Mollie keys, pointed at a
    local Mollie simulator that answers over real HTTP through the SDK."""

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        """Let the SDK's (connect, read) timeout tuple reach the simulator.

        Odoo's test guard against outside requests compares the timeout with
        a number and would raise on a tuple; loopback stays the only address
        allowed, as in the guard itself.
        """
        if isinstance(kwargs.get("timeout"), tuple):
            if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
                return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A test runs in one transaction: the crons' progress commits become
        # no-ops (the concurrency harness runs them for real).
        cls.startClassPatcher(
            patch.object(IrCron, "_commit_progress", lambda *a, **k: float("inf"))
        )
        cls.simulator = MollieSimulator(webhook_time_scale=0.0001).start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.simulator.add_api_key(TEST_KEY, profile_name=PROFILE_NAME)
        cls.simulator.add_api_key(OTHER_TEST_KEY, profile_name="Other shop")
        cls.simulator.add_api_key(LIVE_KEY, profile_name=PROFILE_NAME)
        cls.simulator.add_access_token(ORG_TOKEN, organization_name=ORGANIZATION_NAME)

        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_mollie.api_endpoint", cls.simulator.url
        )
        cls.company = cls.company_data["company"]
        # The test user manages Mollie, as an accountant who set it up would.
        cls.env.user.group_ids |= cls.env.ref("crm_mollie.group_mollie_manager")
        cls.company.sudo().write(
            {"mollie_mode": "test", "mollie_test_api_key": TEST_KEY}
        )
        cls.accountant = new_test_user(
            cls.env,
            login="mollie_accountant",
            groups="account.group_account_manager,base.group_allow_export",
            company_id=cls.company.id,
            company_ids=[(6, 0, cls.company.ids)],
        )

    def setUp(self):
        super().setUp()
        # One simulator serves the class; each test starts from an empty
        # Mollie account (keys kept) with no fault left over.
        self.simulator.reset()
        self.simulator.clear_faults()

    # === HELPERS === #

    def _create_invoice(self, amount, partner=None, currency=None, post=True):
        """A customer invoice of ``amount``, without taxes."""
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": (partner or self.partner_a).id,
                "company_id": self.company.id,
                "currency_id": (currency or self.company.currency_id).id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Consulting",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [],
                        }
                    )
                ],
            }
        )
        if post:
            invoice.action_post()
        return invoice

    def _mollie_payment_for(self, invoice, amount=None, currency=None, webhook=True):
        """Create a Mollie payment for an invoice at the simulator, as the
        addon does: signed metadata and our signed webhook URL."""
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        amount = invoice.amount_total if amount is None else amount
        data = {
            "amount": {
                "currency": currency or invoice.currency_id.name,
                "value": f"{amount:.2f}",
            },
            "description": invoice.name,
            "redirectUrl": "https://erp.example.com/my/invoices",
            "metadata": utils.sign_metadata(secret, "account.move", invoice.id),
        }
        if webhook:
            data["webhookUrl"] = self.company._mollie_webhook_url()
        self._payment_count = getattr(self, "_payment_count", 0) + 1
        key = utils.idempotency_key(
            None, "account.move", invoice.id, f"test-{self._payment_count}"
        )
        return self.company._mollie_client().create_object("payments", data, key)

    def _process_events(self):
        # The cron runs as the superuser.
        return self.env["mollie.event"].sudo()._cron_process_events()


class CrmMollieHttpCommon(CrmMollieCommon, HttpCase):
    """Adds Odoo's HTTP server, so that the simulator's webhooks reach the
    real controller."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.mollie_webhook_base_url = cls.base_url()

    def setUp(self):
        super().setUp()
        # The simulator calls Odoo without the test session's cookie, as
        # Mollie does.
        self.http_request_allow_all = True

    def _deliver(self, call, *args, **kwargs):
        """Run a simulator call that reaches Odoo's HTTP server and wait for
        its webhooks, letting the server use the test cursor meanwhile."""
        self.env.flush_all()
        with release_test_lock():
            result = call(*args, **kwargs)
            self.simulator.wait_for_webhooks()
        self.env.invalidate_all()
        return result
