# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import UTC, datetime

from psycopg2.errors import UniqueViolation

from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.payment.logging import get_payment_logger

from .. import const, utils

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

PAYMENT_STATUSES = [
    ("open", "Open"),
    ("pending", "Pending"),
    ("authorized", "Authorized"),
    ("paid", "Paid"),
    ("failed", "Failed"),
    ("expired", "Expired"),
    ("canceled", "Canceled"),
]


def parse_mollie_datetime(value):
    """Mollie's ISO-8601 timestamps as naive UTC datetimes, or False."""
    if not value:
        return False
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def get_or_create_locked(model, vals):
    """Return the record of ``model`` with ``vals``' company and Mollie id,
    created once and locked until the transaction ends.

    Concurrent creators meet on the (company, Mollie id) unique index; the
    loser re-reads. The lock then keeps two writers from applying the same
    Mollie object at once.

    :param model: An empty recordset of the Mollie model.
    :param dict vals: ``company_id``, ``mollie_id`` and other creation values.
    """
    domain = [
        ("company_id", "=", vals["company_id"]),
        ("mollie_id", "=", vals["mollie_id"]),
    ]
    record = model.search(domain, limit=1)
    if not record:
        try:
            with model.env.cr.savepoint():
                record = model.create(vals)
                model.env.flush_all()
        except UniqueViolation:  # created meanwhile by a concurrent writer
            record = model.search(domain, limit=1)
    model.env.cr.execute(
        SQL(
            "SELECT id FROM %s WHERE id = %s FOR UPDATE",
            SQL.identifier(model._table),
            record.id,
        )
    )
    record.invalidate_recordset()
    return record


class MolliePayment(models.Model):
    """One Mollie payment, as Mollie last told us, and what Odoo did with it."""

    _name = "mollie.payment"
    _description = "Mollie Payment"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "mollie_created_at desc, id desc"
    _rec_name = "mollie_id"
    _check_company_auto = True

    company_id = fields.Many2one(
        comodel_name="res.company", required=True, index=True, readonly=True
    )
    mollie_id = fields.Char(string="Mollie ID", required=True, readonly=True)
    status = fields.Selection(
        selection=PAYMENT_STATUSES, readonly=True, tracking=True, index=True
    )
    mode = fields.Selection(
        selection=[("test", "Test"), ("live", "Live")], readonly=True
    )
    description = fields.Char(readonly=True)
    method = fields.Char(readonly=True)
    currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    mollie_currency = fields.Char(
        readonly=True, help="The currency code as Mollie sent it."
    )
    amount = fields.Monetary(readonly=True)
    amount_refunded = fields.Monetary(readonly=True)
    amount_remaining = fields.Monetary(readonly=True)
    amount_charged_back = fields.Monetary(readonly=True)
    settlement_amount = fields.Monetary(readonly=True)
    mollie_created_at = fields.Datetime(string="Created at Mollie", readonly=True)
    paid_at = fields.Datetime(readonly=True)
    failed_at = fields.Datetime(readonly=True)
    expired_at = fields.Datetime(readonly=True)
    canceled_at = fields.Datetime(readonly=True)
    failure_reason = fields.Char(readonly=True)
    failure_message = fields.Char(readonly=True)
    payment_link_ref = fields.Char(string="Payment link", readonly=True)
    customer_ref = fields.Char(string="Mollie customer", readonly=True)

    partner_id = fields.Many2one(
        comodel_name="res.partner", readonly=True, index="btree_not_null"
    )
    invoice_ids = fields.Many2many(
        comodel_name="account.move",
        relation="mollie_payment_account_move_rel",
        column1="mollie_payment_id",
        column2="move_id",
        string="Invoices",
        readonly=True,
    )
    transaction_id = fields.Many2one(
        comodel_name="payment.transaction", readonly=True, index="btree_not_null"
    )
    account_payment_id = fields.Many2one(
        comodel_name="account.payment",
        string="Booked payment",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    refund_ids = fields.One2many(
        comodel_name="mollie.refund", inverse_name="payment_id", readonly=True
    )
    chargeback_ids = fields.One2many(
        comodel_name="mollie.chargeback", inverse_name="payment_id", readonly=True
    )
    sync_state = fields.Selection(
        selection=[
            ("ok", "In sync"),
            ("review", "To review"),
            ("error", "Error"),
        ],
        default="ok",
        required=True,
        readonly=True,
        tracking=True,
    )
    sync_message = fields.Text(readonly=True)
    last_synced_at = fields.Datetime(readonly=True)

    _mollie_id_company_unique = models.Constraint(
        "UNIQUE(company_id, mollie_id)",
        "This Mollie payment is already recorded for this company.",
    )
    _account_payment_unique = models.Constraint(
        "UNIQUE(account_payment_id)",
        "A booked payment belongs to one Mollie payment only.",
    )

    # === BUSINESS METHODS: SYNC === #

    @api.model
    def _mollie_sync_from_resource(self, resource_id):
        """Fetch one Mollie object with the current company's key and apply it.

        Refund and chargeback ids lead to their payment, which carries them.

        :param str resource_id: ``tr_``, ``re_`` or ``chb_`` id.
        :return: The synced payment record (empty if nothing to sync).
        """
        company = self.env.company
        payment_id = resource_id
        if not resource_id.startswith("tr_"):
            payment_id = self._mollie_payment_id_of(resource_id)
            if not payment_id:
                _logger.info(
                    "Mollie %(resource)s is unknown here; nothing to sync",
                    {"resource": resource_id},
                )
                return self.browse()
        client = company._mollie_client()
        data = dict(client.fetch_object("payments", payment_id, reference=payment_id))
        record = self._mollie_get_or_create(company, data)
        record._mollie_apply(data, client)
        return record

    @api.model
    def _mollie_payment_id_of(self, resource_id):
        """The payment a known refund or chargeback belongs to."""
        model = (
            "mollie.refund" if resource_id.startswith("re_") else "mollie.chargeback"
        )
        child = self.env[model].search(
            [
                ("company_id", "=", self.env.company.id),
                ("mollie_id", "=", resource_id),
            ],
            limit=1,
        )
        return child.payment_id.mollie_id

    @api.model
    def _mollie_get_or_create(self, company, data):
        """Return the locked record of a Mollie payment, creating it once."""
        return get_or_create_locked(
            self, {"company_id": company.id, "mollie_id": data["id"]}
        )

    def _mollie_apply(self, data, client):
        """Apply Mollie's view of this payment: fields, status, money effects.

        Note: ``self.ensure_one()``; the row is locked by the caller.
        """
        self.ensure_one()
        old_status = self.status
        new_status = data.get("status")
        vals = self._mollie_prepare_vals(data)
        vals["last_synced_at"] = fields.Datetime.now()

        # 1. The status moves forward only.
        if new_status not in const.PAYMENT_STATUS_RANK:
            _logger.warning(
                "Mollie payment %(id)s has unknown status %(status)s; kept for review",
                {"id": self.mollie_id, "status": new_status},
            )
            vals.pop("status", None)
            vals.update(
                sync_state="review",
                sync_message=self.env._(
                    "Mollie reported the unknown status %(status)s.", status=new_status
                ),
            )
        elif not self._mollie_status_may_change(old_status, new_status):
            vals.pop("status", None)
            if old_status == "paid":
                _logger.warning(
                    "Mollie payment %(id)s: %(new)s after paid refused; to review",
                    {"id": self.mollie_id, "new": new_status},
                )
                vals.update(
                    sync_state="review",
                    sync_message=self.env._(
                        "Mollie now says %(new)s for a payment already paid; the "
                        "booking is kept. Check the payment in Mollie's dashboard.",
                        new=new_status,
                    ),
                )
        self.write(vals)
        self._mollie_link_documents(data)

        # 2. Money is booked only when currency and mode match.
        problem = self._mollie_accounting_problem()
        if problem:
            if self.sync_state != "error" or self.sync_message != problem:
                self.write({"sync_state": "error", "sync_message": problem})
                self._mollie_post_on_documents(problem)
            return

        # 3. Effects, each guarded by the link it leaves behind.
        if self.status == "paid" and not self.account_payment_id:
            late = old_status in const.PAYMENT_FAILED_STATUSES
            self._mollie_book_payment(late=late)
        if new_status in const.PAYMENT_FAILED_STATUSES and old_status != new_status:
            if self.status == new_status:
                self._mollie_record_failure()
        if self.account_payment_id and (self.amount_refunded or self.refund_ids):
            self.env["mollie.refund"]._mollie_sync_for_payment(self, client)
        links = data.get("_links") or {}
        if self.account_payment_id and (
            self.amount_charged_back or self.chargeback_ids or links.get("chargebacks")
        ):
            self.env["mollie.chargeback"]._mollie_sync_for_payment(self, client)

    @api.model
    def _mollie_status_may_change(self, old, new):
        """The monotonic state machine of a payment.

        Forward moves only; a paid payment stays paid; a payment that failed,
        expired or was canceled may still turn paid, since the money arrived.
        """
        if not old or old == new:
            return bool(not old or old == new)
        if old == "paid":
            return False
        if old in const.PAYMENT_FAILED_STATUSES:
            return new == "paid"
        return const.PAYMENT_STATUS_RANK[new] > const.PAYMENT_STATUS_RANK[old]

    def _mollie_prepare_vals(self, data):
        """Fields of this record from a Mollie payment object."""
        amount = data.get("amount") or {}
        currency_code = amount.get("currency")
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", currency_code)], limit=1)
        )
        details = data.get("details") or {}

        def money(key):
            value = (data.get(key) or {}).get("value")
            return abs(float(value)) if value else 0.0

        return {
            "status": data.get("status"),
            "mode": data.get("mode"),
            "description": (data.get("description") or "")[:256],
            "method": data.get("method"),
            "mollie_currency": currency_code,
            "currency_id": currency.id or False,
            "amount": money("amount"),
            "amount_refunded": money("amountRefunded"),
            "amount_remaining": money("amountRemaining"),
            "amount_charged_back": money("amountChargedBack"),
            "settlement_amount": money("settlementAmount"),
            "mollie_created_at": parse_mollie_datetime(data.get("createdAt")),
            "paid_at": parse_mollie_datetime(data.get("paidAt")),
            "failed_at": parse_mollie_datetime(data.get("failedAt")),
            "expired_at": parse_mollie_datetime(data.get("expiredAt")),
            "canceled_at": parse_mollie_datetime(data.get("canceledAt")),
            "failure_reason": details.get("failureReason") or False,
            "failure_message": (details.get("failureMessage") or "")[:256] or False,
            "payment_link_ref": data.get("paymentLinkId") or False,
            "customer_ref": data.get("customerId") or False,
        }

    def _mollie_link_documents(self, data):
        """Find the invoice(s), partner and native transaction of a payment.

        Only our own signed metadata or a record we created ties a payment to
        an invoice; nothing the payer typed (name, e-mail) ever does.
        """
        vals = {}
        if not self.transaction_id:
            transaction = (
                self.env["payment.transaction"]
                .sudo()
                .search(
                    [
                        ("provider_reference", "=", self.mollie_id),
                        ("provider_code", "=", "mollie"),
                        ("company_id", "=", self.company_id.id),
                    ],
                    limit=1,
                )
            )
            if transaction:
                vals["transaction_id"] = transaction.id
        transaction = self.transaction_id or self.env[
            "payment.transaction"
        ].sudo().browse(vals.get("transaction_id"))
        if not self.invoice_ids:
            invoices = self._mollie_invoices_from_metadata(data.get("metadata"))
            if not invoices and transaction:
                invoices = transaction.invoice_ids
            if not invoices:
                invoices = self._mollie_invoices_from_other_links(data)
            invoices = invoices.filtered(
                lambda move: move.company_id == self.company_id
            )
            if invoices:
                vals["invoice_ids"] = [(6, 0, invoices.ids)]
        if not self.partner_id:
            invoices = self.invoice_ids
            if "invoice_ids" in vals:
                invoices = self.env["account.move"].browse(vals["invoice_ids"][0][2])
            partner = invoices.partner_id.commercial_partner_id[:1]
            if not partner and transaction:
                partner = transaction.partner_id.commercial_partner_id
            if not partner and data.get("customerId"):
                partner = (
                    self.env["res.partner"]
                    .with_company(self.company_id)
                    ._mollie_partner_of_customer(data["customerId"])
                )
            if partner:
                vals["partner_id"] = partner.id
        if vals:
            self.write(vals)

    def _mollie_invoices_from_metadata(self, metadata):
        """Invoices named by our own signed metadata, if the signature holds."""
        invoice_id = utils.verify_metadata(self._mollie_database_secret(), metadata)
        if not invoice_id:
            return self.env["account.move"]
        return self.env["account.move"].browse(invoice_id).exists()

    def _mollie_invoices_from_other_links(self, data):
        """The invoice whose payment link (current or earlier) was paid."""
        link = data.get("paymentLinkId")
        if not isinstance(link, str) or not link.startswith("pl_"):
            return self.env["account.move"]
        Move = self.env["account.move"].sudo()
        domain = [("company_id", "=", self.company_id.id)]
        invoices = Move.search(domain + [("mollie_link_ref", "=", link)], limit=1)
        if not invoices:
            # Earlier links are kept comma-separated; match the whole id only.
            candidates = Move.search(domain + [("mollie_old_link_refs", "like", link)])
            invoices = candidates.filtered(
                lambda m: link in m.mollie_old_link_refs.split(",")
            )[:1]
        return invoices

    def _mollie_database_secret(self):
        return self.env["ir.config_parameter"].sudo().get_param("database.secret")

    def _mollie_accounting_problem(self):
        """Why this payment must not reach the books, or False."""
        self.ensure_one()
        company = self.company_id
        if self.mode and self.mode != company.mollie_mode:
            return self.env._(
                "Mode mismatch: this is a %(mode)s payment, the company works in "
                "%(company_mode)s mode. Nothing was booked.",
                mode=self.mode,
                company_mode=company.mollie_mode,
            )
        if not self.currency_id:
            return self.env._(
                "Currency mismatch: Odoo has no currency %(currency)s. Nothing was "
                "booked.",
                currency=self.mollie_currency or "-",
            )
        wrong = self.invoice_ids.filtered(lambda m: m.currency_id != self.currency_id)
        if wrong:
            return self.env._(
                "Currency mismatch: Mollie charged %(currency)s, invoice %(invoice)s "
                "is in %(invoice_currency)s. Nothing was booked.",
                currency=self.currency_id.name,
                invoice=wrong[0].name,
                invoice_currency=wrong[0].currency_id.name,
            )
        return False

    # === BUSINESS METHODS: ACCOUNTING === #

    def _mollie_book_payment(self, late=False):
        """Book the money received, once: an account.payment, reconciled.

        A payment of Odoo's native checkout is booked through its transaction,
        so that the transaction and this record share one account.payment.
        """
        self.ensure_one()
        if not self.invoice_ids and not self.transaction_id:
            return  # A payment we cannot tie to anything: recorded, not booked.
        if self.transaction_id:
            payment = self._mollie_book_through_transaction()
            # The native post-processing reconciles only in some flows (not
            # when the transaction was created outside a checkout).
            if payment:
                self._mollie_reconcile_with_invoices(payment)
        else:
            payment = self._mollie_create_account_payment(
                "inbound",
                self.amount,
                self.env._("Mollie payment %(id)s", id=self.mollie_id),
            )
            self._mollie_reconcile_with_invoices(payment)
        if not payment:
            return
        self.write({"account_payment_id": payment.id, "sync_state": "ok"})
        amount = self.currency_id.format(self.amount)
        message = self.env._(
            "Mollie payment %(payment)s of %(amount)s received (%(method)s); booked "
            "as %(booking)s.",
            payment=self._get_html_link(title=self.mollie_id),
            amount=amount,
            method=self.method or "-",
            booking=payment._get_html_link(),
        )
        self._mollie_post_on_documents(message)
        if late:
            self._mollie_schedule_activity(
                self.env._("Late Mollie payment"),
                self.env._(
                    "Mollie payment %(id)s was paid after it had been recorded as "
                    "failed or expired. It is booked; check the invoice.",
                    id=self.mollie_id,
                ),
                user=self.env.user,
            )

    def _mollie_book_through_transaction(self):
        """Book a native checkout payment through its own transaction."""
        return self.transaction_id.sudo()._mollie_settle()

    def _mollie_create_account_payment(self, payment_type, amount, memo):
        """Post an account.payment in the company's Mollie journal."""
        self.ensure_one()
        company = self.company_id
        journal = company._mollie_get_journal()
        partner = self.partner_id or self.invoice_ids.partner_id[:1]
        payment = (
            self.env["account.payment"]
            .sudo()
            .with_company(company)
            .create(
                {
                    "payment_type": payment_type,
                    "partner_type": "customer",
                    "partner_id": partner.commercial_partner_id.id,
                    "amount": amount,
                    "currency_id": self.currency_id.id,
                    "journal_id": journal.id,
                    "company_id": company.id,
                    "date": self._mollie_accounting_date(),
                    "memo": memo,
                    "payment_reference": self.mollie_id,
                }
            )
        )
        payment.action_post()
        return payment

    def _mollie_accounting_date(self, moment=None):
        """The company's local date of a Mollie moment (paid at, by default)."""
        moment = moment or self.paid_at or fields.Datetime.now()
        return fields.Datetime.context_timestamp(
            self.with_context(tz=self.company_id.partner_id.tz or self.env.user.tz),
            moment,
        ).date()

    def _mollie_reconcile_with_invoices(self, payment):
        """Reconcile a received payment with its open invoices.

        An amount above what the invoices still owe is left unreconciled, with
        an activity: an overpayment is a decision for an accountant.
        """
        invoices = self.invoice_ids.filtered(
            lambda m: m.state == "posted"
            and m.payment_state not in ("paid", "in_payment")
        )
        if not invoices:
            return
        residual = sum(invoices.mapped("amount_residual"))
        if self.currency_id.compare_amounts(payment.amount, residual) > 0:
            self._mollie_schedule_activity(
                self.env._("Mollie overpayment"),
                self.env._(
                    "Mollie payment %(id)s brought %(amount)s for %(residual)s due; "
                    "it is booked but not reconciled.",
                    id=self.mollie_id,
                    amount=self.currency_id.format(payment.amount),
                    residual=self.currency_id.format(residual),
                ),
            )
            return
        self._mollie_receivable_lines(payment.move_id + invoices).reconcile()

    @api.model
    def _mollie_receivable_lines(self, moves):
        return moves.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
            and not line.reconciled
        )

    def _mollie_record_failure(self):
        """Note a failed, expired or canceled payment on its invoices."""
        self.ensure_one()
        reason = self.failure_message or self.failure_reason or self.status
        threshold = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(
                "crm_mollie.failure_activity_threshold",
                const.FAILURE_ACTIVITY_THRESHOLD,
            )
        )
        for invoice in self.invoice_ids:
            count = invoice.mollie_failure_count + 1
            invoice.sudo().write(
                {"mollie_failure_count": count, "mollie_last_failure": reason}
            )
            if count == threshold:
                self._mollie_schedule_activity(
                    self.env._("Mollie payments keep failing"),
                    self.env._(
                        "%(count)s Mollie payment attempts on %(invoice)s failed; last "
                        "reason: %(reason)s.",
                        count=count,
                        invoice=invoice.name,
                        reason=reason,
                    ),
                    record=invoice,
                    user=invoice.invoice_user_id or self.env.user,
                )
        self._mollie_post_on_documents(
            self.env._(
                "Mollie payment %(payment)s %(status)s: %(reason)s "
                "(attempt %(count)s).",
                payment=self._get_html_link(title=self.mollie_id),
                status=self.status,
                reason=reason,
                count=max(self.invoice_ids.mapped("mollie_failure_count") or [1]),
            )
        )

    # === BUSINESS METHODS: TRAIL === #

    def _mollie_post_on_documents(self, body):
        """One chatter line on this record, its invoices and its partner."""
        self.ensure_one()
        self.message_post(body=body)
        for record in (*self.invoice_ids, *self.partner_id):
            record.sudo().message_post(body=body)

    def _mollie_schedule_activity(self, summary, note, record=None, user=None):
        """A to-do for a person: the salesperson of the invoice by default."""
        record = record or (self.invoice_ids[:1] or self)
        if not user and record._name == "account.move":
            user = record.invoice_user_id
        record.sudo().activity_schedule(
            act_type_xmlid="mail.mail_activity_data_todo",
            summary=summary,
            note=note,
            user_id=(user or self.env.user).id,
        )

    # === ACTION METHODS === #

    def action_sync_now(self):
        """Queue these payments for an immediate refresh from Mollie."""
        for company, payments in self.grouped("company_id").items():
            self.env["mollie.event"].with_company(company)._mollie_enqueue_many(
                company, payments.mapped("mollie_id"), "manual"
            )
        self.env["mollie.event"]._mollie_trigger_processing()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": self.env._("Queued for sync with Mollie."),
                "type": "info",
            },
        }
