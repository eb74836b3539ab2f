# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.tools import SQL

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

    def _mollie_settle(self):
        """Mark this transaction done and post-process it, once.

        Payments and refunds of Odoo's own Mollie checkout have a transaction
        whose post-processing creates the account.payment; booking through it
        keeps one account.payment whoever gets there first (its webhook, its
        return page or our processor). The row lock makes the others wait.

        :return: The transaction's account.payment.
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL("SELECT id FROM payment_transaction WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset()
        if self.state != "done":
            self._set_done()
        if not self.payment_id:
            self._post_process()
        return self.payment_id
