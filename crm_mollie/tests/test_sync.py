# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.crm_mollie import const
from odoo.addons.crm_mollie.tools.mollie_client import MollieClient

from .common import OTHER_TEST_KEY, REVOKED_KEY, TEST_KEY, CrmMollieCommon

QUIET = (
    "odoo.addons.crm_mollie.models.mollie_event",
    "odoo.addons.crm_mollie.models.mollie_payment",
    "odoo.addons.crm_mollie.models.mollie_reconciliation",
    "odoo.addons.crm_mollie.tools.mollie_client",
)


@tagged("post_install", "-at_install")
class TestSync(CrmMollieCommon):
    """What the processor makes of Mollie's answers: one effect per fact."""

    def _sync(self, payment_id):
        """Queue one Mollie id, as a webhook would, and run the processor."""
        Event = self.env["mollie.event"].sudo()
        Event._mollie_enqueue_many(self.company, [payment_id], "manual")
        Event.search([("resource_id", "=", payment_id)]).next_attempt_at = (
            datetime.now() - timedelta(seconds=1)
        )
        self._process_events()
        return self.env["mollie.payment"].search([("mollie_id", "=", payment_id)])

    def _event(self, payment_id):
        return self.env["mollie.event"].search([("resource_id", "=", payment_id)])

    def _bookings(self, reference):
        return self.env["account.payment"].search(
            [("payment_reference", "=", reference)]
        )

    def _paid(self, amount=100.0, invoice_amount=None):
        invoice = self._create_invoice(invoice_amount or amount)
        payment = self._mollie_payment_for(invoice, amount=amount, webhook=False)
        self.simulator.set_payment_status(payment.id, "paid", method="creditcard")
        return invoice, payment

    def _fake_fetch(self, **changes):
        """Let Mollie answer with fields changed (statuses the simulator
        cannot produce, as a real API regression could)."""
        real = MollieClient.fetch_object

        def fetch(client, resource, resource_id, reference="", **params):
            data = real(client, resource, resource_id, reference, **params)
            data.update(changes)
            return data

        return patch.object(MollieClient, "fetch_object", fetch)

    # === PAYMENTS === #

    def test_an_event_is_due_the_moment_it_arrives(self):
        # Regression: Odoo's datetimes have whole seconds; an event stamped
        # with microseconds was not due until the next cron interval.
        invoice, payment = self._paid()
        Event = self.env["mollie.event"].sudo()
        Event._mollie_enqueue_many(self.company, [payment.id], "manual")
        self.assertEqual(self._event(payment.id).next_attempt_at.microsecond, 0)
        self._process_events()
        self.assertEqual(self._event(payment.id).state, "done")
        self.assertEqual(len(self._bookings(payment.id)), 1)

    def test_processing_twice_books_once(self):
        invoice, payment = self._paid()
        self._sync(payment.id)
        self._sync(payment.id)
        self.assertEqual(len(self._bookings(payment.id)), 1)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    @mute_logger(*QUIET)
    def test_failed_payment_is_recorded_on_the_invoice_with_reason_and_attempt_count(
        self,
    ):
        invoice = self._create_invoice(80.0)
        for attempt in (1, 2):
            payment = self._mollie_payment_for(invoice, webhook=False)
            self.simulator.set_payment_status(
                payment.id,
                "failed",
                method="creditcard",
                failure_reason="insufficient_funds",
            )
            record = self._sync(payment.id)
            self.assertEqual(record.status, "failed")
            self.assertEqual(invoice.mollie_failure_count, attempt)
        self.assertTrue(invoice.mollie_last_failure)
        self.assertEqual(record.failure_reason, "insufficient_funds")
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertFalse(self._bookings(payment.id))

    @mute_logger(*QUIET)
    def test_repeated_failures_give_the_salesperson_an_activity(self):
        invoice = self._create_invoice(80.0)
        for status in ("failed", "expired", "canceled"):
            payment = self._mollie_payment_for(invoice, webhook=False)
            self.simulator.set_payment_status(payment.id, status, method="creditcard")
            self._sync(payment.id)
        self.assertEqual(invoice.mollie_failure_count, 3)
        activities = invoice.activity_ids.filtered(
            lambda a: a.summary == "Mollie payments keep failing"
        )
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, invoice.invoice_user_id)

    def test_partial_payment_leaves_the_invoice_partly_paid(self):
        invoice, payment = self._paid(amount=40.0, invoice_amount=100.0)
        self._sync(payment.id)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertAlmostEqual(invoice.amount_residual, 60.0)

    def test_overpayment_is_booked_unreconciled_with_an_activity(self):
        invoice, payment = self._paid(amount=150.0, invoice_amount=100.0)
        record = self._sync(payment.id)
        self.assertEqual(record.account_payment_id.amount, 150.0)
        self.assertFalse(record.account_payment_id.is_reconciled)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertTrue(
            invoice.activity_ids.filtered(lambda a: a.summary == "Mollie overpayment")
        )

    def test_late_payment_after_expiry_is_still_booked_with_an_activity(self):
        invoice = self._create_invoice(100.0)
        payment = self._mollie_payment_for(invoice, webhook=False)
        record = self._sync(payment.id)
        record.sudo().status = "expired"  # as an earlier sync had seen it
        self.simulator.set_payment_status(payment.id, "paid", method="creditcard")
        self._sync(payment.id)
        self.assertEqual(record.status, "paid")
        self.assertEqual(len(self._bookings(payment.id)), 1)
        self.assertTrue(
            invoice.activity_ids.filtered(lambda a: a.summary == "Late Mollie payment")
        )

    @mute_logger(*QUIET)
    def test_paid_payment_reported_expired_later_stays_paid_and_is_flagged(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        with self._fake_fetch(status="expired"):
            self._sync(payment.id)
        self.assertEqual(record.status, "paid")
        self.assertEqual(record.sync_state, "review")
        self.assertEqual(len(self._bookings(payment.id)), 1)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    @mute_logger(*QUIET)
    def test_unknown_status_is_kept_for_review_without_crashing(self):
        invoice = self._create_invoice(100.0)
        payment = self._mollie_payment_for(invoice, webhook=False)
        with self._fake_fetch(status="foo"):
            record = self._sync(payment.id)
        self.assertEqual(record.sync_state, "review")
        self.assertEqual(record.status, False)
        self.assertEqual(self._event(payment.id).state, "done")
        self.assertFalse(self._bookings(payment.id))

    @mute_logger(*QUIET)
    def test_currency_mismatch_books_nothing_and_shows_an_error(self):
        invoice = self._create_invoice(100.0)
        payment = self._mollie_payment_for(invoice, currency="EUR", webhook=False)
        self.simulator.set_payment_status(payment.id, "paid", method="creditcard")
        record = self._sync(payment.id)
        self.assertEqual(record.sync_state, "error")
        self.assertIn("Currency mismatch", record.sync_message)
        self.assertFalse(self._bookings(payment.id))
        self.assertEqual(invoice.payment_state, "not_paid")

    @mute_logger(*QUIET)
    def test_mode_mismatch_books_nothing(self):
        invoice, payment = self._paid()
        with self._fake_fetch(mode="live"):
            record = self._sync(payment.id)
        self.assertEqual(record.sync_state, "error")
        self.assertIn("Mode mismatch", record.sync_message)
        self.assertFalse(self._bookings(payment.id))

    def test_payer_supplied_data_never_ties_a_payment_to_a_customer(self):
        # No metadata of ours: the payer's name matching a partner is no link.
        data = {
            "amount": {"currency": self.company.currency_id.name, "value": "10.00"},
            "description": self.partner_a.name,
            "redirectUrl": "https://erp.example.com",
            "metadata": {"crm_mollie": {"model": "account.move", "id": 1, "sig": "x"}},
        }
        payment = self.company._mollie_client().create_object("payments", data, "k-i2")
        self.simulator.set_payment_status(payment.id, "paid", method="creditcard")
        record = self._sync(payment.id)
        self.assertEqual(record.status, "paid")
        self.assertFalse(record.invoice_ids)
        self.assertFalse(record.partner_id)
        self.assertFalse(self._bookings(payment.id))

    def test_markup_from_mollie_is_stored_as_text_and_never_rendered(self):
        invoice = self._create_invoice(100.0)
        data = {
            "amount": {"currency": invoice.currency_id.name, "value": "100.00"},
            "description": "<script>alert(1)</script><img src=x onerror=alert(2)>",
            "redirectUrl": "https://erp.example.com",
        }
        payment = self.company._mollie_client().create_object("payments", data, "k-i1")
        record = self._sync(payment.id)
        self.assertEqual(record.description, data["description"])
        bodies = " ".join(record.message_ids.mapped("body"))
        self.assertNotIn("<script>", bodies)

    # === REFUNDS AND CHARGEBACKS === #

    def test_dashboard_refund_books_one_outbound_payment(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        refund = self.simulator.create_refund(payment.id, "30.00", status="processing")
        self._sync(payment.id)
        self._sync(payment.id)
        refunds = record.refund_ids
        self.assertEqual(refunds.mapped("mollie_id"), [refund["id"]])
        self.assertEqual(refunds.account_payment_id.payment_type, "outbound")
        self.assertEqual(refunds.account_payment_id.amount, 30.0)
        self.assertEqual(len(self._bookings(payment.id)), 2)  # payment + refund

    def test_two_partial_refunds_are_two_records_and_two_bookings(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        self.simulator.create_refund(payment.id, "20.00", status="processing")
        self._sync(payment.id)
        self.simulator.create_refund(payment.id, "15.00", status="refunded")
        self._sync(payment.id)
        self.assertEqual(len(record.refund_ids), 2)
        self.assertEqual(
            sorted(record.refund_ids.account_payment_id.mapped("amount")), [15.0, 20.0]
        )
        self.assertAlmostEqual(record.amount_refunded, 35.0)

    def test_pending_refund_is_recorded_but_booked_only_once_money_left(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        refund = self.simulator.create_refund(payment.id, "10.00", status="pending")
        self._sync(payment.id)
        self.assertEqual(record.refund_ids.status, "pending")
        self.assertFalse(record.refund_ids.account_payment_id)
        self.simulator.set_refund_status(refund["id"], "refunded")
        self._sync(payment.id)
        self.assertEqual(record.refund_ids.account_payment_id.amount, 10.0)

    def test_refund_failing_after_booking_is_reversed_and_the_payment_stays_paid(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        refund = self.simulator.create_refund(payment.id, "25.00", status="processing")
        self._sync(payment.id)
        self.simulator.set_refund_status(refund["id"], "failed")
        self._sync(payment.id)
        self._sync(payment.id)
        booked = record.refund_ids
        self.assertEqual(booked.status, "failed")
        self.assertEqual(booked.reversal_payment_id.payment_type, "inbound")
        self.assertEqual(booked.reversal_payment_id.amount, 25.0)
        self.assertEqual(record.status, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_refunds_are_limited_to_the_mollie_part_of_the_payment(self):
        invoice, payment = self._paid(amount=60.0, invoice_amount=100.0)
        record = self._sync(payment.id)
        self.simulator.create_refund(payment.id, "60.00", status="processing")
        self._sync(payment.id)
        self.assertEqual(record.refund_ids.account_payment_id.amount, 60.0)
        self.assertAlmostEqual(invoice.amount_residual, 40.0)

    def test_chargeback_reopens_the_invoice_once_and_flags_the_customer(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        self.simulator.create_chargeback(payment.id)
        self._sync(payment.id)
        self._sync(payment.id)
        chargeback = record.chargeback_ids
        self.assertEqual(len(chargeback), 1)
        self.assertEqual(chargeback.account_payment_id.amount, 100.0)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertTrue(invoice.partner_id.commercial_partner_id.mollie_chargeback_flag)
        self.assertTrue(
            invoice.activity_ids.filtered(lambda a: a.summary == "Mollie chargeback")
        )
        self.assertEqual(len(self._bookings(payment.id)), 2)

    def test_partial_chargeback_leaves_the_invoice_partly_paid(self):
        invoice, payment = self._paid()
        self._sync(payment.id)
        self.simulator.create_chargeback(payment.id, amount="30.00")
        self._sync(payment.id)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertAlmostEqual(invoice.amount_residual, 30.0)

    def test_reversed_chargeback_is_reapplied_once(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        chargeback = self.simulator.create_chargeback(payment.id)
        self._sync(payment.id)
        self.simulator.reverse_chargeback(chargeback["id"])
        self._sync(payment.id)
        self._sync(payment.id)
        self.assertTrue(record.chargeback_ids.reversed_at)
        self.assertEqual(record.chargeback_ids.reversal_payment_id.amount, 100.0)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(self._bookings(payment.id)), 3)

    # === FAILURES AND RECOVERY === #

    @mute_logger(*QUIET)
    def test_transient_server_errors_keep_the_event_pending_with_backoff(self):
        invoice, payment = self._paid()
        self.simulator.inject_fault(status=500, path_pattern="/v2/payments/", times=20)
        with patch("odoo.addons.crm_mollie.tools.mollie_client.time.sleep"):
            self._sync(payment.id)
        event = self._event(payment.id)
        self.assertEqual((event.state, event.attempts), ("pending", 1))
        wait = (event.next_attempt_at - datetime.now()).total_seconds()
        self.assertLessEqual(wait, 120)
        self.simulator.clear_faults()
        self._sync(payment.id)
        self.assertEqual(event.state, "done")
        self.assertEqual(len(self._bookings(payment.id)), 1)

    @mute_logger(*QUIET)
    def test_backoff_doubles_and_is_capped_at_thirty_minutes(self):
        invoice, payment = self._paid()
        self.simulator.inject_fault(status=503, path_pattern="/v2/payments/", times=500)
        event = self.env["mollie.event"]
        waits = []
        with patch("odoo.addons.crm_mollie.tools.mollie_client.time.sleep"):
            for _attempt in range(8):
                self._sync(payment.id) if not event else None
                event = event or self._event(payment.id)
                event.next_attempt_at = datetime.now() - timedelta(seconds=1)
                self._process_events()
                waits.append((event.next_attempt_at - datetime.now()).total_seconds())
        self.assertEqual(event.state, "pending")
        self.assertLessEqual(max(waits), const.EVENT_RETRY_MAX_DELAY + 1)
        self.assertGreater(waits[3], waits[1])

    @mute_logger(*QUIET)
    def test_rate_limit_backoff_honours_retry_after(self):
        invoice, payment = self._paid()
        self.simulator.inject_fault(
            status=429, path_pattern="/v2/payments/", times=5, retry_after=600
        )
        self._sync(payment.id)
        event = self._event(payment.id)
        wait = (event.next_attempt_at - datetime.now()).total_seconds()
        self.assertEqual(event.state, "pending")
        self.assertGreaterEqual(wait, 590)

    @mute_logger(*QUIET)
    def test_revoked_key_keeps_events_pending_alerts_and_drains_with_a_new_key(self):
        invoice, payment = self._paid()
        self.company.mollie_test_api_key = REVOKED_KEY
        for _attempt in range(const.ALERT_CONSECUTIVE_FAILURES):
            self._sync(payment.id)
        event = self._event(payment.id)
        self.assertEqual(event.state, "pending")
        self.assertEqual(
            self.company.mollie_api_failure_count, const.ALERT_CONSECUTIVE_FAILURES
        )
        alerts = self.env["mail.activity"].search(
            [("res_model", "=", "mollie.event"), ("summary", "=", const.ALERT_SUMMARY)]
        )
        self.assertTrue(alerts)
        self.company.mollie_test_api_key = TEST_KEY
        self._sync(payment.id)
        self.assertEqual(event.state, "done")
        self.assertEqual(self.company.mollie_api_failure_count, 0)
        self.assertEqual(len(self._bookings(payment.id)), 1)

    @mute_logger(*QUIET)
    def test_an_event_waiting_more_than_thirty_minutes_alerts_administrators(self):
        Event = self.env["mollie.event"].sudo()
        Event._mollie_enqueue_many(self.company, ["tr_stuck00001"], "manual")
        stuck = Event.search([("resource_id", "=", "tr_stuck00001")])
        stuck.received_at = datetime.now() - timedelta(minutes=31)
        stuck.next_attempt_at = datetime.now() + timedelta(minutes=10)
        Event._mollie_check_backlog_alerts()
        Event._mollie_check_backlog_alerts()
        alerts = stuck.activity_ids.filtered(lambda a: a.summary == const.ALERT_SUMMARY)
        self.assertEqual(len(alerts.mapped("user_id")), len(alerts))
        self.assertTrue(alerts)

    # === RECONCILIATION === #

    def test_reconciliation_finds_a_paid_payment_whose_webhook_never_came(self):
        invoice, payment = self._paid()
        self.env["mollie.reconciliation"].sudo()._cron_reconcile()
        self.assertEqual(self._event(payment.id).source, "reconciliation")
        self._process_events()
        self.assertEqual(len(self._bookings(payment.id)), 1)
        self.assertTrue(self.company.mollie_reconciled_until)

    def test_reconciliation_repolls_open_payments_and_skips_settled_ones(self):
        invoice, paid = self._paid()
        self._sync(paid.id)
        open_payment = self._mollie_payment_for(
            self._create_invoice(20.0), webhook=False
        )
        self._sync(open_payment.id)
        self.env["mollie.reconciliation"].sudo()._cron_reconcile()
        self.assertEqual(self._event(open_payment.id).state, "pending")
        self.assertEqual(self._event(paid.id).state, "done")

    def test_reconciliation_finds_a_dashboard_refund_of_an_old_payment(self):
        invoice, payment = self._paid()
        record = self._sync(payment.id)
        self.env["mollie.reconciliation"].sudo()._cron_reconcile()
        self._process_events()
        self.simulator.create_refund(payment.id, "5.00", status="refunded")
        self.env["mollie.reconciliation"].sudo()._cron_reconcile()
        self._process_events()
        self.assertEqual(record.refund_ids.account_payment_id.amount, 5.0)

    @mute_logger(*QUIET)
    def test_a_failing_company_does_not_block_the_others(self):
        other = self.env["res.company"].create({"name": "De Mol Oost BV"})
        other.sudo().write({"mollie_test_api_key": REVOKED_KEY})
        invoice, payment = self._paid()
        self.env["mollie.reconciliation"].sudo()._cron_reconcile()
        self.assertEqual(other.mollie_api_failure_count, 1)
        self.assertTrue(self._event(payment.id))

    # === NATIVE CHECKOUT, COMPANIES === #

    def test_native_checkout_payment_stays_one_payment_shared_with_its_transaction(
        self,
    ):
        invoice = self._create_invoice(100.0)
        provider = self.env["payment.provider"].sudo().search(
            [("code", "=", "mollie"), ("company_id", "=", self.company.id)], limit=1
        ) or self.env.ref("payment.payment_provider_mollie").sudo().copy(
            {"company_id": self.company.id}
        )
        provider.write({"state": "test", "mollie_api_key": TEST_KEY})
        payment = self._mollie_payment_for(invoice, webhook=False)
        transaction = (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": provider.payment_method_ids[:1].id
                    or self.env.ref("payment.payment_method_card").id,
                    "reference": f"{invoice.name}-mollie",
                    "amount": invoice.amount_total,
                    "currency_id": invoice.currency_id.id,
                    "partner_id": invoice.partner_id.id,
                    "invoice_ids": [(6, 0, invoice.ids)],
                    "provider_reference": payment.id,
                    "state": "pending",
                }
            )
        )
        self.simulator.set_payment_status(payment.id, "paid", method="creditcard")
        record = self._sync(payment.id)
        self._sync(payment.id)
        self.assertEqual(record.transaction_id, transaction)
        self.assertEqual(transaction.state, "done")
        self.assertTrue(record.account_payment_id)
        self.assertEqual(transaction.payment_id, record.account_payment_id)
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("payment_transaction_id", "=", transaction.id)]
            ),
            1,
        )
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_users_see_only_their_companys_mollie_records(self):
        invoice, payment = self._paid()
        self._sync(payment.id)
        other = self.env["res.company"].create({"name": "De Mol Oost BV"})
        outsider = new_test_user(
            self.env,
            login="mollie_outsider",
            groups="crm_mollie.group_mollie_user",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        Payment = self.env["mollie.payment"].with_user(outsider)
        self.assertFalse(Payment.search([]))
        self.assertFalse(
            Payment.formatted_read_group([], [], ["__count"])[0]["__count"]
        )
        self.assertEqual(
            self.env["mollie.payment"].search_count([("mollie_id", "=", payment.id)]), 1
        )

    def test_a_webhook_of_another_company_uses_that_companys_key(self):
        other = self.env["res.company"].create({"name": "De Mol Oost BV"})
        other.sudo().write({"mollie_test_api_key": OTHER_TEST_KEY})
        data = {
            "amount": {"currency": "EUR", "value": "10.00"},
            "description": "other",
            "redirectUrl": "https://erp.example.com",
        }
        payment = other._mollie_client().create_object("payments", data, "k-h1")
        Event = self.env["mollie.event"].sudo()
        Event._mollie_enqueue_many(other, [payment.id], "manual")
        self._process_events()
        record = (
            self.env["mollie.payment"].sudo().search([("mollie_id", "=", payment.id)])
        )
        self.assertEqual(record.company_id, other)
        auth = [
            r["headers"]["Authorization"]
            for r in self.simulator.requests
            if r["path"] == f"/v2/payments/{payment.id}" and r["method"] == "GET"
        ]
        self.assertEqual(set(auth), {f"Bearer {OTHER_TEST_KEY}"})
