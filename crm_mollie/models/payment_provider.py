# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.tools import urls


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    def _compute_feature_support_fields(self):
        """Override of `payment`: Mollie refunds, in part or in full."""
        res = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == "mollie").support_refund = "partial"
        return res

    def _build_request_url(self, endpoint, **kwargs):
        """Override of `payment_mollie` to honour ``crm_mollie.api_endpoint``.

        Odoo's Mollie checkout and this addon share one key; they share the
        endpoint too, so that a staging proxy or the local simulator serves
        both, and no checkout of a test database reaches the real Mollie.
        """
        if self.code != "mollie":
            return super()._build_request_url(endpoint, **kwargs)
        root = self.company_id._mollie_get_api_endpoint()
        return urls.urljoin(f"{root}/v2/", endpoint.strip("/"))
