# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .mollie_payment import parse_mollie_datetime


class MollieChargeback(models.Model):
    """A chargeback: the payer's bank took the money back from Mollie."""

    _name = "mollie.chargeback"
    _description = "Mollie Chargeback"
    _inherit = ["mollie.child.mixin", "mail.thread"]
    _order = "mollie_created_at desc, id desc"
    _rec_name = "mollie_id"

    reason_code = fields.Char(readonly=True)
    reason = fields.Char(readonly=True)
    reversed_at = fields.Datetime(readonly=True, tracking=True)

    _mollie_id_company_unique = models.Constraint(
        "UNIQUE(company_id, mollie_id)",
        "This Mollie chargeback is already recorded for this company.",
    )
    _account_payment_unique = models.Constraint(
        "UNIQUE(account_payment_id)",
        "A booked chargeback belongs to one Mollie chargeback only.",
    )

    @api.model
    def _mollie_sync_for_payment(self, payment, client):
        """Bring every chargeback of a payment up to date."""
        items = client.list_all(
            f"payments/{payment.mollie_id}/chargebacks",
            "chargebacks",
            reference=payment.mollie_id,
        )
        for item in reversed(items):
            self._mollie_get_or_create(payment, item)._mollie_apply(item)

    def _mollie_apply(self, item):
        self.ensure_one()
        reason = item.get("reason") or {}
        self.write(
            {
                "amount": self._mollie_money(item, "amount"),
                "reason_code": reason.get("code") or False,
                "reason": (reason.get("description") or "")[:256] or False,
                "mollie_created_at": parse_mollie_datetime(item.get("createdAt")),
                "reversed_at": parse_mollie_datetime(item.get("reversedAt")),
            }
        )
        if not self.account_payment_id:
            self._mollie_book()
        if self.reversed_at and not self.reversal_payment_id:
            self._mollie_reapply()

    def _mollie_book(self):
        """Take the money back out of the books and reopen the invoice.

        The original payment is unreconciled, its credit first matched with
        the chargeback, and what is left of it matched with the invoice again:
        the invoice ends not paid or partly paid, by the chargeback's amount.
        """
        payment = self.payment_id
        original = payment.account_payment_id
        booking = payment._mollie_create_account_payment(
            "outbound",
            self.amount,
            self.env._("Mollie chargeback %(id)s", id=self.mollie_id),
        )
        self.account_payment_id = booking
        receivable = payment._mollie_receivable_lines
        original_lines = original.move_id.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        original_lines.remove_move_reconcile()
        (receivable(original.move_id) + receivable(booking.move_id)).reconcile()
        invoices = payment.invoice_ids.filtered(lambda m: m.state == "posted")
        lines = receivable(original.move_id) + receivable(invoices)
        if receivable(original.move_id) and receivable(invoices):
            lines.reconcile()
        payment.partner_id.sudo().mollie_chargeback_flag = True
        message = self.env._(
            "Mollie chargeback %(chargeback)s of %(amount)s (%(reason)s): the money "
            "went back to the payer; booked as %(booking)s and the invoice reopened.",
            chargeback=self._get_html_link(title=self.mollie_id),
            amount=payment.currency_id.format(self.amount),
            reason=self.reason or self.reason_code or "-",
            booking=booking._get_html_link(),
        )
        payment._mollie_post_on_documents(message)
        accountant = self._mollie_accountant()
        payment._mollie_schedule_activity(
            self.env._("Mollie chargeback"),
            message,
            user=accountant,
        )

    def _mollie_reapply(self):
        """The chargeback was reversed: the money is ours again, once."""
        payment = self.payment_id
        booking = payment._mollie_create_account_payment(
            "inbound",
            self.amount,
            self.env._("Reversed Mollie chargeback %(id)s", id=self.mollie_id),
        )
        self.reversal_payment_id = booking
        payment._mollie_reconcile_with_invoices(booking)
        payment._mollie_post_on_documents(
            self.env._(
                "Mollie chargeback %(chargeback)s was reversed: %(amount)s received "
                "again, booked as %(booking)s.",
                chargeback=self._get_html_link(title=self.mollie_id),
                amount=payment.currency_id.format(self.amount),
                booking=booking._get_html_link(),
            )
        )

    def _mollie_accountant(self):
        """An accounting administrator of the company, for the activity."""
        group = self.env.ref("account.group_account_manager")
        users = group.all_user_ids.filtered(
            lambda u: self.company_id in u.company_ids and not u.share
        )
        return users[:1] or self.env.user
