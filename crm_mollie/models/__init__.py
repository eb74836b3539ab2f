# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import res_company
from . import res_config_settings
from . import res_partner
from . import payment_provider
from . import payment_transaction
from . import account_move
from . import account_move_line
from . import account_move_send
from . import mollie_event
from . import mollie_payment
from . import mollie_payment_match
from . import mollie_refund
from . import mollie_chargeback
from . import mollie_reconciliation
from . import mollie_import_run
