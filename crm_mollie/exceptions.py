# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import UserError


class MollieError(UserError):
    """A call to Mollie failed; the message is translated and safe to show.

    ``kind`` says why, so that callers can decide without parsing text:

    - ``configuration``: no key, or a malformed one; nothing was sent;
    - ``mode_mismatch``: a test key where live is selected, or the reverse;
    - ``authentication``: Mollie refused the key (401);
    - ``not_found``: the object does not exist for this key (404);
    - ``invalid``: Mollie rejected the request (400 or 422, see ``field``);
    - ``conflict``: the same Idempotency-Key is still being processed (409);
    - ``rate_limited``: too many requests (429), retries exhausted;
    - ``server``: Mollie answered 5xx, retries exhausted;
    - ``unreachable``: no answer at all (refused, DNS, timeout).
    """

    RETRYABLE_KINDS = frozenset({"conflict", "rate_limited", "server", "unreachable"})

    def __init__(self, message, kind, status=None, field=None, retry_after=None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.field = field
        self.retry_after = retry_after

    @property
    def retryable(self):
        """Whether the same call may succeed later without any change."""
        return self.kind in self.RETRYABLE_KINDS
