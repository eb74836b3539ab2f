# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo import api, models

from .. import utils

# Words of a description that may be an invoice number: letters, digits and
# the separators Odoo's sequences use ("INV/2026/00042"), with a digit.
INVOICE_NUMBER_RE = re.compile(r"[\w/.\-]*\d[\w/.\-]*")
# A description names a few invoices at most; more words are noise.
MAX_NUMBERS_PER_DESCRIPTION = 10
# The customer documents a Mollie payment may pay.
PAYABLE_MOVE_TYPES = ("out_invoice", "out_receipt")


def invoice_numbers(description):
    """The words of a payment description that could be invoice numbers.

    :param str description: Mollie's ``description``, typed by whoever
        created the payment (our addon, a shop, the Mollie dashboard).
    :rtype: list
    """
    words = INVOICE_NUMBER_RE.findall(description or "")
    numbers = []
    for word in words:
        word = word.strip("./-")
        if word and word not in numbers:
            numbers.append(word)
    return numbers[:MAX_NUMBERS_PER_DESCRIPTION]


class MolliePayment(models.Model):
    """Ties payments made outside our own flows to invoices.

    Our signed metadata and our payment links tie a payment for sure. A
    payment made before the integration, or from the Mollie dashboard,
    carries at best the invoice number in its description: it counts only
    with the same amount and currency, and the same customer when Mollie
    names one, so that a description alone never moves money to an invoice.
    """

    _inherit = "mollie.payment"

    # === BUSINESS METHODS: MATCHING === #

    def _mollie_invoices_from_other_links(self, data):
        """Override to fall back on the invoice number of the description."""
        invoices = super()._mollie_invoices_from_other_links(data)
        if invoices or self.env.context.get("mollie_skip_description_match"):
            return invoices
        company = self.company_id or self.env.company
        index = self._mollie_invoice_index(company, [data], metadata=False)
        return self._mollie_invoices_from_description(data, index)

    @api.model
    def _mollie_invoice_index(self, company, items, metadata=True):
        """Everything needed to match a page of Mollie payments, in a few reads.

        One search finds the invoices named by a payment link or by a word of
        a description, one read checks the signed metadata, one search finds
        Odoo's own checkout transactions and one the Mollie customers.

        :param company: The company whose invoices may match.
        :param list items: Mollie payment objects (dicts).
        :param bool metadata: Also resolve signed metadata and transactions.
        :return: Lookup tables keyed by Mollie id, link id, invoice name and
            customer id.
        :rtype: dict
        """
        Move = self.env["account.move"].sudo()
        index = {
            "metadata": {},
            "transaction": {},
            "link": {},
            "name": {},
            "customer": {},
        }
        if metadata:
            secret = self._mollie_database_secret()
            wanted = {}
            for item in items:
                invoice_id = utils.verify_metadata(secret, item.get("metadata"))
                if invoice_id:
                    wanted[item["id"]] = invoice_id
            found = Move.browse(set(wanted.values())).exists()
            found = found.filtered(lambda move: move.company_id == company)
            by_id = {move.id: move for move in found}
            index["metadata"] = {
                mollie_id: by_id[invoice_id]
                for mollie_id, invoice_id in wanted.items()
                if invoice_id in by_id
            }
            transactions = (
                self.env["payment.transaction"]
                .sudo()
                .search(
                    [
                        ("provider_reference", "in", [item["id"] for item in items]),
                        ("provider_code", "=", "mollie"),
                        ("company_id", "=", company.id),
                    ]
                )
            )
            index["transaction"] = {tx.provider_reference: tx for tx in transactions}
        links = {
            item["paymentLinkId"]
            for item in items
            if isinstance(item.get("paymentLinkId"), str)
        }
        names = {
            number
            for item in items
            for number in invoice_numbers(item.get("description"))
        }
        if links or names:
            moves = Move.search(
                [
                    ("company_id", "=", company.id),
                    ("move_type", "in", PAYABLE_MOVE_TYPES),
                    ("state", "=", "posted"),
                    "|",
                    ("mollie_link_ref", "in", list(links)),
                    ("name", "in", list(names)),
                ]
            )
            for move in moves:
                if move.mollie_link_ref in links:
                    index["link"][move.mollie_link_ref] = move
                index["name"][move.name] = index["name"].get(move.name, Move) | move
        # Mollie customers are known once the customers sync is installed;
        # without it, the customer check is skipped.
        index["check_customer"] = "mollie_customer_id" in self.env["res.partner"]
        customers = {
            item["customerId"]
            for item in items
            if isinstance(item.get("customerId"), str)
        }
        if customers and index["check_customer"]:
            partners = (
                self.env["res.partner"]
                .sudo()
                .with_company(company)
                .search([("mollie_customer_id", "in", list(customers))])
            )
            for partner in partners:
                index["customer"][partner.mollie_customer_id] = partner
        return index

    @api.model
    def _mollie_match_invoices(self, company, data, index):
        """The invoices of one Mollie payment, and how they were found.

        :return: ``(invoices, how)``; ``how`` is ``"metadata"`` (our signed
            metadata or Odoo's own checkout), ``"link"``, ``"description"``
            or False when nothing matched.
        :rtype: tuple
        """
        Move = self.env["account.move"]
        invoices = index["metadata"].get(data["id"])
        if invoices:
            return invoices, "metadata"
        transaction = index["transaction"].get(data["id"])
        if transaction and transaction.invoice_ids:
            invoices = transaction.invoice_ids.filtered(
                lambda move: move.company_id == company
            )
            if invoices:
                return invoices, "metadata"
        link = data.get("paymentLinkId")
        if isinstance(link, str):
            invoices = index["link"].get(link)
            if not invoices:
                # Earlier links of an invoice: the payment links' own lookup.
                invoices = (
                    self.with_context(mollie_skip_description_match=True)
                    .new({"company_id": company.id})
                    ._mollie_invoices_from_other_links(data)
                )
            if invoices:
                return invoices, "link"
        invoices = self._mollie_invoices_from_description(data, index)
        if invoices:
            return invoices, "description"
        return Move, False

    @api.model
    def _mollie_invoices_from_description(self, data, index):
        """The invoices a description names, if amount and customer agree.

        One named invoice of the same amount matches; several named invoices
        match together when their total is the amount. The invoice must be
        in Mollie's currency, and belong to Mollie's customer when the
        payment names one.
        """
        Move = self.env["account.move"]
        amount = data.get("amount") or {}
        try:
            value = float(amount.get("value"))
        except (TypeError, ValueError):
            return Move
        candidates = Move.browse()
        for number in invoice_numbers(data.get("description")):
            candidates |= index["name"].get(number, Move)
        candidates = candidates.filtered(
            lambda move: move.currency_id.name == amount.get("currency")
        )
        customer = data.get("customerId")
        if customer and index.get("check_customer"):
            partner = index["customer"].get(customer)
            candidates = candidates.filtered(
                lambda move: partner
                and partner in (move.partner_id | move.partner_id.commercial_partner_id)
            )
        if not candidates:
            return Move
        currency = candidates[0].currency_id
        same = candidates.filtered(
            lambda move: not currency.compare_amounts(move.amount_total, value)
        )
        if len(same) == 1:
            return same
        total = sum(candidates.mapped("amount_total"))
        if len(candidates) > 1 and not currency.compare_amounts(total, value):
            return candidates
        return Move
