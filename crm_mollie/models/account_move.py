# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


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
