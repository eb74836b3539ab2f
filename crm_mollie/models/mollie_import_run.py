# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from collections import Counter
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_compare

from odoo.addons.payment.logging import get_payment_logger

from .. import const
from ..exceptions import MollieError
from .mollie_payment import parse_mollie_datetime

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

# An import creates and updates thousands of records: their creation and
# field changes need no chatter line each. Bookings still post their own.
IMPORT_CONTEXT = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_notrack": True,
}
# Lines of the report kept per run; further changes are only counted.
REPORT_MAX_LINES = 2000
# The share of the progress bar of each list: payments are most of the work.
PROGRESS_SPAN = {
    "payments": (0.0, 80.0),
    "refunds": (80.0, 90.0),
    "chargebacks": (90.0, 100.0),
}
# A page that met a payment recorded meanwhile by a webhook is read again.
PAGE_MAX_ATTEMPTS = 3
# Counters of a run, named ``<counter>_count``.
COUNTERS = (
    "fetched",
    "created",
    "updated",
    "matched_metadata",
    "matched_link",
    "matched_description",
    "paid_invoice",
    "linked_paid",
    "unmatched",
    "skipped",
    "error",
)
# Fields of refunds and chargebacks an import sets without booking, as
# their ``_mollie_apply`` does.
CHILD_FIELDS = {
    "refunds": ("status", "amount", "description", "mollie_created_at"),
    "chargebacks": (
        "amount",
        "reason_code",
        "reason",
        "mollie_created_at",
        "reversed_at",
    ),
}


class MollieImportRun(models.Model):
    """One import of Mollie's payment history into Odoo.

    The integration is often switched on mid-year: the payments made before
    are in Mollie only, and some paid invoices are still open in Odoo. An
    import walks Mollie's lists of payments, refunds and chargebacks of a
    date range, newest first, a page at a time; after each page it commits
    what it did and where it stands, so that an interrupted import resumes
    at the page it stopped at. A dry run writes nothing but its report.
    """

    _name = "mollie.import.run"
    _description = "Mollie history import"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    date_from = fields.Date(
        string="From",
        required=True,
        help="First day (UTC) of the Mollie objects to import.",
    )
    date_to = fields.Date(
        string="To",
        required=True,
        help="Last day (UTC) of the Mollie objects to import.",
    )
    dry_run = fields.Boolean(
        help="Only report what the import would change; nothing is written."
    )
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("running", "Running"),
            ("done", "Done"),
            ("failed", "Failed"),
        ],
        default="draft",
        required=True,
        readonly=True,
        index=True,
    )
    stage = fields.Selection(
        selection=[
            ("payments", "Payments"),
            ("refunds", "Refunds"),
            ("chargebacks", "Chargebacks"),
            ("done", "Done"),
        ],
        string="List",
        default="payments",
        required=True,
        readonly=True,
        help="The Mollie list being walked.",
    )
    payments_cursor = fields.Char(
        readonly=True, copy=False, help="Mollie id the next page of payments starts at."
    )
    refunds_cursor = fields.Char(
        readonly=True, copy=False, help="Mollie id the next page of refunds starts at."
    )
    chargebacks_cursor = fields.Char(
        readonly=True,
        copy=False,
        help="Mollie id the next page of chargebacks starts at.",
    )
    position_at = fields.Datetime(
        string="Reached",
        readonly=True,
        copy=False,
        help="Creation time of the last Mollie object read in the current list.",
    )
    progress = fields.Float(readonly=True, copy=False, aggregator=None)
    started_at = fields.Datetime(readonly=True, copy=False)
    finished_at = fields.Datetime(readonly=True, copy=False)
    error_message = fields.Text(readonly=True, copy=False)
    report = fields.Text(
        readonly=True,
        copy=False,
        help="What the import changed, or would change in a dry run.",
    )
    report_line_count = fields.Integer(readonly=True, copy=False)
    dry_run_memory = fields.Json(
        readonly=True,
        copy=False,
        help="Payments with refunds or chargebacks a dry run would record, and "
        "whether they would be booked: the refunds and chargebacks lists come "
        "after the payments.",
    )
    fetched_count = fields.Integer(
        string="Read",
        readonly=True,
        copy=False,
        help="Mollie objects of the date range read.",
    )
    created_count = fields.Integer(
        string="Created",
        readonly=True,
        copy=False,
        help="Payments, refunds and chargebacks recorded in Odoo for the first time.",
    )
    updated_count = fields.Integer(
        string="Updated",
        readonly=True,
        copy=False,
        help="Records Odoo had, brought up to date.",
    )
    matched_metadata_count = fields.Integer(
        string="Matched by our metadata",
        readonly=True,
        copy=False,
        help="Payments tied to invoices by our signed metadata or by Odoo's own "
        "checkout.",
    )
    matched_link_count = fields.Integer(
        string="Matched by payment link", readonly=True, copy=False
    )
    matched_description_count = fields.Integer(
        string="Matched by description",
        readonly=True,
        copy=False,
        help="Payments whose description names an invoice of the same amount and "
        "customer.",
    )
    paid_invoice_count = fields.Integer(
        string="Invoices marked paid",
        readonly=True,
        copy=False,
        help="Open invoices that Mollie's payments paid: booked and reconciled.",
    )
    linked_paid_count = fields.Integer(
        string="Paid invoices linked",
        readonly=True,
        copy=False,
        help="Paid Mollie payments of invoices already paid in Odoo: linked only, "
        "nothing booked.",
    )
    unmatched_count = fields.Integer(
        string="Unmatched",
        readonly=True,
        copy=False,
        help="Payments no invoice could be found for.",
    )
    skipped_count = fields.Integer(
        string="Skipped",
        readonly=True,
        copy=False,
        help="Refunds and chargebacks of payments Odoo does not know, such as "
        "payments made before the date range.",
    )
    error_count = fields.Integer(
        string="Not booked",
        readonly=True,
        copy=False,
        help="Payments that could not be booked; the report says why.",
    )

    _dates_in_order = models.Constraint(
        "CHECK(date_from <= date_to)",
        "The import range must not end before it starts.",
    )

    # === COMPUTE METHODS === #

    @api.depends("date_from", "date_to", "dry_run")
    def _compute_name(self):
        for run in self:
            name = f"{run.date_from or ''} - {run.date_to or ''}"
            if run.dry_run:
                name = self.env._("%(range)s (dry run)", range=name)
            run.name = name

    # === ACTION METHODS === #

    def action_start(self):
        """Start the import in the background, or resume a failed one."""
        for run in self:
            if run.state == "running":
                raise UserError(
                    self.env._("Import %(name)s is running.", name=run.name)
                )
            if run.state == "done":
                raise UserError(
                    self.env._("Import %(name)s has already run.", name=run.name)
                )
            # A missing key is reported at once, not by a failed run.
            run.company_id._mollie_client()
        self.write({"state": "running", "error_message": False})
        self.filtered(lambda run: not run.started_at).started_at = fields.Datetime.now()
        self.env.ref("crm_mollie.ir_cron_crm_mollie_import").sudo()._trigger()
        return True

    def action_resume(self):
        """Resume a failed import at the page it stopped at."""
        return self.action_start()

    def action_run_for_real(self):
        """Run the import a dry run described, this time writing."""
        self.ensure_one()
        if not self.dry_run or self.state != "done":
            raise UserError(self.env._("Only a finished dry run can be run for real."))
        run = self.create(
            {
                "company_id": self.company_id.id,
                "date_from": self.date_from,
                "date_to": self.date_to,
                "dry_run": False,
            }
        )
        run.action_start()
        return run._mollie_form_action()

    def _mollie_form_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    # === BUSINESS METHODS: RUNNING === #

    @api.model
    def _cron_run_imports(self):
        """Run the imports started, oldest first, within the cron's time."""
        for run in self.search([("state", "=", "running")], order="id"):
            if not run.with_company(run.company_id)._mollie_run():
                return  # Out of time: the cron comes back at once.

    def _mollie_run(self):
        """Import page after page until done, failed or out of time.

        Each page is applied in a savepoint, then committed with the cursor
        of the next page: a page is applied completely or not at all, and
        applying it again is harmless.

        :return: False when the cron's time ran out before the end.
        :rtype: bool
        """
        self.ensure_one()
        cron = self.env["ir.cron"]
        attempts = 0
        while self.state == "running":
            processed = 0
            try:
                with self.env.cr.savepoint():
                    processed = self._mollie_import_next_page()
                attempts = 0
            except MollieError as error:
                self._mollie_fail(error.args[0])
            except psycopg2.IntegrityError:
                # A webhook recorded a payment of this page meanwhile: read
                # the page again, it now finds the record.
                attempts += 1
                if attempts >= PAGE_MAX_ATTEMPTS:
                    self._mollie_fail(
                        self.env._("Records kept changing while this page was read.")
                    )
            except Exception as error:  # noqa: BLE001 - shown on the run, resumable
                _logger.exception(
                    "Mollie history import %(run)s failed", {"run": self.id}
                )
                self._mollie_fail(str(error))
            remaining = int(self.state == "running")
            if cron._commit_progress(processed, remaining=remaining) <= 0:
                return self.state != "running"
        return True

    def _mollie_fail(self, message):
        self.write({"state": "failed", "error_message": message})

    def _mollie_range(self):
        """The run's dates as naive UTC datetimes, end excluded."""
        start = datetime.combine(self.date_from, time.min)
        end = datetime.combine(self.date_to + timedelta(days=1), time.min)
        return start, end

    def _mollie_import_next_page(self):
        """Read one page of the current list, apply it, move the cursor.

        Lists are newest first: objects newer than the range are skipped,
        the first one older than the range ends the list.

        :return: How many Mollie objects the page held.
        :rtype: int
        """
        self.ensure_one()
        stage = self.stage
        cursor_field = f"{stage}_cursor"
        params = {"limit": const.LIST_PAGE_SIZE}
        if self[cursor_field]:
            params[const.LIST_CURSOR_PARAM] = self[cursor_field]
        client = self.company_id._mollie_client()
        page = client.fetch_json(stage, reference=f"import {self.id}", **params)
        items = (page.get("_embedded") or {}).get(stage) or []
        start, end = self._mollie_range()
        in_range, position, finished = [], self.position_at, False
        for item in items:
            created = parse_mollie_datetime(item.get("createdAt"))
            if created and created < start:
                finished = True
                break
            position = created or position
            if not created or created < end:
                in_range.append(item)

        stats, lines = Counter(), []
        stats["fetched"] = len(in_range)
        if in_range and stage == "payments":
            self._mollie_import_payments(in_range, stats, lines)
        elif in_range:
            self._mollie_import_children(stage, in_range, stats, lines)

        vals = self._mollie_report_vals(stats, lines)
        next_cursor = self._mollie_next_cursor(page)
        if finished or not next_cursor:
            lists = const.IMPORT_LISTS
            index = lists.index(stage)
            next_stage = lists[index + 1] if index + 1 < len(lists) else "done"
            vals.update(
                {
                    cursor_field: False,
                    "stage": next_stage,
                    "position_at": False,
                    "progress": PROGRESS_SPAN[stage][1],
                }
            )
            if next_stage == "done":
                vals.update(state="done", finished_at=fields.Datetime.now())
        else:
            vals.update(
                {
                    cursor_field: next_cursor,
                    "position_at": position,
                    "progress": self._mollie_progress(stage, position),
                }
            )
        self.write(vals)
        _logger.info(
            "Mollie history import %(run)s: %(count)d %(list)s read, %(range)d in "
            "range",
            {
                "run": self.id,
                "count": len(items),
                "list": stage,
                "range": len(in_range),
            },
        )
        return len(items)

    @api.model
    def _mollie_next_cursor(self, page):
        """The id the next page starts at, from Mollie's ``next`` link."""
        href = (((page.get("_links") or {}).get("next")) or {}).get("href")
        if not href:
            return False
        query = parse_qs(urlsplit(href).query)
        return (query.get(const.LIST_CURSOR_PARAM) or [False])[0]

    def _mollie_progress(self, stage, position):
        """Percentage done: how far back in the range the list has come."""
        low, high = PROGRESS_SPAN[stage]
        if not position:
            return low
        start, end = self._mollie_range()
        share = (end - position) / (end - start)
        return low + (high - low) * min(max(share, 0.0), 1.0)

    def _mollie_report_vals(self, stats, lines):
        """The counters and report of a run after one more page."""
        vals = {
            f"{name}_count": self[f"{name}_count"] + stats[name]
            for name in COUNTERS
            if stats[name]
        }
        kept = lines[: max(REPORT_MAX_LINES - self.report_line_count, 0)]
        report = "".join(f"{line}\n" for line in kept)
        total = self.report_line_count + len(lines)
        if self.report_line_count <= REPORT_MAX_LINES < total:
            report += self.env._("(Report full: further changes are only counted.)\n")
        if report:
            vals["report"] = (self.report or "") + report
        if lines:
            vals["report_line_count"] = total
        return vals

    # === BUSINESS METHODS: PAYMENTS === #

    def _mollie_import_payments(self, items, stats, lines):
        """Record a page of payments, tie them to invoices, book the paid ones.

        Reads are per page: the payments Odoo knows, then every invoice the
        page could match (see ``mollie.payment._mollie_invoice_index``).
        New payments are created in one batch.
        """
        company = self.company_id
        Payment = self.env["mollie.payment"].with_context(**IMPORT_CONTEXT)
        existing = {
            payment.mollie_id: payment
            for payment in Payment.search(
                [
                    ("company_id", "=", company.id),
                    ("mollie_id", "in", [item["id"] for item in items]),
                ]
            )
        }
        if not self.dry_run:
            self._mollie_lock_payments(existing.values())
        index = Payment._mollie_invoice_index(
            company,
            [
                item
                for item in items
                if not existing.get(item["id"], Payment).invoice_ids
            ],
        )
        now = fields.Datetime.now()
        plans, new_vals = [], []
        for item in items:
            record = existing.get(item["id"], Payment)
            vals = Payment._mollie_prepare_vals(item)
            if record:
                vals = self._mollie_changes(record, vals, monotonic=True)
            vals.update(
                self._mollie_payment_link_vals(item, record, index, stats, lines)
            )
            if record and vals:
                stats["updated"] += 1
                vals["last_synced_at"] = now
                if not self.dry_run:
                    record.write(vals)
            elif not record:
                stats["created"] += 1
                vals.update(
                    company_id=company.id, mollie_id=item["id"], last_synced_at=now
                )
                new_vals.append(vals)
            plans.append((item, record, vals))

        created = {}
        if new_vals and not self.dry_run:
            created = {
                payment.mollie_id: payment for payment in Payment.create(new_vals)
            }
        memory = dict(self.dry_run_memory or {})
        for item, record, vals in plans:
            if self.dry_run:
                view = Payment.new(vals, origin=record or None)
            else:
                view = record or created[item["id"]]
            matched = "invoice_ids" in vals
            booked = self._mollie_import_booking(item, view, matched, stats, lines)
            if self.dry_run and self._mollie_has_children(item):
                memory[item["id"]] = booked
        if self.dry_run and memory != (self.dry_run_memory or {}):
            self.dry_run_memory = memory

    def _mollie_payment_link_vals(self, item, record, index, stats, lines):
        """Invoices, native transaction and partner of a payment, where the
        record has none yet.

        :param dict index: The page's lookup tables.
        :return: The values to write.
        :rtype: dict
        """
        vals = {}
        invoices = record.invoice_ids
        if not invoices:
            invoices, how = record._mollie_match_invoices(self.company_id, item, index)
            if how:
                stats[f"matched_{how}"] += 1
                vals["invoice_ids"] = [Command.set(invoices.ids)]
                lines.append(
                    self.env._(
                        "%(payment)s: matched by %(how)s to %(invoices)s.",
                        payment=item["id"],
                        how=self._mollie_how_label(how),
                        invoices=", ".join(invoices.mapped("name")),
                    )
                )
            else:
                stats["unmatched"] += 1
        transaction = index["transaction"].get(item["id"])
        if transaction and not record.transaction_id:
            vals["transaction_id"] = transaction.id
        if not record.partner_id:
            partner = (
                invoices.partner_id.commercial_partner_id[:1]
                or (transaction and transaction.partner_id.commercial_partner_id)
                or index["customer"].get(item.get("customerId"))
            )
            if partner:
                vals["partner_id"] = partner.id
        return vals

    @api.model
    def _mollie_lock_payments(self, payments):
        """Lock payments as the webhook processor does before it books one,
        and read them again: a webhook may have changed them meanwhile."""
        ids = sorted(payment.id for payment in payments)
        if not ids:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM mollie_payment WHERE id IN %s ORDER BY id FOR UPDATE",
                tuple(ids),
            )
        )
        self.env["mollie.payment"].browse(ids).invalidate_recordset()

    def _mollie_import_booking(self, item, payment, matched, stats, lines):
        """Book a paid payment whose open invoices Odoo still awaits.

        Invoices already paid in Odoo (by a bank statement, say) are only
        linked: booking them again would count the money twice.

        :param payment: The payment record, or in a dry run a new record
            showing what it would be.
        :param bool matched: Whether this import found its invoices.
        :return: Whether the payment is booked after the import.
        :rtype: bool
        """
        if payment.account_payment_id:
            return True
        if payment.status != "paid" or not payment.invoice_ids:
            return False
        invoices = payment.invoice_ids.filtered(
            lambda move: move.state == "posted"
            and move.payment_state not in ("paid", "in_payment")
        )
        if not invoices:
            stats["linked_paid"] += int(matched)
            return False
        problem = payment._mollie_accounting_problem()
        if problem:
            stats["error"] += 1
            lines.append(
                self.env._(
                    "%(payment)s: not booked. %(problem)s",
                    payment=item["id"],
                    problem=problem,
                )
            )
            if not self.dry_run and payment.sync_message != problem:
                payment.write({"sync_state": "error", "sync_message": problem})
            return False
        names = ", ".join(invoices.mapped("name"))
        if self.dry_run:
            residual = sum(invoices.mapped("amount_residual"))
            if not payment.currency_id.compare_amounts(payment.amount, residual):
                stats["paid_invoice"] += len(invoices)
            lines.append(
                self.env._(
                    "%(payment)s: would book %(amount)s and reconcile it with "
                    "%(invoices)s.",
                    payment=item["id"],
                    amount=payment.currency_id.format(payment.amount),
                    invoices=names,
                )
            )
            return True
        try:
            with self.env.cr.savepoint():
                payment._mollie_book_payment()
        except UserError as error:
            stats["error"] += 1
            lines.append(
                self.env._(
                    "%(payment)s: not booked. %(problem)s",
                    payment=item["id"],
                    problem=error.args[0],
                )
            )
            payment.write({"sync_state": "error", "sync_message": error.args[0]})
            return False
        paid = invoices.filtered(
            lambda move: move.payment_state in ("paid", "in_payment")
        )
        stats["paid_invoice"] += len(paid)
        lines.append(
            self.env._(
                "%(payment)s: booked %(amount)s as %(booking)s; paid: %(invoices)s.",
                payment=item["id"],
                amount=payment.currency_id.format(payment.amount),
                booking=payment.account_payment_id.display_name or "-",
                invoices=", ".join(paid.mapped("name")) or "-",
            )
        )
        return bool(payment.account_payment_id)

    @api.model
    def _mollie_has_children(self, item):
        """Whether a payment has refunds or chargebacks, by its own fields."""
        links = item.get("_links") or {}
        return bool(
            links.get("refunds")
            or links.get("chargebacks")
            or float((item.get("amountRefunded") or {}).get("value") or 0)
            or float((item.get("amountChargedBack") or {}).get("value") or 0)
        )

    def _mollie_how_label(self, how):
        return {
            "metadata": self.env._("our metadata"),
            "link": self.env._("payment link"),
            "description": self.env._("description and amount"),
        }[how]

    @api.model
    def _mollie_changes(self, record, vals, monotonic=False):
        """The values that differ from the record: an import rewrites nothing
        that is already true, so a second run changes nothing.

        :param bool monotonic: Apply the payment's forward-only status rule.
        """
        changes = {}
        for name, value in vals.items():
            field = record._fields[name]
            current = record[name]
            if field.type == "many2one":
                current = current.id
            if field.type in ("float", "monetary"):
                if float_compare(current or 0.0, value or 0.0, precision_digits=6):
                    changes[name] = value
            elif (current or False) != (value or False):
                changes[name] = value
        if (
            monotonic
            and "status" in changes
            and not record._mollie_status_may_change(record.status, changes["status"])
        ):
            del changes["status"]
        return changes

    # === BUSINESS METHODS: REFUNDS AND CHARGEBACKS === #

    def _mollie_import_children(self, kind, items, stats, lines):
        """Record a page of refunds or chargebacks on their payments.

        Only a payment booked in Odoo has its refunds and chargebacks booked;
        the others are recorded, so that the history is complete without
        money moving for payments Odoo never received.
        """
        company = self.company_id
        Child = self.env[f"mollie.{kind[:-1]}"].with_context(**IMPORT_CONTEXT)
        payments = {
            payment.mollie_id: payment
            for payment in self.env["mollie.payment"].search(
                [
                    ("company_id", "=", company.id),
                    ("mollie_id", "in", [item.get("paymentId") for item in items]),
                ]
            )
        }
        existing = {
            child.mollie_id: child
            for child in Child.search(
                [
                    ("company_id", "=", company.id),
                    ("mollie_id", "in", [item["id"] for item in items]),
                ]
            )
        }
        if not self.dry_run:
            self._mollie_lock_payments(payments.values())
        memory = self.dry_run_memory or {}
        for item in reversed(items):  # Oldest first: a refund cap applies in order.
            payment_ref = item.get("paymentId")
            payment = payments.get(payment_ref)
            if payment:
                booked = bool(payment.account_payment_id) or memory.get(payment_ref)
            elif self.dry_run and payment_ref in memory:
                booked = memory[payment_ref]
            else:
                stats["skipped"] += 1
                lines.append(
                    self.env._(
                        "%(object)s of %(payment)s: the payment is not in Odoo; "
                        "skipped.",
                        object=item["id"],
                        payment=payment_ref,
                    )
                )
                continue
            child = existing.get(item["id"], Child)
            vals = self._mollie_child_vals(kind, item)
            changes = self._mollie_changes(child, vals) if child else vals
            due = booked and self._mollie_child_booking_due(kind, child, vals)
            if child and not changes and not due:
                continue
            stats["updated" if child else "created"] += 1
            lines.append(self._mollie_child_line(item, booked, child))
            if self.dry_run:
                continue
            if not child:
                child = Child._mollie_get_or_create(payment, item)
            if not booked:
                child.write(vals)
                continue
            try:
                with self.env.cr.savepoint():
                    child.with_context(
                        mollie_refund_metadata=item.get("metadata")
                    )._mollie_apply(item)
            except UserError as error:
                stats["error"] += 1
                lines.append(
                    self.env._(
                        "%(object)s: not booked. %(problem)s",
                        object=item["id"],
                        problem=error.args[0],
                    )
                )
                child.write(dict(vals, sync_message=error.args[0]))

    @api.model
    def _mollie_child_vals(self, kind, item):
        """The fields of a refund or chargeback, as its ``_mollie_apply`` sets
        them."""
        Child = self.env[f"mollie.{kind[:-1]}"]
        reason = item.get("reason") or {}
        vals = {
            "status": item.get("status"),
            "amount": Child._mollie_money(item, "amount"),
            "description": (item.get("description") or "")[:256],
            "mollie_created_at": parse_mollie_datetime(item.get("createdAt")),
            "reason_code": reason.get("code") or False,
            "reason": (reason.get("description") or "")[:256] or False,
            "reversed_at": parse_mollie_datetime(item.get("reversedAt")),
        }
        return {name: vals[name] for name in CHILD_FIELDS[kind]}

    @api.model
    def _mollie_child_booking_due(self, kind, child, vals):
        """Whether applying a refund or chargeback would book something."""
        if kind == "refunds":
            if vals["status"] in const.REFUND_BOOKED_STATUSES:
                return not child.account_payment_id
            return bool(
                vals["status"] in const.REFUND_VOID_STATUSES
                and child.account_payment_id
                and not child.reversal_payment_id
            )
        return not child.account_payment_id or bool(
            vals["reversed_at"] and not child.reversal_payment_id
        )

    def _mollie_child_line(self, item, booked, child):
        amount = item.get("amount") or {}
        values = {
            "object": item["id"],
            "payment": item.get("paymentId"),
            "amount": f"{amount.get('value', '')} {amount.get('currency', '')}",
        }
        if self.dry_run and booked:
            return self.env._(
                "%(object)s of %(payment)s (%(amount)s): would be recorded and booked.",
                **values,
            )
        if self.dry_run:
            return self.env._(
                "%(object)s of %(payment)s (%(amount)s): would be recorded; nothing "
                "to book, the payment is not booked.",
                **values,
            )
        if child:
            return self.env._(
                "%(object)s of %(payment)s (%(amount)s): updated.", **values
            )
        return self.env._("%(object)s of %(payment)s (%(amount)s): recorded.", **values)
