# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_concurrency
from . import test_i18n
from . import test_import
from . import test_install
from . import test_mollie_client
from . import test_mollie_simulator
from . import test_payment_link
from . import test_security
from . import test_settings
from . import test_sync
from . import test_webhook
