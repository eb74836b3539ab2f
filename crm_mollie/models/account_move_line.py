# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def reconcile(self):
        """Override of `account`: a payment or credit note changed what the
        invoices owe, so their Mollie links must follow (by the cron: no call
        to Mollie inside a reconciliation)."""
        moves = self.move_id
        res = super().reconcile()
        moves._mollie_flag_link_refresh()
        return res

    def remove_move_reconcile(self):
        """Override of `account`: unreconciling reopens an amount to pay."""
        moves = self.move_id | self.matched_debit_ids.debit_move_id.move_id
        moves |= self.matched_credit_ids.credit_move_id.move_id
        res = super().remove_move_reconcile()
        moves._mollie_flag_link_refresh()
        return res
