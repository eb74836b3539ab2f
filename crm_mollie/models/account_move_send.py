# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_default_mail_body(self, move, mail_template, mail_lang):
        """Override of `account` to add the Mollie payment link to the mail.

        Added to the body rather than to the template, so that a company's own
        invoice template keeps working unchanged.
        """
        body = super()._get_default_mail_body(move, mail_template, mail_lang)
        link = move._mollie_payment_link_html(lang=mail_lang)
        return body + link if link else body
