# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every fact about Mollie that the addon relies on, in one place.

Each entry names where it comes from, so that a reader can check it against
Mollie's documentation when Mollie changes something.
"""

# === API ACCESS === #

# Production API root; the SDK appends the version ("/v2/...").
# See https://docs.mollie.com/reference/authentication. Last checked: 2026-12-03.
API_ENDPOINT = "https://api.mollie.com"

# System parameter that lets an administrator point the addon at another
# endpoint (the local simulator in tests and the demo, or a staging proxy).
API_ENDPOINT_PARAM = "crm_mollie.api_endpoint"

# (connect, read) timeouts in seconds. Mollie treats a webhook answer slower
# than 15 s as failed, so a single API call must stay well below that.
API_TIMEOUT = (5, 10)

# Bounded retries of 429 and 5xx answers and of network failures. Mollie's
# Python SDK retries only connection errors; 429 and 5xx reach the caller.
# See https://docs.mollie.com/reference/rate-limiting. Last checked: 2026-12-03.
API_MAX_ATTEMPTS = 3
API_RETRY_BASE_DELAY = 0.5  # seconds, doubled on each attempt
API_RETRY_MAX_DELAY = 8.0  # seconds; a longer Retry-After fails the call instead
API_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# Key prefixes. A profile API key starts with "test_" or "live_"; an
# organisation access token with "access_".
# See https://docs.mollie.com/overview/authentication. Last checked: 2026-12-03.
KEY_PREFIX_BY_MODE = {"test": "test_", "live": "live_"}
ACCESS_TOKEN_PREFIX = "access_"

# Mollie remembers an Idempotency-Key for one hour; a replay inside that window
# returns the first answer instead of creating a second object.
# See https://docs.mollie.com/reference/api-idempotency. Last checked: 2026-12-03.
IDEMPOTENCY_WINDOW_SECONDS = 3600

# === LOGGING === #

# Keys whose values never reach the log: credentials, and the payer's identity
# that Mollie returns in payment details (names, IBANs, card data, addresses).
SENSITIVE_KEYS = {
    "Authorization",
    "apiKey",
    "accessToken",
    "consumerName",
    "consumerAccount",
    "consumerBic",
    "cardHolder",
    "cardNumber",
    "cardFingerprint",
    "bankAccount",
    "bankName",
    "iban",
    "billingEmail",
    "email",
    "givenName",
    "familyName",
    "streetAndNumber",
    "phone",
}

# Anything shaped like a Mollie credential is masked in free text too: the SDK
# quotes a malformed key verbatim in its error message.
SECRET_PATTERN = r"\b(?:live|test|access)_[A-Za-z0-9]{6,}"

# Response bodies are logged at info, cut to this many characters.
LOG_BODY_LIMIT = 2000
