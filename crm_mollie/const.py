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

# === WEBHOOKS === #

# Ids the classic webhook accepts, checked before anything else: a payment id
# is "tr_" and alphanumerics. Anything else is acknowledged and dropped.
# See https://docs.mollie.com/reference/webhooks. Last checked: 2026-12-03.
WEBHOOK_ID_PATTERN = r"^tr_[A-Za-z0-9]{5,64}$"
# Ids a signed (next-gen) event may name.
EVENT_ENTITY_PATTERN = r"^(tr|re|chb|pl)_[A-Za-z0-9]{5,64}$"

# Classic webhook bodies are ~20 bytes, signed events a few kB.
WEBHOOK_MAX_BODY = 64 * 1024

# Scope of the signed token in every webhookUrl we give Mollie. Mollie
# retries a webhook for 26 hours, so a token must live at least 27.
WEBHOOK_TOKEN_SCOPE = "crm_mollie.webhook"
WEBHOOK_TOKEN_MIN_HOURS = 27

# Header of Mollie's signed (next-gen) webhook events: "sha256=<hex HMAC>".
# See https://docs.mollie.com/reference/webhooks-best-practices.
# Last checked: 2026-12-03.
SIGNATURE_HEADER = "X-Mollie-Signature"

# === PROCESSING === #

EVENT_BATCH_SIZE = 500  # events per cron run at most
EVENT_RETRY_FIRST_DELAY = 60  # seconds; Mollie itself retries after 1 minute
EVENT_RETRY_MAX_DELAY = 30 * 60  # seconds
NOT_FOUND_MAX_ATTEMPTS = 3  # a 404 this many times in a row: ignored
EVENT_CONFLICT_RETRIES = 3  # serialization failures in a row, then backoff

# Alerts to Mollie administrators.
ALERT_PENDING_AGE = 30 * 60  # seconds an event may wait
ALERT_CONSECUTIVE_FAILURES = 5  # failed API calls in a row, per company
ALERT_SUMMARY = "Mollie sync needs attention"
ALERT_MAX_RECIPIENTS = 5

# Failed attempts on one invoice before its salesperson gets an activity
# (system parameter crm_mollie.failure_activity_threshold overrides it).
FAILURE_ACTIVITY_THRESHOLD = 3

# === PAYMENT STATUSES === #

# Payment statuses and their order: a status never goes back to a lower rank.
# paid, failed, expired and canceled are final, but a payment Odoo considered
# expired may still turn paid (a late bank transfer): money is never ignored.
# See https://docs.mollie.com/payments/status-changes. Last checked: 2026-12-03.
PAYMENT_STATUS_RANK = {
    "open": 0,
    "pending": 1,
    "authorized": 2,
    "paid": 3,
    "failed": 3,
    "expired": 3,
    "canceled": 3,
}
PAYMENT_FAILED_STATUSES = ("failed", "expired", "canceled")
PAYMENT_FINAL_STATUSES = ("paid", *PAYMENT_FAILED_STATUSES)

# Refund statuses; money has left the balance from "processing" on.
# See https://docs.mollie.com/reference/refunds-api. Last checked: 2026-12-03.
REFUND_BOOKED_STATUSES = ("processing", "refunded")
REFUND_VOID_STATUSES = ("failed", "canceled")

# === RECONCILIATION === #

# Open payments are re-polled until final or this old (bank transfers stay
# open 12 days, plus 2 for the money to arrive).
RECONCILE_MAX_AGE_DAYS = 14
# The list walk re-reads this much before the previous run's start.
RECONCILE_OVERLAP_SECONDS = 60 * 60
LIST_PAGE_SIZE = 250  # Mollie's maximum
RECONCILE_MAX_PAGES = 40  # per list and run: 10,000 objects

# === PAYMENT LINKS === #

# Payment links live long (checkout URLs expire within hours); ours expire
# after this many days, and their webhook token lives as long plus 27 hours.
# See https://docs.mollie.com/reference/payment-links-api. Last checked: 2026-12-03.
PAYMENT_LINK_LIFETIME_DAYS = 90
# Scopes of the automatic links on posting.
LINK_SCOPES = [
    ("off", "Manual only"),
    ("pilot", "Pilot customers and journals"),
    ("all", "All customer invoices"),
]

# Locales Mollie accepts for customers and checkouts (ISO 15897).
# See https://docs.mollie.com/reference/create-customer. Last checked: 2026-12-03.
SUPPORTED_LOCALES = (
    "en_US", "en_GB", "nl_NL", "nl_BE", "fr_FR", "fr_BE", "de_DE", "de_AT",
    "de_CH", "es_ES", "ca_ES", "pt_PT", "it_IT", "nb_NO", "sv_SE", "fi_FI",
    "da_DK", "is_IS", "hu_HU", "pl_PL", "lv_LV", "lt_LT",
)  # fmt: skip

# Mollie rejects the same refund amount twice within about an hour, and keeps
# an Idempotency-Key for one hour: after that, list the payment's refunds
# before posting a refund again.
REFUND_LIST_BEFORE_RETRY_SECONDS = IDEMPOTENCY_WINDOW_SECONDS

# === HISTORY IMPORT === #

# The lists the history import walks, in this order: payments first, so that
# refunds and chargebacks find their payment. Each list is cursor-paginated,
# newest first; the "from" parameter of its "next" link is the id the next
# page starts at, which is what an interrupted import keeps to resume.
# See https://docs.mollie.com/reference/pagination. Last checked: 2026-12-03.
IMPORT_LISTS = ("payments", "refunds", "chargebacks")
LIST_CURSOR_PARAM = "from"
