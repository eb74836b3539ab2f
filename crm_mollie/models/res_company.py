# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api, fields, models, release
from odoo.exceptions import ValidationError
from odoo.tools import hash_sign

from odoo.addons.payment.logging import get_payment_logger

from .. import const
from ..exceptions import MollieError
from ..tools.mollie_client import MollieClient, get_sdk_client

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

# Credentials: readable and writable by Settings administrators only, on every
# path (read, search, export, group by, related fields, onchange).
_SECRET = {"groups": "base.group_system", "copy": False}


class ResCompany(models.Model):
    _inherit = "res.company"

    mollie_test_api_key = fields.Char(
        string="Mollie Test API Key",
        help="The profile's test key (test_...), from Mollie's dashboard under "
        "Developers > API keys.",
        **_SECRET,
    )
    mollie_live_api_key = fields.Char(
        string="Mollie Live API Key",
        help="The profile's live key (live_...). Live payments move real money.",
        **_SECRET,
    )
    mollie_mode = fields.Selection(
        selection=[("test", "Test"), ("live", "Live")],
        default="test",
        required=True,
        help="Which key the company uses: test payments never move money.",
    )
    mollie_org_access_token = fields.Char(
        string="Mollie Organization Access Token",
        help="An organization access token (access_...) with the balances.read "
        "and settlements.read permissions, needed to import balances and "
        "settlements.",
        **_SECRET,
    )
    mollie_webhook_signing_secrets = fields.Text(
        help="Signing secrets of Mollie's signed webhook events, one per line. "
        "Keep the old secret on a second line while Mollie rotates it.",
        **_SECRET,
    )
    mollie_journal_id = fields.Many2one(
        comodel_name="account.journal",
        domain="[('type', '=', 'bank'), ('company_id', '=', id)]",
        help="Journal of the payments, refunds and chargebacks booked from "
        "Mollie. Created on first use when empty.",
    )
    mollie_link_scope = fields.Selection(
        selection=const.LINK_SCOPES,
        string="Automatic Mollie payment links",
        default="off",
        required=True,
        help="Which posted customer invoices get a Mollie payment link at once. "
        "Start with a pilot group, then widen to all invoices.",
    )
    mollie_pilot_partner_ids = fields.Many2many(
        comodel_name="res.partner",
        relation="res_company_mollie_pilot_partner_rel",
        string="Mollie pilot customers",
    )
    mollie_pilot_journal_ids = fields.Many2many(
        comodel_name="account.journal",
        relation="res_company_mollie_pilot_journal_rel",
        string="Mollie pilot journals",
        domain="[('type', '=', 'sale')]",
    )
    mollie_api_failure_count = fields.Integer(
        string="Consecutive Mollie API failures",
        readonly=True,
        copy=False,
    )
    mollie_reconciled_until = fields.Datetime(
        string="Mollie lists read until",
        readonly=True,
        copy=False,
        help="Start of the last successful reconciliation walk of Mollie's lists.",
    )
    mollie_webhook_base_url = fields.Char(
        string="Mollie Callback URL",
        help="Public address of this Odoo that Mollie calls back (webhooks, "
        "return pages). Leave empty to use the web.base.url system parameter.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains("mollie_test_api_key", "mollie_live_api_key")
    def _check_mollie_api_key_prefix(self):
        """A key in the wrong slot is the most common setup mistake: refuse it
        at once, rather than at the first payment."""
        for company in self.sudo():
            for mode, key in (
                ("test", company.mollie_test_api_key),
                ("live", company.mollie_live_api_key),
            ):
                if key and not key.startswith(const.KEY_PREFIX_BY_MODE[mode]):
                    raise ValidationError(
                        self.env._(
                            "Test/live mismatch: the %(mode)s API key of %(company)s "
                            "must start with %(prefix)s.",
                            mode=mode,
                            company=company.name,
                            prefix=const.KEY_PREFIX_BY_MODE[mode],
                        )
                    )

    @api.constrains("mollie_org_access_token")
    def _check_mollie_org_access_token_prefix(self):
        for company in self.sudo():
            token = company.mollie_org_access_token
            if token and not token.startswith(const.ACCESS_TOKEN_PREFIX):
                raise ValidationError(
                    self.env._(
                        "The organization access token of %(company)s must start "
                        "with access_.",
                        company=company.name,
                    )
                )

    @api.constrains("mollie_webhook_base_url")
    def _check_mollie_webhook_base_url(self):
        for company in self:
            url = company.mollie_webhook_base_url
            if url and not url.startswith(("https://", "http://")):
                raise ValidationError(
                    self.env._(
                        "The Mollie callback URL must start with https:// "
                        "(got %(url)s).",
                        url=url,
                    )
                )

    # === CRUD METHODS === #

    def write(self, vals):
        """Override to keep Odoo's native Mollie checkout on the same key."""
        res = super().write(vals)
        if {"mollie_test_api_key", "mollie_live_api_key", "mollie_mode"} & set(vals):
            self._mollie_sync_payment_provider()
        return res

    # === BUSINESS METHODS === #

    def _mollie_get_api_key(self):
        """Return the key of the selected mode, or False.

        Note: ``self.ensure_one()``; reads as superuser, so callers must never
        show or log the result.
        """
        self.ensure_one()
        company = self.sudo()
        if company.mollie_mode == "live":
            return company.mollie_live_api_key
        return company.mollie_test_api_key

    def _mollie_get_webhook_base_url(self):
        """The public root Mollie calls back, without a trailing slash."""
        self.ensure_one()
        base = self.mollie_webhook_base_url or self.get_base_url()
        return base.rstrip("/")

    def _mollie_get_api_endpoint(self):
        """Production, unless an administrator set ``crm_mollie.api_endpoint``.

        Only the system parameter can move the endpoint, and only Settings
        administrators can write system parameters: a user who could change it
        could read every key sent to the new address.
        """
        param = (
            self.env["ir.config_parameter"].sudo().get_param(const.API_ENDPOINT_PARAM)
        )
        return (param or const.API_ENDPOINT).strip().rstrip("/")

    def _mollie_client(self, credential="api_key"):
        """Build the company's client, the single seam to Mollie.

        :param str credential: ``"api_key"`` for the selected profile key, or
            ``"org_token"`` for the organisation access token.
        :rtype: odoo.addons.crm_mollie.tools.mollie_client.MollieClient
        :raise MollieError: ``configuration`` if the credential is missing.
        """
        self.ensure_one()
        company = self.sudo()
        testmode = False
        if credential == "org_token":
            secret = company.mollie_org_access_token
            testmode = company.mollie_mode == "test"
            missing = self.env._(
                "No Mollie organization access token is set for %(company)s.",
                company=self.name,
            )
        else:
            secret = company._mollie_get_api_key()
            missing = self.env._(
                "No Mollie %(mode)s API key is set for %(company)s. Add it in "
                "Settings > Invoicing > Mollie.",
                mode=company.mollie_mode,
                company=self.name,
            )
        if not secret:
            raise MollieError(missing, kind="configuration")
        module = self.env.ref("base.module_crm_mollie", raise_if_not_found=False)
        user_agent = {
            "Odoo": release.version,
            "CrmMollie": (module and module.sudo().latest_version) or "19.0",
        }
        sdk = get_sdk_client(
            self.env, secret, self._mollie_get_api_endpoint(), user_agent, testmode
        )
        return MollieClient(self.env, sdk, label=f"company {self.id}")

    def _mollie_webhook_url(self, valid_for=None):
        """The signed ``webhookUrl`` to give Mollie for this company.

        The token names the company (whose key fetches the object) and
        expires, at least 27 hours after Mollie's last possible call: Mollie
        retries a webhook for 26 hours.

        :param datetime.timedelta valid_for: How long the object may keep
            calling (a payment link's lifetime); at least 27 hours.
        """
        self.ensure_one()
        validity = max(
            valid_for or timedelta(0), timedelta(hours=const.WEBHOOK_TOKEN_MIN_HOURS)
        )
        token = hash_sign(
            self.env(su=True),
            const.WEBHOOK_TOKEN_SCOPE,
            {"c": self.id},
            expiration=validity,
        )
        return f"{self._mollie_get_webhook_base_url()}/crm_mollie/webhook?token={token}"

    @api.model
    def _mollie_companies_with_keys(self):
        """Companies that have a Mollie key for their selected mode."""
        return (
            self.sudo()
            .search(
                [
                    "|",
                    ("mollie_test_api_key", "!=", False),
                    ("mollie_live_api_key", "!=", False),
                ]
            )
            .filtered(lambda c: c._mollie_get_api_key())
        )

    def _mollie_get_journal(self):
        """The company's Mollie journal, created as a bank journal if missing."""
        self.ensure_one()
        company = self.sudo()
        if company.mollie_journal_id:
            return company.mollie_journal_id
        journal = (
            self.env["account.journal"]
            .sudo()
            .search([("company_id", "=", self.id), ("code", "=", "MOLL")], limit=1)
        )
        if not journal:
            journal = (
                self.env["account.journal"]
                .sudo()
                .with_company(self)
                .create(
                    {
                        "name": "Mollie",
                        "code": "MOLL",
                        "type": "bank",
                        "company_id": self.id,
                    }
                )
            )
        company.mollie_journal_id = journal
        return journal

    def _mollie_note_api_success(self):
        if self.mollie_api_failure_count:
            self.mollie_api_failure_count = 0

    def _mollie_note_api_failure(self):
        self.mollie_api_failure_count += 1

    def _mollie_webhook_secrets(self):
        """The signing secrets of signed events, current first."""
        self.ensure_one()
        text = self.sudo().mollie_webhook_signing_secrets or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def _mollie_test_connection(self):
        """Call Mollie with the company's credentials and describe the outcome.

        :return: ``(success, message)``; the message is translated and never
            contains a key.
        :rtype: tuple(bool, str)
        """
        self.ensure_one()
        lines = []
        try:
            profile = self._mollie_client().fetch_profile()
            if profile.mode and profile.mode != self.mollie_mode:
                return False, self.env._(
                    "Test/live mismatch: %(mode)s mode is selected, but Mollie "
                    "says this key belongs to %(actual)s mode.",
                    mode=self.mollie_mode,
                    actual=profile.mode,
                )
            lines.append(
                self.env._(
                    "Connected to Mollie profile %(name)s (%(mode)s mode).",
                    name=profile.name,
                    mode=profile.mode or self.mollie_mode,
                )
            )
            if self.sudo().mollie_org_access_token:
                organization = self._mollie_client("org_token").fetch_organization()
                lines.append(
                    self.env._("Organization: %(name)s.", name=organization.name)
                )
        except MollieError as error:
            _logger.info(
                "Mollie connection test of company %(company)s failed: %(kind)s",
                {"company": self.id, "kind": error.kind},
            )
            reason = {
                "authentication": self.env._("Invalid key"),
                "unreachable": self.env._("Mollie unreachable"),
                "configuration": self.env._("Incomplete setup"),
            }.get(error.kind, self.env._("Mollie error"))
            return False, f"{reason}: {error.args[0]}"
        return True, " ".join(lines)

    def _mollie_sync_payment_provider(self):
        """Give Odoo's native Mollie provider of each company the active key.

        An administrator types each key once, here; the checkout provider of
        ``payment_mollie`` follows. Its state follows the mode too, unless the
        provider is disabled, which stays the administrator's decision.
        """
        providers = (
            self.env["payment.provider"]
            .sudo()
            .search([("code", "=", "mollie"), ("company_id", "in", self.ids)])
        )
        for provider in providers:
            company = provider.company_id
            key = company._mollie_get_api_key()
            vals = {"mollie_api_key": key or False}
            if provider.state != "disabled":
                vals["state"] = "enabled" if company.mollie_mode == "live" else "test"
            provider.write(vals)

    def _mollie_import_provider_key(self):
        """Adopt a key already saved on the native provider (at install).

        Its prefix says whether it is the test or the live key.
        """
        providers = (
            self.env["payment.provider"]
            .sudo()
            .search([("code", "=", "mollie"), ("company_id", "in", self.ids)])
        )
        for provider in providers:
            key = provider.mollie_api_key or ""
            company = provider.company_id.sudo()
            for mode, prefix in const.KEY_PREFIX_BY_MODE.items():
                field = f"mollie_{mode}_api_key"
                if key.startswith(prefix) and not company[field]:
                    company.write({field: key, "mollie_mode": mode})
