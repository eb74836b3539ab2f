# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    mollie_payment_ids = fields.One2many(
        comodel_name="mollie.payment", inverse_name="partner_id", readonly=True
    )
    mollie_chargeback_flag = fields.Boolean(
        string="Mollie chargeback",
        readonly=True,
        copy=False,
        help="A Mollie payment of this customer was charged back.",
    )
