# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MollieImportWizard(models.TransientModel):
    """Asks what to import; the import itself is a ``mollie.import.run``."""

    _name = "mollie.import.wizard"
    _description = "Import Mollie history"

    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
    )
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: self._default_date_from(),
        help="First day (UTC) of the Mollie payments to import.",
    )
    date_to = fields.Date(
        string="To",
        required=True,
        default=lambda self: fields.Date.context_today(self),
        help="Last day (UTC) of the Mollie payments to import.",
    )
    dry_run = fields.Boolean(
        default=True,
        help="First list what the import would change, without writing anything; "
        "the report then offers to run it for real.",
    )

    def _default_date_from(self):
        return fields.Date.context_today(self).replace(month=1, day=1)

    def action_start(self):
        """Create the import and start it in the background."""
        self.ensure_one()
        run = self.env["mollie.import.run"].create(
            {
                "company_id": self.company_id.id,
                "date_from": self.date_from,
                "date_to": self.date_to,
                "dry_run": self.dry_run,
            }
        )
        run.action_start()
        return run._mollie_form_action()
