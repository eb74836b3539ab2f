# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from .. import utils


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def _send_refund_request(self):
        """Override of `payment` to refund Mollie payments, partially too.

        The refund transaction's id keys the request, so a replayed request
        (a retried HTTP call, a serialization retry) never refunds twice.
        Mollie's confirmation comes back through the sync, which books the
        refund through this transaction.
        """
        if self.provider_code != "mollie":
            return super()._send_refund_request()
        source = self.source_transaction_id
        company = self.company_id
        params = self.env["ir.config_parameter"].sudo()
        key = utils.idempotency_key(
            params.get_param("database.uuid"), self._name, self.id, "refund"
        )
        refund = company._mollie_client().create_child(
            f"payments/{source.provider_reference}/refunds",
            {
                "amount": {
                    "currency": self.currency_id.name,
                    "value": utils.format_amount(
                        -self.amount, self.currency_id.decimal_places
                    ),
                },
                "description": self.reference,
            },
            key,
            reference=self.reference,
        )
        self.provider_reference = refund["id"]
        self._set_pending()
