# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

_SECRET = {"groups": "base.group_system", "readonly": False}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # The keys live on the company; these related fields only edit them. They
    # carry the same group, or a related field would be a way around it.
    mollie_test_api_key = fields.Char(
        related="company_id.mollie_test_api_key", **_SECRET
    )
    mollie_live_api_key = fields.Char(
        related="company_id.mollie_live_api_key", **_SECRET
    )
    mollie_org_access_token = fields.Char(
        related="company_id.mollie_org_access_token", **_SECRET
    )
    mollie_webhook_signing_secrets = fields.Text(
        related="company_id.mollie_webhook_signing_secrets", **_SECRET
    )
    mollie_journal_id = fields.Many2one(
        related="company_id.mollie_journal_id", readonly=False
    )
    mollie_mode = fields.Selection(related="company_id.mollie_mode", readonly=False)
    mollie_link_scope = fields.Selection(
        related="company_id.mollie_link_scope", readonly=False
    )
    mollie_pilot_partner_ids = fields.Many2many(
        related="company_id.mollie_pilot_partner_ids", readonly=False
    )
    mollie_pilot_journal_ids = fields.Many2many(
        related="company_id.mollie_pilot_journal_ids", readonly=False
    )
    mollie_webhook_base_url = fields.Char(
        related="company_id.mollie_webhook_base_url", readonly=False
    )

    # === ACTION METHODS === #

    def action_mollie_test_connection(self):
        """Save the settings, call Mollie, and show the outcome.

        Saving first tests what the administrator sees on screen, not what was
        stored before.
        """
        self.ensure_one()
        self.execute()
        success, message = self.company_id._mollie_test_connection()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Mollie connection test"),
                "message": message,
                "type": "success" if success else "danger",
                "sticky": not success,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
