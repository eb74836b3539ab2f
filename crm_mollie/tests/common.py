# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from urllib.parse import urlsplit

from odoo.tests import new_test_user
from odoo.tests.common import _super_send

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

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
