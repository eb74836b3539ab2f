# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.payment.logging import get_payment_logger

from .. import const
from ..exceptions import MollieError
from .mollie_payment import parse_mollie_datetime

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)


class MollieReconciliation(models.AbstractModel):
    """The safety net under the webhooks.

    Webhooks get lost: Odoo down for longer than Mollie's 26 hours of retries,
    a proxy that answers 500, a customer who never comes back. Every run
    queues, per company with its own key, every payment that is not final and
    younger than 14 days, and every payment, refund and chargeback that
    Mollie's lists show as new or changed since the previous run (with an
    overlap, so nothing falls between two runs). The processing cron then
    applies them like any webhook.
    """

    _name = "mollie.reconciliation"
    _description = "Mollie reconciliation"

    @api.model
    def _cron_reconcile(self):
        companies = self.env["res.company"]._mollie_companies_with_keys()
        cron = self.env["ir.cron"]
        for index, company in enumerate(companies):
            try:
                with self.env.cr.savepoint():
                    queued = self.with_company(company)._mollie_reconcile_company(
                        company
                    )
                company._mollie_note_api_success()
                _logger.info(
                    "Mollie reconciliation of company %(company)s queued %(queued)d "
                    "object(s)",
                    {"company": company.id, "queued": queued},
                )
            except MollieError as error:
                # One company's revoked key or outage never blocks the others.
                company._mollie_note_api_failure()
                _logger.error(
                    "Mollie reconciliation of company %(company)s failed: %(kind)s",
                    {"company": company.id, "kind": error.kind},
                )
            cron._commit_progress(1, remaining=len(companies) - index - 1)
        self.env["mollie.event"]._mollie_trigger_processing()
        self.env["mollie.event"]._mollie_check_backlog_alerts()

    @api.model
    def _mollie_reconcile_company(self, company):
        """Queue what needs a fresh look for one company.

        :return: How many Mollie ids were queued.
        :rtype: int
        """
        run_started = fields.Datetime.now()
        Event = self.env["mollie.event"]
        Payment = self.env["mollie.payment"]

        # 1. Non-final payments we know, until final or too old to change.
        oldest = run_started - timedelta(days=const.RECONCILE_MAX_AGE_DAYS)
        open_payments = Payment.search(
            [
                ("company_id", "=", company.id),
                ("status", "not in", const.PAYMENT_FINAL_STATUSES),
                "|",
                ("mollie_created_at", ">=", oldest),
                ("mollie_created_at", "=", False),
            ]
        )
        to_queue = set(open_payments.mapped("mollie_id"))

        # 2. Mollie's lists, newest first, back to the previous run's start.
        since = company.mollie_reconciled_until or oldest
        since -= timedelta(seconds=const.RECONCILE_OVERLAP_SECONDS)
        client = company._mollie_client()

        def older(item):
            created = parse_mollie_datetime(item.get("createdAt"))
            return bool(created and created < since)

        known = {
            p.mollie_id: p
            for p in Payment.search(
                [("company_id", "=", company.id), ("mollie_created_at", ">=", since)]
            )
        }
        for item in client.list_all("payments", "payments", stop=older):
            local = known.get(item["id"])
            if not local or local.status != item.get("status"):
                to_queue.add(item["id"])
        for path in ("refunds", "chargebacks"):
            Child = self.env[f"mollie.{path[:-1]}"]
            for item in client.list_all(path, path, stop=older):
                child = Child.search(
                    [("company_id", "=", company.id), ("mollie_id", "=", item["id"])],
                    limit=1,
                )
                if not child or getattr(child, "status", None) not in (
                    None,
                    item.get("status"),
                ):
                    if item.get("paymentId"):
                        to_queue.add(item["paymentId"])

        queued = Event._mollie_enqueue_many(company, sorted(to_queue), "reconciliation")
        company.mollie_reconciled_until = run_started
        return queued
