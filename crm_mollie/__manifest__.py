# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Mollie for CRM and Invoicing",
    "summary": "Mollie payment requests, sync and insight for invoices and customers.",
    "version": "19.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "license": "LGPL-3",
    "author": "crm_mollie contributors",
    "website": "https://github.com/crm-mollie/crm_mollie",
    "maintainers": ["crm-mollie"],
    "development_status": "Alpha",
    "depends": [
        # Odoo's own Mollie checkout: we share its credential, never duplicate it.
        "payment_mollie",
        # Invoices, online payments on invoices and the Invoicing settings app.
        "account_payment",
        # Activities and chatter on Mollie records.
        "mail",
    ],
    "external_dependencies": {"python": ["mollie-api-python"]},
    "data": [
        # Groups before the access rights that name them.
        "security/crm_mollie_security.xml",
        "security/ir.model.access.csv",
        "security/ir_rules.xml",
        # Crons name models, so they load after the models' access rights.
        "data/ir_cron_data.xml",
        "data/mollie_import_data.xml",
        "views/res_config_settings_views.xml",
        "views/mollie_payment_views.xml",
        "views/res_partner_views.xml",
        "views/account_move_views.xml",
        "wizards/mollie_import_wizard_views.xml",
        "views/mollie_import_run_views.xml",
    ],
    "installable": True,
}
