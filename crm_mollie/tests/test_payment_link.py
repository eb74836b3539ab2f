# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import datetime, timedelta

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CrmMollieCommon, CrmMollieHttpCommon

QUIET = (
    "odoo.addons.crm_mollie.models.account_move",
    "odoo.addons.crm_mollie.models.res_partner",
    "odoo.addons.crm_mollie.tools.mollie_client",
)


class PaymentLinkCase(CrmMollieCommon):
    def _link_requests(self, method="POST"):
        return [
            r
            for r in self.simulator.requests
            if r["method"] == method and r["path"].startswith("/v2/payment-links")
        ]

    def _process_link_cron(self):
        self.env["account.move"].sudo()._cron_refresh_payment_links()

    def _sync(self, payment_id):
        Event = self.env["mollie.event"].sudo()
        Event._mollie_enqueue_many(self.company, [payment_id], "manual")
        Event.search([("resource_id", "=", payment_id)]).next_attempt_at = (
            datetime.now() - timedelta(seconds=1)
        )
        self._process_events()


@tagged("post_install", "-at_install")
class TestPaymentLinks(PaymentLinkCase):
    def test_posting_creates_a_link_for_the_residual_when_the_company_says_so(self):
        self.company.mollie_link_scope = "all"
        invoice = self._create_invoice(242.0)
        self.assertEqual(invoice.mollie_link_state, "active")
        self.assertTrue(invoice.mollie_link_ref.startswith("pl_"))
        self.assertTrue(invoice.mollie_link_url)
        link = self.simulator.get_object(invoice.mollie_link_ref)
        self.assertEqual(link["amount"], {"currency": "USD", "value": "242.00"})
        self.assertEqual(link["description"], invoice.name)
        self.assertIn("/crm_mollie/webhook?token=", link["webhookUrl"])
        self.assertIn(f"/my/invoices/{invoice.id}", link["redirectUrl"])
        sent = self._link_requests()[-1]["headers"]
        self.assertTrue(sent.get("Idempotency-Key"))

    def test_without_automatic_links_posting_creates_none_but_the_button_does(self):
        invoice = self._create_invoice(100.0)
        self.assertFalse(invoice.mollie_link_state)
        self.assertFalse(self._link_requests())
        invoice.action_mollie_create_payment_link()
        self.assertEqual(invoice.mollie_link_state, "active")

    def test_pilot_scope_links_only_chosen_customers_or_journals(self):
        self.company.write(
            {
                "mollie_link_scope": "pilot",
                "mollie_pilot_partner_ids": self.partner_a.ids,
            }
        )
        piloted = self._create_invoice(10.0, partner=self.partner_a)
        other = self._create_invoice(10.0, partner=self.partner_b)
        self.assertEqual(piloted.mollie_link_state, "active")
        self.assertFalse(other.mollie_link_state)
        self.company.mollie_pilot_journal_ids = other.journal_id
        third = self._create_invoice(10.0, partner=self.partner_b)
        self.assertEqual(third.mollie_link_state, "active")

    def test_bulk_action_links_every_selected_invoice(self):
        invoices = self._create_invoice(10.0) + self._create_invoice(20.0)
        action = invoices.action_mollie_create_payment_link()
        self.assertEqual(set(invoices.mapped("mollie_link_state")), {"active"})
        self.assertEqual(action["params"]["type"], "success")

    @mute_logger(*QUIET)
    def test_mollie_down_at_posting_never_blocks_the_invoice(self):
        self.company.mollie_link_scope = "all"
        self.simulator.inject_fault(
            status=503, path_pattern="/v2/payment-links", times=10
        )
        invoice = self._create_invoice(10.0)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.mollie_link_state, "to_create")
        self.simulator.clear_faults()
        self._process_link_cron()
        self.assertEqual(invoice.mollie_link_state, "active")

    def test_a_partial_payment_renews_the_link_for_the_new_residual(self):
        invoice = self._create_invoice(100.0)
        invoice.action_mollie_create_payment_link()
        first = invoice.mollie_link_ref
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 40.0})._create_payments()
        self.assertTrue(invoice.mollie_link_refresh)
        self._process_link_cron()
        self.assertNotEqual(invoice.mollie_link_ref, first)
        self.assertEqual(invoice.mollie_link_amount, 60.0)
        self.assertTrue(self.simulator.get_object(first)["archived"])
        self.assertIn(first, invoice.mollie_old_link_refs)

    def test_a_link_paid_through_mollie_is_booked_and_then_expired(self):
        invoice = self._create_invoice(100.0)
        invoice.action_mollie_create_payment_link()
        link = invoice.mollie_link_ref
        payment = self.simulator.pay_payment_link(link, method="creditcard")
        self._sync(payment["id"])
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self._process_link_cron()
        self.assertEqual(invoice.mollie_link_state, "paid")
        self.assertFalse(invoice.mollie_link_ref)

    def test_a_cancelled_invoice_expires_its_link(self):
        invoice = self._create_invoice(100.0)
        invoice.action_mollie_create_payment_link()
        link = invoice.mollie_link_ref
        invoice.button_draft()
        invoice.button_cancel()
        self.assertTrue(self.simulator.get_object(link)["archived"])
        self.assertEqual(invoice.mollie_link_state, "expired")

    def test_the_link_is_in_the_invoice_email(self):
        invoice = self._create_invoice(100.0)
        invoice.action_mollie_create_payment_link()
        template = self.env.ref("account.email_template_edi_invoice")
        body = self.env["account.move.send"]._get_default_mail_body(
            invoice, template, "en_US"
        )
        self.assertIn(invoice.mollie_link_url, str(body))
        self.assertIn("Pay this invoice online with Mollie", str(body))

    def test_the_link_and_its_qr_code_are_on_the_invoice_pdf(self):
        invoice = self._create_invoice(100.0)
        invoice.action_mollie_create_payment_link()
        html, _type = self.env["ir.actions.report"]._render_qweb_html(
            "account.account_invoices", invoice.ids
        )
        html = html.decode()
        self.assertIn('id="crm_mollie_payment_link"', html)
        self.assertIn(invoice.mollie_link_url, html)
        self.assertIn("barcode_type=QR", html)

    def test_the_first_payment_request_creates_the_mollie_customer(self):
        partner = self.partner_a.commercial_partner_id
        partner.write({"email": "inkoop@demol.nl", "lang": "en_US"})
        invoice = self._create_invoice(10.0, partner=partner)
        invoice.action_mollie_create_payment_link()
        customer_id = partner.with_company(self.company).mollie_customer_id
        self.assertTrue(customer_id.startswith("cst_"))
        customer = self.simulator.get_object(customer_id)
        self.assertEqual(customer["email"], "inkoop@demol.nl")
        second = self._create_invoice(20.0, partner=partner)
        second.action_mollie_create_payment_link()
        customers = [
            r
            for r in self.simulator.requests
            if r["method"] == "POST" and r["path"] == "/v2/customers"
        ]
        self.assertEqual(len(customers), 1)

    def test_name_email_and_locale_changes_reach_the_mollie_customer(self):
        partner = self.partner_a.commercial_partner_id
        partner.with_company(self.company)._mollie_ensure_customer()
        customer_id = partner.with_company(self.company).mollie_customer_id
        self.env["res.lang"]._activate_lang("nl_NL")
        partner.write(
            {"name": "Bakkerij De Mol BV", "email": "nieuw@demol.nl", "lang": "nl_NL"}
        )
        customer = self.simulator.get_object(customer_id)
        self.assertEqual(customer["name"], "Bakkerij De Mol BV")
        self.assertEqual(customer["email"], "nieuw@demol.nl")
        self.assertEqual(customer["locale"], "nl_NL")

    def test_payments_of_a_mollie_customer_are_linked_to_the_partner(self):
        partner = self.partner_a.commercial_partner_id
        customer_id = partner.with_company(self.company)._mollie_ensure_customer()
        data = {
            "amount": {"currency": "USD", "value": "15.00"},
            "description": "Subscription",
            "redirectUrl": "https://erp.example.com",
            "customerId": customer_id,
        }
        payment = self.company._mollie_client().create_object("payments", data, "k-cst")
        self._sync(payment.id)
        record = self.env["mollie.payment"].search([("mollie_id", "=", payment.id)])
        self.assertEqual(record.partner_id, partner)


@tagged("post_install", "-at_install")
class TestMollieRefundsFromOdoo(PaymentLinkCase):
    def _paid_invoice(self, amount=100.0):
        invoice = self._create_invoice(amount)
        payment = self._mollie_payment_for(invoice, webhook=False)
        self.simulator.set_payment_status(payment.id, "paid", method="creditcard")
        self._sync(payment.id)
        return invoice, payment

    def _credit_note(self, invoice, amount=None):
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "Returned goods"})
        )
        credit_note = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        if amount is not None:
            credit_note.invoice_line_ids[0].price_unit = amount
        credit_note.action_post()
        return credit_note

    def _refund_posts(self, payment_id):
        return [
            r
            for r in self.simulator.requests
            if r["method"] == "POST"
            and r["path"] == f"/v2/payments/{payment_id}/refunds"
        ]

    def test_a_credit_note_refunds_the_full_amount_through_mollie(self):
        invoice, payment = self._paid_invoice()
        credit_note = self._credit_note(invoice)
        credit_note.action_mollie_refund()
        refund = credit_note.mollie_refund_ids
        self.assertEqual(refund.amount, 100.0)
        self.assertEqual(
            self.simulator.get_object(payment.id)["amountRemaining"]["value"], "0.00"
        )
        self.simulator.set_refund_status(refund.mollie_id, "refunded")
        self._sync(payment.id)
        self.assertEqual(refund.status, "refunded")
        self.assertEqual(refund.account_payment_id.amount, 100.0)
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))

    def test_a_partial_credit_note_refunds_only_its_amount(self):
        invoice, payment = self._paid_invoice()
        credit_note = self._credit_note(invoice, amount=30.0)
        credit_note.action_mollie_refund()
        self.assertEqual(credit_note.mollie_refund_ids.amount, 30.0)
        remaining = self.simulator.get_object(payment.id)["amountRemaining"]["value"]
        self.assertEqual(remaining, "70.00")

    def test_a_retried_refund_never_refunds_twice(self):
        invoice, payment = self._paid_invoice()
        credit_note = self._credit_note(invoice, amount=40.0)
        credit_note.action_mollie_refund()
        # A second click, or a replay after a lost answer or after Mollie's
        # one-hour key window: the list shows our refund, nothing is posted.
        self.simulator.expire_idempotency_keys()
        credit_note._mollie_request_refund(
            credit_note.reversed_entry_id.mollie_payment_ids, 40.0
        )
        self.assertEqual(len(self._refund_posts(payment.id)), 1)
        self.assertEqual(len(credit_note.mollie_refund_ids), 1)
        self.assertEqual(
            self.simulator.get_object(payment.id)["amountRefunded"]["value"], "40.00"
        )

    def test_a_replayed_refund_request_carries_the_same_idempotency_key(self):
        invoice, payment = self._paid_invoice()
        credit_note = self._credit_note(invoice, amount=25.0)
        self.simulator.inject_fault(
            status=500, path_pattern=f"/v2/payments/{payment.id}/refunds", method="POST"
        )
        credit_note.action_mollie_refund()
        posts = self._refund_posts(payment.id)
        self.assertEqual(len(posts), 2)
        self.assertEqual(len({p["headers"]["Idempotency-Key"] for p in posts}), 1)
        self.assertEqual(len(credit_note.mollie_refund_ids), 1)

    def test_a_credit_note_of_an_invoice_not_paid_through_mollie_is_refused(self):
        invoice = self._create_invoice(50.0)
        credit_note = self._credit_note(invoice)
        with self.assertRaisesRegex(Exception, "not paid through Mollie"):
            credit_note.action_mollie_refund()

    def test_the_mollie_provider_offers_partial_refunds(self):
        provider = self.env.ref("payment.payment_provider_mollie").sudo()
        self.assertEqual(provider.support_refund, "partial")
        other = self.env.ref("payment.payment_provider_demo").sudo()
        self.assertNotEqual(other.support_refund, "partial")


@tagged("post_install", "-at_install")
class TestPortal(CrmMollieHttpCommon):
    def test_the_portal_shows_the_pay_with_mollie_button(self):
        invoice = self._create_invoice(100.0)
        invoice.action_mollie_create_payment_link()
        response = self.url_open(invoice._get_share_url(redirect=False))
        self.assertEqual(response.status_code, 200)
        self.assertIn('id="crm_mollie_pay_link"', response.text)
        self.assertIn(invoice.mollie_link_url, response.text)
