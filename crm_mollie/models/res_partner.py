# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from odoo.addons.payment.logging import get_payment_logger

from .. import const, utils
from ..exceptions import MollieError

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

# Partner fields that Mollie's customer record mirrors.
CUSTOMER_FIELDS = ("name", "email", "lang")


class ResPartner(models.Model):
    _inherit = "res.partner"

    mollie_customer_id = fields.Char(
        string="Mollie customer",
        company_dependent=True,
        copy=False,
        readonly=True,
        help="The customer (cst_...) at Mollie for the current company; created "
        "with the first payment request.",
    )
    mollie_payment_ids = fields.One2many(
        comodel_name="mollie.payment", inverse_name="partner_id", readonly=True
    )
    mollie_chargeback_flag = fields.Boolean(
        string="Mollie chargeback",
        readonly=True,
        copy=False,
        help="A Mollie payment of this customer was charged back.",
    )

    # === CRUD METHODS === #

    def write(self, vals):
        """Override to keep the Mollie customers' name, e-mail and locale true."""
        res = super().write(vals)
        if set(CUSTOMER_FIELDS) & set(vals):
            self._mollie_sync_customers()
        return res

    # === BUSINESS METHODS === #

    def _mollie_customer_payload(self):
        self.ensure_one()
        payload = {"name": self.name or "", "email": self.email or None}
        if self.lang in const.SUPPORTED_LOCALES:
            payload["locale"] = self.lang
        return payload

    def _mollie_ensure_customer(self, raise_errors=True):
        """The partner's Mollie customer id in the current company, created once.

        :return: The ``cst_`` id, or False when it could not be created.
        """
        self.ensure_one()
        if self.mollie_customer_id:
            return self.mollie_customer_id
        company = self.env.company
        params = self.env["ir.config_parameter"].sudo()
        payload = dict(
            self._mollie_customer_payload(),
            metadata=utils.sign_metadata(
                params.get_param("database.secret"), self._name, self.id
            ),
        )
        key = utils.idempotency_key(
            params.get_param("database.uuid"),
            self._name,
            self.id,
            f"customer-{company.id}",
        )
        try:
            customer = company._mollie_client().create_object(
                "customers", payload, key, reference=f"partner {self.id}"
            )
        except MollieError:
            if raise_errors:
                raise
            _logger.warning(
                "Mollie customer for partner %(partner)s not created yet",
                {"partner": self.id},
            )
            return False
        self.sudo().mollie_customer_id = customer["id"]
        return customer["id"]

    def _mollie_sync_customers(self):
        """Push name, e-mail and locale to every company's Mollie customer.

        A failure is logged and never blocks the save: the next change, or
        the next payment request, sends the data again.
        """
        companies = (
            self.env["res.company"]
            .sudo()
            .search(
                [
                    "|",
                    ("mollie_test_api_key", "!=", False),
                    ("mollie_live_api_key", "!=", False),
                ]
            )
        )
        for company in companies:
            for partner in self.with_company(company).sudo():
                if not partner.mollie_customer_id:
                    continue
                try:
                    company._mollie_client().patch_json(
                        f"customers/{partner.mollie_customer_id}",
                        partner._mollie_customer_payload(),
                        reference=f"partner {partner.id}",
                    )
                except MollieError as error:
                    _logger.warning(
                        "Mollie customer of partner %(partner)s not updated: %(kind)s",
                        {"partner": partner.id, "kind": error.kind},
                    )

    @api.model
    def _mollie_partner_of_customer(self, customer_ref):
        """The partner linked to a Mollie customer in the current company."""
        if not customer_ref:
            return self.browse()
        return self.sudo().search([("mollie_customer_id", "=", customer_ref)], limit=1)
