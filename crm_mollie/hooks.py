# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).


def post_init_hook(env):
    """Adopt the key an administrator already gave Odoo's native Mollie
    provider, so that installing the addon never asks for it twice."""
    env["res.company"].search([])._mollie_import_provider_key()
