# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import api, fields, models

from odoo.addons.payment.logging import get_payment_logger

from .. import const, utils
from .mollie_payment import get_or_create_locked, parse_mollie_datetime

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)


class MollieChildMixin(models.AbstractModel):
    """What refunds and chargebacks share: they hang below a payment, are
    unique per company, and are created once even when found twice at once."""

    _name = "mollie.child.mixin"
    _description = "Mollie object below a payment"

    company_id = fields.Many2one(
        comodel_name="res.company", required=True, index=True, readonly=True
    )
    mollie_id = fields.Char(string="Mollie ID", required=True, readonly=True)
    payment_id = fields.Many2one(
        comodel_name="mollie.payment",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    currency_id = fields.Many2one(related="payment_id.currency_id")
    partner_id = fields.Many2one(related="payment_id.partner_id")
    amount = fields.Monetary(readonly=True)
    mollie_created_at = fields.Datetime(string="Created at Mollie", readonly=True)
    account_payment_id = fields.Many2one(
        comodel_name="account.payment",
        string="Booked payment",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    reversal_payment_id = fields.Many2one(
        comodel_name="account.payment",
        string="Reversal",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    sync_message = fields.Text(readonly=True)

    @api.model
    def _mollie_get_or_create(self, payment, item):
        """Return the locked record of a Mollie child object, created once."""
        return get_or_create_locked(
            self,
            {
                "company_id": payment.company_id.id,
                "mollie_id": item["id"],
                "payment_id": payment.id,
            },
        )

    @api.model
    def _mollie_money(self, item, key):
        value = (item.get(key) or {}).get("value")
        return abs(float(value)) if value else 0.0


class MollieRefund(models.Model):
    """A refund of a Mollie payment, made in Odoo or in Mollie's dashboard."""

    _name = "mollie.refund"
    _description = "Mollie Refund"
    _inherit = ["mollie.child.mixin", "mail.thread"]
    _order = "mollie_created_at desc, id desc"
    _rec_name = "mollie_id"

    status = fields.Selection(
        selection=[
            ("queued", "Queued"),
            ("pending", "Pending"),
            ("processing", "Processing"),
            ("refunded", "Refunded"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
        ],
        readonly=True,
        tracking=True,
    )
    description = fields.Char(readonly=True)
    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        readonly=True,
        index="btree_not_null",
        help="The credit note that asked for this refund, when made from Odoo.",
    )

    _mollie_id_company_unique = models.Constraint(
        "UNIQUE(company_id, mollie_id)",
        "This Mollie refund is already recorded for this company.",
    )
    _account_payment_unique = models.Constraint(
        "UNIQUE(account_payment_id)",
        "A booked refund belongs to one Mollie refund only.",
    )

    @api.model
    def _mollie_sync_for_payment(self, payment, client):
        """Bring every refund of a payment up to date (list, then apply)."""
        items = client.list_all(
            f"payments/{payment.mollie_id}/refunds",
            "refunds",
            reference=payment.mollie_id,
        )
        for item in reversed(items):  # oldest first: the cap applies in order
            self._mollie_get_or_create(payment, item).with_context(
                mollie_refund_metadata=item.get("metadata")
            )._mollie_apply(item)

    def _mollie_apply(self, item):
        """Apply one refund as Mollie reports it; effects happen once each."""
        self.ensure_one()
        self.write(
            {
                "status": item.get("status"),
                "amount": self._mollie_money(item, "amount"),
                "description": (item.get("description") or "")[:256],
                "mollie_created_at": parse_mollie_datetime(item.get("createdAt")),
            }
        )
        if self.status in const.REFUND_BOOKED_STATUSES and not self.account_payment_id:
            self._mollie_book()
        elif (
            self.status in const.REFUND_VOID_STATUSES
            and self.account_payment_id
            and not self.reversal_payment_id
        ):
            self._mollie_reverse()

    def _mollie_book(self):
        """Book the money sent back, limited to the Mollie part of the payment."""
        payment = self.payment_id
        booked = sum(
            (payment.refund_ids - self)
            .filtered(lambda r: r.account_payment_id and not r.reversal_payment_id)
            .mapped("amount")
        )
        cap = max(payment.amount - booked, 0.0)
        amount = min(self.amount, cap)
        if payment.currency_id.compare_amounts(self.amount, cap) > 0:
            self.sync_message = self.env._(
                "Refund of %(amount)s exceeds the %(cap)s left of the Mollie payment; "
                "%(booked)s was booked. Review the difference.",
                amount=payment.currency_id.format(self.amount),
                cap=payment.currency_id.format(cap),
                booked=payment.currency_id.format(amount),
            )
            payment.write({"sync_state": "review", "sync_message": self.sync_message})
        if payment.currency_id.is_zero(amount):
            return
        booking = self._mollie_book_through_transaction() or (
            payment._mollie_create_account_payment(
                "outbound",
                amount,
                self.env._("Mollie refund %(id)s", id=self.mollie_id),
            )
        )
        self._mollie_reconcile_with_credit_notes(booking)
        self.account_payment_id = booking
        payment._mollie_post_on_documents(
            self.env._(
                "Mollie refund %(refund)s of %(amount)s sent back to the customer; "
                "booked as %(booking)s.",
                refund=self._get_html_link(title=self.mollie_id),
                amount=payment.currency_id.format(amount),
                booking=booking._get_html_link(),
            )
        )

    def _mollie_reconcile_with_credit_notes(self, booking):
        """Match the refund with the credit note that asked for it."""
        credit_note = self.credit_note_id or self._mollie_credit_note_from_metadata()
        if credit_note and credit_note.state == "posted":
            self.payment_id._mollie_receivable_lines(
                booking.move_id + credit_note
            ).reconcile()
        return booking

    def _mollie_credit_note_from_metadata(self):
        """A refund made from Odoo carries its credit note in signed metadata."""
        metadata = self.env.context.get("mollie_refund_metadata")
        credit_note_id = utils.verify_metadata(
            self.payment_id._mollie_database_secret(), metadata
        )
        if not credit_note_id:
            return self.env["account.move"]
        credit_note = self.env["account.move"].sudo().browse(credit_note_id).exists()
        if credit_note:
            self.credit_note_id = credit_note
        return credit_note

    def _mollie_book_through_transaction(self):
        """A refund from Odoo's refund wizard has its own transaction: book
        through it, so that the refund stays one outbound payment."""
        transaction = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("provider_reference", "=", self.mollie_id),
                    ("provider_code", "=", "mollie"),
                    ("operation", "=", "refund"),
                ],
                limit=1,
            )
        )
        if not transaction:
            return self.env["account.payment"]
        return transaction._mollie_settle()

    def _mollie_reverse(self):
        """The refund failed after the money left: it came back to Mollie."""
        payment = self.payment_id
        reversal = payment._mollie_create_account_payment(
            "inbound",
            self.account_payment_id.amount,
            self.env._("Failed Mollie refund %(id)s", id=self.mollie_id),
        )
        (self.account_payment_id.move_id + reversal.move_id).line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
            and not line.reconciled
        ).reconcile()
        self.reversal_payment_id = reversal
        self.sync_message = self.env._("The refund failed; its booking was reversed.")
        payment._mollie_post_on_documents(
            self.env._(
                "Mollie refund %(refund)s %(status)s after it was booked; reversed by "
                "%(booking)s. The customer did not get the money back.",
                refund=self._get_html_link(title=self.mollie_id),
                status=self.status,
                booking=reversal._get_html_link(),
            )
        )
