# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import UTC, date, datetime, timedelta
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.base.models.ir_cron import IrCron

from .. import const, utils
from .common import CrmMollieCommon

QUIET = (
    "odoo.addons.crm_mollie.models.mollie_import_run",
    "odoo.addons.crm_mollie.tools.mollie_client",
)

DATE_FROM = date(2026, 1, 1)
DATE_TO = date(2026, 6, 30)
START = datetime(2026, 1, 1, tzinfo=UTC)

# The history: 1,000 payments in the range, newest first in Mollie's list.
IN_RANGE = 1000
BY_METADATA = 20  # signed metadata of open invoices: booked, invoices paid
BY_DESCRIPTION = 20  # invoice number and amount only: booked, invoices paid
ALREADY_PAID = 10  # invoice number of invoices paid in Odoo: linked only
BY_LINK = 5  # paid through an invoice's payment link
WRONG_AMOUNT = 10  # invoice number, another amount: no match
OLDER = NEWER = 20  # outside the range, before and after it


@tagged("post_install", "-at_install")
class TestImport(CrmMollieCommon):
    """The history import: Mollie's earlier payments brought into Odoo."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.currency = cls.company.currency_id.name
        cls.secret = cls.env["ir.config_parameter"].sudo().get_param("database.secret")
        amounts = [round(20 + index * 1.25, 2) for index in range(200)]
        counts = (BY_METADATA, BY_DESCRIPTION, ALREADY_PAID, BY_LINK, WRONG_AMOUNT, 2)
        invoices = cls._create_invoices(amounts[: sum(counts)])
        groups = []
        for count in counts:
            groups.append(invoices[:count])
            invoices = invoices[count:]
        (
            cls.meta_invoices,
            cls.desc_invoices,
            cls.paid_invoices,
            cls.link_invoices,
            cls.wrong_invoices,
            cls.customer_invoices,
        ) = groups
        # The planner would take the freshly created rows of this transaction
        # for an empty table, and Odoo's reconciliation queries crawl.
        cls.env.flush_all()
        cls.env.cr.execute(
            "ANALYZE account_move, account_move_line, account_partial_reconcile, "
            "account_payment"
        )
        cls.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=cls.paid_invoices.ids
        ).create({"group_payment": False})._create_payments()

    @classmethod
    def _create_invoices(cls, amounts):
        """Open invoices, created and posted in one batch each."""
        invoices = cls.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": cls.partner_a.id,
                    "invoice_date": DATE_FROM,
                    "invoice_line_ids": [
                        Command.create(
                            {"name": "Bread", "price_unit": amount, "tax_ids": []}
                        )
                    ],
                }
                for amount in amounts
            ]
        )
        invoices.action_post()
        return invoices

    # === THE HISTORY AT MOLLIE === #

    def _build_history(self):
        """Create the history at the simulator, oldest first, and date it.

        :return: Mollie ids by kind of payment, and the invoice (or link)
            each payment was made for.
        :rtype: tuple
        """
        client = self.company._mollie_client()
        sim = self.simulator
        targets = {}
        ids = {
            kind: []
            for kind in (
                "older",
                "metadata",
                "description",
                "already_paid",
                "link",
                "wrong_amount",
                "customer_ok",
                "customer_other",
                "open",
                "unmatched",
                "newer",
            )
        }
        customer_a = self._create_customer(client, self.partner_a)
        customer_b = self._create_customer(client, self.partner_b)
        links = []
        for number, invoice in enumerate(self.link_invoices):
            link = client.create_object(
                "payment_links",
                {
                    "description": f"Bakery order {number}",
                    "amount": {
                        "currency": self.currency,
                        "value": f"{invoice.amount_total:.2f}",
                    },
                },
                utils.idempotency_key(None, "test", number, "link"),
            )
            invoice.sudo().mollie_link_ref = link["id"]
            links.append(link["id"])

        plan = [("older", None)] * OLDER
        plan += [("metadata", invoice) for invoice in self.meta_invoices]
        plan += [("description", invoice) for invoice in self.desc_invoices]
        plan += [("already_paid", invoice) for invoice in self.paid_invoices]
        plan += [("link", link) for link in links]
        plan += [("wrong_amount", invoice) for invoice in self.wrong_invoices]
        plan += [("customer_ok", self.customer_invoices[0])]
        plan += [("customer_other", self.customer_invoices[1])]
        rest = IN_RANGE - (len(plan) - OLDER)
        plan += [("open" if n % 10 == 0 else "unmatched", None) for n in range(rest)]
        # Mix the kinds over the range, keeping the older ones first.
        middle = plan[OLDER:]
        middle = [middle[(n * 7) % len(middle)] for n in range(len(middle))]
        plan = plan[:OLDER] + middle + [("newer", None)] * NEWER

        span = timedelta(days=150) / IN_RANGE
        for number, (kind, target) in enumerate(plan):
            if kind == "link":
                payment = sim.pay_payment_link(target, method="creditcard")
            else:
                payment = self._create_payment(
                    client, number, kind, target, customer_a, customer_b
                )
                if kind != "open":
                    sim.set_payment_status(payment["id"], "paid", method="creditcard")
            moment = START + span * (number - OLDER)
            if kind == "newer":
                moment = datetime(2026, 7, 2, tzinfo=UTC) + timedelta(minutes=number)
            self._date(payment["id"], moment)
            ids[kind].append(payment["id"])
            targets[payment["id"]] = target

        # Refunds and chargebacks, in June (in the range), and one in July.
        moment = datetime(2026, 6, 1, tzinfo=UTC)
        children = [
            ("refund", ids["metadata"][:6]),
            ("refund", ids["unmatched"][:4]),
            ("refund", ids["older"][:2]),
            ("chargeback", ids["metadata"][6:9]),
            ("chargeback", ids["unmatched"][4:6]),
        ]
        for kind, payment_ids in children:
            for payment_id in payment_ids:
                if kind == "refund":
                    child = sim.create_refund(payment_id, "5.00", status="refunded")
                else:
                    child = sim.create_chargeback(payment_id)
                moment += timedelta(hours=1)
                self._date(child["id"], moment)
        late = sim.create_refund(ids["description"][0], "1.00", status="refunded")
        self._date(late["id"], datetime(2026, 7, 3, tzinfo=UTC))
        return ids, targets

    def _create_customer(self, client, partner):
        customer = client.create_object(
            "customers",
            {"name": partner.name},
            utils.idempotency_key(None, "test", partner.id, "customer"),
        )
        partner.with_company(self.company).sudo().mollie_customer_id = customer["id"]
        return customer["id"]

    def _create_payment(self, client, number, kind, invoice, customer_a, customer_b):
        """One payment as the shop, Odoo or the dashboard made it."""
        amount = invoice.amount_total if invoice else 10 + number % 90
        description = invoice.name if invoice else f"Order {number:05d}"
        data = {
            "amount": {"currency": self.currency, "value": f"{amount:.2f}"},
            "description": description,
            "redirectUrl": "https://shop.example.com/thanks",
        }
        if kind == "metadata":
            data["description"] = f"Payment {number}"
            data["metadata"] = utils.sign_metadata(
                self.secret, "account.move", invoice.id
            )
        elif kind == "wrong_amount":
            data["amount"]["value"] = f"{amount + 1:.2f}"
        elif kind == "customer_ok":
            data["customerId"] = customer_a
        elif kind == "customer_other":
            data["customerId"] = customer_b
        key = utils.idempotency_key(None, "test", number, "history")
        return client.create_object("payments", data, key)

    def _date(self, object_id, moment):
        """Give an object of the simulator the creation time of the history."""
        sim = self.simulator
        with sim._lock:
            sim._objects[sim._kind_of(object_id)][object_id]["createdAt"] = moment

    # === RUNNING === #

    def _new_run(self, dry_run=False):
        return self.env["mollie.import.run"].create(
            {
                "company_id": self.company.id,
                "date_from": DATE_FROM,
                "date_to": DATE_TO,
                "dry_run": dry_run,
            }
        )

    def _run(self, run):
        """Start a run and let the cron finish it (the cron is the superuser)."""
        if run.state in ("draft", "failed"):
            run.action_start()
        with mute_logger(*QUIET):
            self.env["mollie.import.run"].sudo()._cron_run_imports()
        return run

    def _records(self, model, ids):
        return self.env[model].search(
            [("company_id", "=", self.company.id), ("mollie_id", "in", ids)]
        )

    def _counters(self, run):
        return {
            name: run[f"{name}_count"]
            for name in (
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
        }

    # Refunds and chargebacks in the range: 6 + 4 + 2 refunds (2 of payments
    # before the range) and 3 + 2 chargebacks.
    EXPECTED = {
        "fetched": IN_RANGE + 12 + 5,
        "created": IN_RANGE + 10 + 5,
        "updated": 0,
        "matched_metadata": BY_METADATA,
        "matched_link": BY_LINK,
        "matched_description": BY_DESCRIPTION + ALREADY_PAID + 1,
        # The 3 charged-back invoices were paid, then reopened.
        "paid_invoice": BY_METADATA + BY_DESCRIPTION + BY_LINK + 1,
        "linked_paid": ALREADY_PAID,
        "unmatched": IN_RANGE
        - BY_METADATA
        - BY_LINK
        - BY_DESCRIPTION
        - ALREADY_PAID
        - 1,
        "skipped": 2,
        "error": 0,
    }

    def _assert_history_imported(self, ids, targets):
        """What a complete import leaves in Odoo, however often it stopped."""
        payments = self._records("mollie.payment", sum(ids.values(), []))
        self.assertEqual(len(payments), IN_RANGE)
        by_id = {payment.mollie_id: payment for payment in payments}
        self.assertFalse(set(ids["older"] + ids["newer"]) & set(by_id))
        link_invoices = {
            invoice.mollie_link_ref: invoice for invoice in self.link_invoices
        }
        for kind in ("metadata", "description", "link"):
            for mollie_id in ids[kind]:
                payment = by_id[mollie_id]
                invoice = targets[mollie_id]
                if kind == "link":
                    invoice = link_invoices[invoice]
                self.assertEqual(payment.invoice_ids, invoice, kind)
                self.assertTrue(payment.account_payment_id, kind)
                self.assertEqual(payment.partner_id, self.partner_a)
        charged_back = self.env["account.move"].concat(
            *(targets[mollie_id] for mollie_id in ids["metadata"][6:9])
        )
        for invoice in self.meta_invoices + self.desc_invoices + self.link_invoices:
            expected = ("not_paid",) if invoice in charged_back else ("paid",)
            self.assertIn(invoice.payment_state, expected + ("in_payment",))
        for mollie_id in ids["already_paid"]:
            self.assertEqual(by_id[mollie_id].invoice_ids, targets[mollie_id])
            self.assertFalse(by_id[mollie_id].account_payment_id)
        for mollie_id in ids["wrong_amount"] + ids["customer_other"] + ids["open"]:
            self.assertFalse(by_id[mollie_id].invoice_ids)
        self.assertEqual(
            by_id[ids["customer_ok"][0]].invoice_ids, self.customer_invoices[0]
        )
        self.assertEqual(self.wrong_invoices.mapped("payment_state"), ["not_paid"] * 10)
        self.assertEqual(by_id[ids["open"][0]].status, "open")
        # One booking per booked payment, and per refund and chargeback of
        # a booked payment.
        bookings = self.env["account.payment"].search(
            [("payment_reference", "in", list(by_id))]
        )
        booked = BY_METADATA + BY_DESCRIPTION + BY_LINK + 1
        self.assertEqual(len(payments.account_payment_id), booked)
        self.assertEqual(len(bookings), booked + 6 + 3)

        refunds = self.env["mollie.refund"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(len(refunds), 10)
        self.assertEqual(
            set(refunds.filtered("account_payment_id").payment_id.mapped("mollie_id")),
            set(ids["metadata"][:6]),
        )
        chargebacks = self.env["mollie.chargeback"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(len(chargebacks), 5)
        self.assertEqual(len(chargebacks.filtered("account_payment_id")), 3)

    # === TESTS === #

    def test_import_of_a_thousand_payments_matches_them_to_the_right_invoices(self):
        ids, targets = self._build_history()
        run = self._run(self._new_run())
        self.assertEqual(run.state, "done", run.error_message)
        self.assertEqual(run.progress, 100.0)
        self.assertEqual(self._counters(run), self.EXPECTED)
        self._assert_history_imported(ids, targets)
        self.assertIn(f"{ids['metadata'][0]}: booked", run.report)

        # Running it again changes nothing.
        bookings = self.env["account.payment"].search_count([])
        messages = self.env["mail.message"].search_count([])
        again = self._run(self._new_run())
        self.assertEqual(again.state, "done")
        counters = self._counters(again)
        self.assertEqual(counters["fetched"], self.EXPECTED["fetched"])
        self.assertEqual(
            {name: value for name, value in counters.items() if value},
            {
                "fetched": self.EXPECTED["fetched"],
                "unmatched": self.EXPECTED["unmatched"],
                "skipped": 2,
            },
        )
        self.assertEqual(self.env["account.payment"].search_count([]), bookings)
        self.assertEqual(self.env["mail.message"].search_count([]), messages)
        self.assertEqual(again.report.count("\n"), 2)
        self.assertEqual(again.report.count("skipped"), 2)

    def test_dry_run_writes_nothing_but_reports_what_would_change(self):
        ids, _targets = self._build_history()
        states = self.meta_invoices.mapped("payment_state")
        bookings = self.env["account.payment"].search_count([])
        messages = self.env["mail.message"].search_count([])
        run = self._run(self._new_run(dry_run=True))
        self.assertEqual(run.state, "done", run.error_message)
        self.assertEqual(self._counters(run), self.EXPECTED)
        for model in ("mollie.payment", "mollie.refund", "mollie.chargeback"):
            self.assertFalse(self.env[model].search_count([]), model)
        self.assertEqual(self.env["account.payment"].search_count([]), bookings)
        self.assertEqual(self.env["mail.message"].search_count([]), messages)
        self.assertEqual(self.meta_invoices.mapped("payment_state"), states)
        self.assertIn(f"{ids['metadata'][0]}: would book", run.report)
        self.assertIn(f"of {ids['metadata'][0]} (5.00", run.report)
        self.assertIn("would be recorded and booked", run.report)
        self.assertIn("would be recorded; nothing to book", run.report)

        action = run.action_run_for_real()
        real = self.env["mollie.import.run"].browse(action["res_id"])
        self.assertEqual(
            (real.dry_run, real.state, real.date_from, real.date_to),
            (False, "running", DATE_FROM, DATE_TO),
        )

    def test_interrupted_run_resumes_where_it_stopped_with_the_same_result(self):
        ids, targets = self._build_history()
        run = self._new_run()
        run.action_start()

        # The cron's time runs out after two pages: the run waits for the
        # next call, its cursor on the third page.
        calls = []

        def commit_progress(*args, **kwargs):
            calls.append(kwargs.get("remaining"))
            return 0.0 if len(calls) == 2 else float("inf")

        with patch.object(IrCron, "_commit_progress", commit_progress):
            self._run(run)
        self.assertEqual((run.state, run.stage), ("running", "payments"))
        self.assertEqual(calls, [1, 1])
        self.assertTrue(run.payments_cursor)
        self.assertTrue(0 < run.progress < 80)
        # Two pages of 250, less the 20 payments newer than the range.
        self.assertEqual(self.env["mollie.payment"].search_count([]), 480)
        self.assertEqual(run.created_count, 480)

        # Then Mollie fails on the third page: the run fails where it was.
        cursor = run.payments_cursor
        self.simulator.inject_fault(status=500, path_pattern=r"^/v2/payments$", times=3)
        with patch.object(const, "API_RETRY_BASE_DELAY", 0.01):
            self._run(run)
        self.assertEqual(run.state, "failed")
        self.assertIn("internal error", run.error_message)
        self.assertEqual(run.payments_cursor, cursor)
        self.assertEqual(self.env["mollie.payment"].search_count([]), 480)

        run.action_resume()
        self._run(run)
        self.assertEqual(run.state, "done", run.error_message)
        self.assertFalse(run.error_message)
        self.assertEqual(self._counters(run), self.EXPECTED)
        self._assert_history_imported(ids, targets)

    def test_wizard_creates_a_dry_run_and_starts_it_in_the_background(self):
        wizard = self.env["mollie.import.wizard"].create(
            {"date_from": DATE_FROM, "date_to": DATE_TO}
        )
        action = wizard.action_start()
        run = self.env["mollie.import.run"].browse(action["res_id"])
        self.assertEqual((run.state, run.dry_run), ("running", True))
        self.assertEqual(run.company_id, self.company)
        cron = self.env.ref("crm_mollie.ir_cron_crm_mollie_import")
        self.assertTrue(
            self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", cron.id)])
        )

    def test_only_mollie_administrators_may_import_history(self):
        with self.assertRaises(AccessError):
            self.env["mollie.import.run"].with_user(self.accountant).create(
                {"date_from": DATE_FROM, "date_to": DATE_TO}
            )
