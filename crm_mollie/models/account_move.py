# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta
from urllib.parse import quote

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.payment.logging import get_payment_logger

from .. import const, utils
from ..exceptions import MollieError

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)


class AccountMove(models.Model):
    _inherit = "account.move"

    mollie_payment_ids = fields.Many2many(
        comodel_name="mollie.payment",
        relation="mollie_payment_account_move_rel",
        column1="move_id",
        column2="mollie_payment_id",
        string="Mollie Payments",
        readonly=True,
        copy=False,
    )
    mollie_failure_count = fields.Integer(
        string="Failed Mollie attempts",
        readonly=True,
        copy=False,
        help="Mollie payments of this invoice that failed, expired or were canceled.",
    )
    mollie_last_failure = fields.Char(
        string="Last Mollie failure", readonly=True, copy=False
    )
    mollie_link_ref = fields.Char(
        string="Mollie payment link",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Id (pl_...) of the invoice's current Mollie payment link.",
    )
    mollie_link_url = fields.Char(
        string="Mollie payment URL", readonly=True, copy=False
    )
    mollie_link_amount = fields.Monetary(
        string="Mollie link amount",
        readonly=True,
        copy=False,
        help="The amount the current link asks for: the residual when it was made.",
    )
    mollie_link_state = fields.Selection(
        selection=[
            ("to_create", "To create"),
            ("active", "Active"),
            ("paid", "Paid"),
            ("expired", "Expired"),
        ],
        string="Mollie link status",
        readonly=True,
        copy=False,
    )
    mollie_link_revision = fields.Integer(
        readonly=True,
        copy=False,
        help="How many links this invoice had: part of each link's idempotency key.",
    )
    mollie_old_link_refs = fields.Char(
        readonly=True,
        copy=False,
        help="Earlier payment links of this invoice, still matched when paid late.",
    )
    mollie_link_refresh = fields.Boolean(
        readonly=True,
        copy=False,
        help="The residual changed: the link is renewed or expired by the cron.",
    )
    mollie_refund_ids = fields.One2many(
        comodel_name="mollie.refund", inverse_name="credit_note_id", readonly=True
    )

    # === CRUD METHODS === #

    def _post(self, soft=True):
        """Override of `account` to give invoices in scope a payment link."""
        posted = super()._post(soft)
        posted._mollie_auto_create_payment_links()
        return posted

    def button_cancel(self):
        """Override of `account`: a cancelled invoice's link must not be paid."""
        res = super().button_cancel()
        self.filtered("mollie_link_ref")._mollie_expire_payment_link()
        return res

    # === ACTION METHODS === #

    def action_mollie_create_payment_link(self):
        """Create (or renew) the Mollie payment link, by hand or in bulk."""
        invoices = self.filtered(lambda m: m._mollie_link_applicable())
        if not invoices:
            raise UserError(
                self.env._(
                    "Mollie payment links are for posted customer invoices with an "
                    "amount due."
                )
            )
        for invoice in invoices:
            invoice._mollie_ensure_payment_link(raise_errors=len(invoices) == 1)
        if len(invoices) == 1:
            return True
        done = invoices.filtered(lambda m: m.mollie_link_state == "active")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": self.env._(
                    "%(done)s of %(total)s invoices have a Mollie payment link.",
                    done=len(done),
                    total=len(invoices),
                ),
                "type": "success" if len(done) == len(invoices) else "warning",
            },
        }

    # === BUSINESS METHODS: PAYMENT LINKS === #

    def _mollie_link_applicable(self):
        self.ensure_one()
        return (
            self.move_type == "out_invoice"
            and self.state == "posted"
            and not self.currency_id.is_zero(self.amount_residual)
        )

    def _mollie_in_link_scope(self):
        """Whether posting this invoice creates a link automatically."""
        self.ensure_one()
        company = self.company_id
        if company.mollie_link_scope == "all":
            return True
        if company.mollie_link_scope == "pilot":
            partner = self.partner_id.commercial_partner_id
            return (
                partner in company.mollie_pilot_partner_ids
                or self.partner_id in company.mollie_pilot_partner_ids
                or self.journal_id in company.mollie_pilot_journal_ids
            )
        return False

    def _mollie_auto_create_payment_links(self):
        for invoice in self:
            if (
                invoice._mollie_link_applicable()
                and invoice._mollie_in_link_scope()
                and invoice.company_id._mollie_get_api_key()
            ):
                invoice._mollie_ensure_payment_link(raise_errors=False)

    def _mollie_ensure_payment_link(self, raise_errors=True):
        """Make sure the invoice has one active link for its residual.

        A link for another amount is expired at Mollie and replaced; a link
        of an invoice with nothing left to pay is expired. Mollie being down
        never blocks posting: the invoice is marked "to create" and the cron
        tries again.

        Note: ``self.ensure_one()``.
        """
        self.ensure_one()
        company = self.company_id
        if not self._mollie_link_applicable():
            if self.mollie_link_ref and self.mollie_link_state == "active":
                self._mollie_expire_payment_link()
            self.mollie_link_refresh = False
            return
        residual = self.amount_residual
        if self.mollie_link_state == "active" and not self.currency_id.compare_amounts(
            residual, self.mollie_link_amount
        ):
            self.mollie_link_refresh = False
            return
        try:
            if self.mollie_link_ref and self.mollie_link_state == "active":
                self._mollie_expire_payment_link(raise_errors=True)
            self.partner_id.commercial_partner_id.with_company(
                company
            )._mollie_ensure_customer(raise_errors=False)
            link = self._mollie_create_payment_link(residual)
        except MollieError as error:
            if raise_errors:
                raise
            self.sudo().write({"mollie_link_state": "to_create"})
            self.message_post(
                body=self.env._(
                    "The Mollie payment link could not be created yet: %(error)s",
                    error=error.args[0],
                )
            )
            return
        self.sudo().write(
            {
                "mollie_link_ref": link["id"],
                "mollie_link_url": (
                    (link.get("_links") or {}).get("paymentLink") or {}
                ).get("href"),
                "mollie_link_amount": residual,
                "mollie_link_state": "active",
                "mollie_link_refresh": False,
            }
        )
        self.message_post(
            body=self.env._(
                "Mollie payment link %(link)s created for %(amount)s.",
                link=Markup('<a href="%s" target="_blank">%s</a>')
                % (self.mollie_link_url, link["id"]),
                amount=self.currency_id.format(residual),
            )
        )

    def _mollie_create_payment_link(self, amount):
        """POST a payment link for ``amount``; retry-safe per revision."""
        self.ensure_one()
        company = self.company_id
        revision = self.mollie_link_revision + 1
        self.sudo().mollie_link_revision = revision
        lifetime = timedelta(days=const.PAYMENT_LINK_LIFETIME_DAYS)
        expires = fields.Datetime.now() + lifetime
        params = self.env["ir.config_parameter"].sudo()
        payload = {
            "description": self.name,
            "amount": {
                "currency": self.currency_id.name,
                "value": utils.format_amount(amount, self.currency_id.decimal_places),
            },
            "redirectUrl": f"{company._mollie_get_webhook_base_url()}"
            f"{self._get_share_url(redirect=False)}",
            "webhookUrl": company._mollie_webhook_url(valid_for=lifetime),
            "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "reusable": False,
            "metadata": utils.sign_metadata(
                params.get_param("database.secret"), "account.move", self.id
            ),
        }
        key = utils.idempotency_key(
            params.get_param("database.uuid"),
            self._name,
            self.id,
            "payment-link",
            revision,
        )
        return company._mollie_client().create_object(
            "payment_links", payload, key, reference=self.name
        )

    def _mollie_expire_payment_link(self, raise_errors=False):
        """Archive the current link at Mollie so that nobody pays it."""
        for invoice in self:
            ref = invoice.mollie_link_ref
            try:
                invoice.company_id._mollie_client().patch_json(
                    f"payment-links/{ref}", {"archived": True}, reference=invoice.name
                )
            except MollieError as error:
                if raise_errors:
                    raise
                _logger.warning(
                    "Mollie payment link %(link)s of %(invoice)s not archived: "
                    "%(kind)s",
                    {"link": ref, "invoice": invoice.id, "kind": error.kind},
                )
            paid = invoice.payment_state in ("paid", "in_payment")
            old = ",".join(filter(None, [invoice.mollie_old_link_refs, ref]))
            invoice.sudo().write(
                {
                    "mollie_link_state": "paid" if paid else "expired",
                    "mollie_old_link_refs": old,
                    "mollie_link_ref": False,
                    "mollie_link_url": False,
                    "mollie_link_refresh": False,
                }
            )

    def _mollie_flag_link_refresh(self):
        """The residual of these invoices changed: renew their links soon."""
        invoices = self.filtered(
            lambda m: m.mollie_link_state in ("active", "to_create")
        )
        if invoices:
            invoices.sudo().write({"mollie_link_refresh": True})
            cron = self.env.ref(
                "crm_mollie.ir_cron_crm_mollie_payment_links", raise_if_not_found=False
            )
            if cron:
                cron.sudo()._trigger()

    @api.model
    def _cron_refresh_payment_links(self, limit=200):
        """Renew or expire the links whose invoice changed, create late ones."""
        invoices = self.sudo().search(
            [
                "|",
                ("mollie_link_refresh", "=", True),
                ("mollie_link_state", "=", "to_create"),
            ],
            limit=limit,
        )
        cron = self.env["ir.cron"]
        for index, invoice in enumerate(invoices):
            invoice.with_company(invoice.company_id)._mollie_ensure_payment_link(
                raise_errors=False
            )
            cron._commit_progress(1, remaining=len(invoices) - index - 1)

    def _mollie_link_qr_src(self):
        """Image URL of a QR code of the payment link (Odoo's barcode route)."""
        self.ensure_one()
        return "/report/barcode/?barcode_type=QR&width=220&height=220&value=" + quote(
            self.mollie_link_url or "", safe=""
        )

    # === BUSINESS METHODS: MAIL === #

    def _mollie_payment_link_html(self, lang=None):
        """A short paragraph with the payment link, for e-mails."""
        self.ensure_one()
        if self.mollie_link_state != "active" or not self.mollie_link_url:
            return Markup()
        text = self.with_context(lang=lang).env._("Pay this invoice online with Mollie")
        return Markup(
            '<p style="margin: 16px 0;"><a href="%(url)s" style="background-color: '
            "#875A7B; padding: 8px 16px; color: #fff; border-radius: 5px; "
            'text-decoration: none;">%(text)s</a></p>'
        ) % {"url": self.mollie_link_url, "text": text}

    # === BUSINESS METHODS: REFUNDS === #

    def _mollie_refundable_payments(self):
        """Mollie payments of the invoice this credit note reverses."""
        self.ensure_one()
        origin = self.reversed_entry_id
        return origin.mollie_payment_ids.filtered(
            lambda p: p.status == "paid" and p.account_payment_id
        ).sorted("amount_remaining", reverse=True)

    def action_mollie_refund(self):
        """Send the credit note's amount back to the customer through Mollie.

        At most what Mollie still holds of each payment (``amountRemaining``)
        is refunded; the refund is booked when Mollie confirms it.
        """
        self.ensure_one()
        if self.move_type != "out_refund" or self.state != "posted":
            raise UserError(
                self.env._("Only a posted credit note can be refunded through Mollie.")
            )
        payments = self._mollie_refundable_payments()
        if not payments:
            raise UserError(
                self.env._(
                    "%(invoice)s was not paid through Mollie: nothing to refund there.",
                    invoice=self.reversed_entry_id.name or "-",
                )
            )
        self.env.cr.execute(
            SQL("SELECT id FROM account_move WHERE id = %s FOR UPDATE", self.id)
        )
        to_refund = self.amount_residual
        for payment in payments:
            already = sum(
                payment.refund_ids.filtered(lambda r: r.credit_note_id == self).mapped(
                    "amount"
                )
            )
            amount = min(to_refund - already, payment.amount_remaining)
            if self.currency_id.compare_amounts(amount, 0) <= 0:
                continue
            self._mollie_request_refund(payment, amount)
            to_refund -= amount
        return True

    def _mollie_request_refund(self, payment, amount):
        """POST one refund, never twice.

        The Idempotency-Key covers retries within Mollie's one-hour window;
        beyond it only a list of the payment's refunds can tell whether an
        earlier attempt went through, so the list is always read first.
        """
        self.ensure_one()
        params = self.env["ir.config_parameter"].sudo()
        secret = params.get_param("database.secret")
        client = self.company_id._mollie_client()
        path = f"payments/{payment.mollie_id}/refunds"
        Refund = self.env["mollie.refund"].sudo()
        existing = client.list_all(path, "refunds", reference=self.name)
        item = next(
            (
                i
                for i in existing
                if utils.verify_metadata(secret, i.get("metadata")) == self.id
            ),
            None,
        )
        if item is None:
            key = utils.idempotency_key(
                params.get_param("database.uuid"),
                self._name,
                self.id,
                f"refund-{payment.mollie_id}",
            )
            item = client.create_child(
                path,
                {
                    "amount": {
                        "currency": payment.currency_id.name,
                        "value": utils.format_amount(
                            amount, payment.currency_id.decimal_places
                        ),
                    },
                    "description": self.name,
                    "metadata": utils.sign_metadata(secret, self._name, self.id),
                },
                key,
                reference=self.name,
            )
        refund = Refund._mollie_get_or_create(payment, item)
        refund.credit_note_id = self
        refund._mollie_apply(item)
        self.message_post(
            body=self.env._(
                "Refund %(refund)s of %(amount)s requested through Mollie.",
                refund=refund._get_html_link(title=refund.mollie_id),
                amount=payment.currency_id.format(amount),
            )
        )
        return refund
