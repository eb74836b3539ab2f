r"""A local, stateful imitation of the part of the Mollie API v2 that crm_mollie uses.

The simulator is a plain HTTP server (standard library only, no Odoo import) that
answers like ``https://api.mollie.com/v2`` does, so the official Python SDK
(``mollie-api-python``) can talk to it after ``client.set_api_endpoint(sim.url)``.
It keeps payments, refunds, chargebacks, customers, payment links, balances,
balance transactions and settlements in memory, and calls webhooks the way Mollie
does (form-encoded ``id=<object id>``, retried on a compressed schedule).

Use it from Python::

    from .mollie_simulator import MollieSimulator

    with MollieSimulator(webhook_time_scale=0.0001) as sim:
        sim.add_api_key("test_simulatedkey0000000000000000")
        client.set_api_endpoint(sim.url)
        ...
        sim.set_payment_status("tr_xxxxxxxxxx", "paid")
        sim.wait_for_webhooks()

or as a separate process (the demo does this) and drive it over HTTP::

    python crm_mollie/tests/mollie_simulator.py --host 127.0.0.1 --port 8899 \\
        --api-key test_demo000000000000000000000000 --webhook-time-scale 0.01

It prints ``Mollie simulator listening on http://127.0.0.1:8899`` and serves until
SIGTERM or SIGINT. ``--port 0`` picks a free port.

Routes
------
* ``/v2/...``: the Mollie API (bearer authentication, JSON or form-encoded
  bodies, HAL JSON answers). Every such request is recorded in ``sim.requests``.
* ``/_sim/...``: the control interface (JSON in and out, no authentication):
  ``GET /_sim/state``, ``POST /_sim/reset``, ``GET /_sim/requests``,
  ``GET /_sim/webhooks``, ``POST /_sim/webhooks/wait``,
  ``POST /_sim/webhooks/deliver``, ``GET /_sim/objects/{id}``,
  ``POST /_sim/payments/{id}/status``, ``POST /_sim/payment-links/{id}/pay``,
  ``POST /_sim/payments/{id}/refunds``, ``POST /_sim/refunds/{id}/status``,
  ``POST /_sim/payments/{id}/chargebacks``, ``POST /_sim/chargebacks/{id}/reverse``,
  ``POST|DELETE /_sim/faults``, ``POST /_sim/keys``, ``POST /_sim/settle``,
  ``POST /_sim/events``, ``POST /_sim/idempotency/expire``,
  ``POST /_sim/connections/refuse`` (body ``{"seconds": n}``). Bodies use the
  keyword names of the Python methods (``{"status": "paid", "method": "ideal"}``).
* ``/checkout/{tr_id}`` and ``/pay/{pl_id}``: tiny HTML pages standing in for
  Mollie's hosted test checkout and payment-link pages, for browser demos.

Choices where Mollie's behaviour is not documented precisely
-------------------------------------------------------------
* Reusing an ``Idempotency-Key`` with another body, query or path answers 400;
  a repeat while the first request is still running answers 409. Responses with
  status 429 or 5xx are not stored, so a retry after them is processed.
* A credential of the wrong kind answers 403: ``/v2/profiles/me`` needs an API
  key; organizations, balances and settlements need an organisation token.
  With a token, creating payments and payment links needs ``profileId``.
* Objects are scoped per mode (test/live), not per profile.
* Deleted customers and payment links answer 410 Gone.
* Webhooks fire, as on Mollie, when a payment becomes paid, authorized, failed,
  expired or canceled (not open or pending), when a refund becomes processing,
  refunded, failed or canceled, on a chargeback and its reversal, and when a
  refund is created from the "dashboard" (``create_refund``); never for refunds
  created through the API while they are pending. Redirects count as failures.
* A fault with ``status=None`` (or a status below 400) and a ``delay`` processes
  the request normally first and then answers late, which imitates "the API did
  it but the client timed out".
* Amounts are never converted between currencies: every currency has its own
  balance and settlement.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import http.client
import json
import logging
import re
import secrets
import signal
import socket
import socketserver
import string
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

_logger = logging.getLogger(__name__)

HAL_JSON = "application/hal+json"
ERRORS_DOC = "https://docs.mollie.com/overview/handling-errors"
DOCS = "https://docs.mollie.com/reference/"
WEBHOOK_USER_AGENT = "Mollie.nl HTTP client/1.0"
# Minutes after the first call at which Mollie calls a failing webhook again.
WEBHOOK_SCHEDULE_MINUTES = (0, 1, 3, 7, 15, 31, 60, 120, 240, 1560)
IDEMPOTENCY_WINDOW = 3600.0
MAX_LIMIT = 250
DEFAULT_LIMIT = 50

CURRENCY_DECIMALS = dict.fromkeys(
    (
        "AED AUD BGN BRL CAD CHF CZK DKK EUR GBP HKD HRK HUF ILS MXN MYR NOK NZD "
        "PHP PLN RON RUB SEK SGD THB TWD USD ZAR"
    ).split(),
    2,
)
CURRENCY_DECIMALS.update(ISK=0, JPY=0)

SUPPORTED_LOCALES = frozenset(
    "en_US en_GB nl_NL nl_BE fr_FR fr_BE de_DE de_AT de_CH es_ES ca_ES pt_PT it_IT "
    "nb_NO sv_SE fi_FI da_DK is_IS hu_HU pl_PL lv_LV lt_LT".split()
)

# id: (description, minimum, maximum, currencies (None = all), fixed fee, fee rate)
METHODS = {
    "ideal": ("iDEAL", "0.01", "50000.00", ("EUR",), "0.29", "0"),
    "creditcard": ("Card", "0.01", "10000.00", None, "0.25", "0.018"),
    "bancontact": ("Bancontact", "0.02", "50000.00", ("EUR",), "0.39", "0"),
    "banktransfer": ("Bank transfer", "0.01", "1000000.00", ("EUR",), "0.25", "0"),
    "paypal": ("PayPal", "0.01", "8000.00", None, "0.10", "0.0349"),
}
METHOD_EXPIRY = {
    "creditcard": timedelta(minutes=30),
    "bancontact": timedelta(hours=1),
    "paypal": timedelta(days=3),
    "banktransfer": timedelta(days=12),
}
CANCELABLE_METHODS = (None, "banktransfer", "creditcard")

PAYMENT_TRANSITIONS = {
    "open": {"pending", "authorized", "paid", "failed", "expired", "canceled"},
    "pending": {"authorized", "paid", "failed", "expired", "canceled"},
    "authorized": {"paid", "canceled", "expired"},
}
PAYMENT_WEBHOOK_STATUSES = {"paid", "authorized", "failed", "expired", "canceled"}
PAYMENT_TIMESTAMPS = {
    "paid": "paidAt",
    "authorized": "authorizedAt",
    "failed": "failedAt",
    "expired": "expiredAt",
    "canceled": "canceledAt",
}
REFUND_TRANSITIONS = {
    "queued": {"pending", "processing", "refunded", "failed", "canceled"},
    "pending": {"processing", "refunded", "failed", "canceled"},
    "processing": {"refunded", "failed"},
}
REFUND_STATUSES = {"queued", "pending", "processing", "refunded", "failed", "canceled"}
REFUND_WEBHOOK_STATUSES = {"processing", "refunded", "failed", "canceled"}

FAILURE_MESSAGES = {
    "authentication_abandoned": "The customer abandoned the authentication.",
    "authentication_failed": "The customer failed the authentication.",
    "card_declined": "The card was declined.",
    "card_expired": "The card has expired.",
    "inactive_card": "The card is not active.",
    "insufficient_funds": "The card has insufficient funds available.",
    "invalid_cvv": "The card security code is invalid.",
    "invalid_card_number": "The card number is invalid.",
    "possible_fraud": "The payment was declined because of possible fraud.",
    "refused_by_issuer": "The card issuer refused the payment.",
}
CHARGEBACK_REASONS = {
    "AC01": "Account identifier incorrect (i.e. invalid IBAN)",
    "AC04": "Account closed",
    "AC06": "Account blocked",
    "AG01": "Direct debit forbidden for this account",
    "AM04": "Insufficient funds",
    "MD01": "No mandate",
    "MD06": "Refund request by end customer",
    "MS02": "Refused by debtor",
    "MS03": "Reason not specified",
    "FR01": "Fraud",
}

ERROR_TITLES = {
    400: "Bad Request",
    401: "Unauthorized Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
FAULT_DETAILS = {
    429: "You have sent too many requests; please retry after {retry} seconds.",
    500: "An internal server error occurred while processing your request.",
    502: "The gateway could not reach the API.",
    503: "The service is temporarily unavailable, please retry later.",
    504: "The gateway timed out.",
}

PREFIX_KINDS = {
    "tr_": "payment",
    "re_": "refund",
    "chb_": "chargeback",
    "cst_": "customer",
    "pl_": "payment-link",
    "stl_": "settlement",
    "baltr_": "balance-transaction",
    "bal_": "balance",
    "whe_": "event",
}
KINDS = tuple(PREFIX_KINDS.values())
ID_ALPHABET = string.ascii_letters + string.digits


class SimulatorError(Exception):
    """An error answered to the client with a Mollie-shaped body."""

    def __init__(self, status, detail, field=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = list(headers or [])

    def body(self):
        """Return the error as Mollie answers it."""
        body = {
            "status": self.status,
            "title": ERROR_TITLES.get(self.status) or HTTPStatus(self.status).phrase,
            "detail": self.detail,
        }
        if self.field:
            body["field"] = self.field
        body["_links"] = {"documentation": {"href": ERRORS_DOC, "type": "text/html"}}
        return body


@dataclass
class _Fault:
    status: int | None
    pattern: re.Pattern
    method: str | None
    times: int | None
    retry_after: int | None
    delay: float | None
    drop: bool
    raw_body: str | None


@dataclass
class _Ctx:
    method: str
    path: str
    query: dict
    body: dict
    base: str
    cred: dict
    mode: str
    headers: dict = field(default_factory=dict)


# --- small helpers ----------------------------------------------------------


def _now():
    return datetime.now(UTC).replace(microsecond=0)


def _iso(value):
    return value.isoformat() if value else None


def _quantum(currency):
    return Decimal(1).scaleb(-CURRENCY_DECIMALS.get(currency, 2))


def _fmt(value, currency):
    return str(Decimal(value).quantize(_quantum(currency), rounding=ROUND_HALF_UP))


def _money(value, currency):
    return {"currency": currency, "value": _fmt(value, currency)}


def _href(url, kind=HAL_JSON):
    return {"href": url, "type": kind}


def _doc(page):
    return _href(DOCS + page, "text/html")


def _truthy(value):
    return value is True or str(value).lower() in ("true", "1")


def _header_name(name):
    return "-".join(part.capitalize() for part in name.split("-"))


def _iban(country, bban):
    """Build a valid IBAN (correct check digits) for a country and BBAN."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _flat_query(query):
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _form_to_dict(raw):
    """Decode a form body with Mollie's bracket notation (``amount[value]=1.00``)."""
    out = {}
    for key, values in parse_qs(raw, keep_blank_values=True).items():
        match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", key)
        if not match:
            out[key] = values[-1]
        elif match[2] == "":
            out[match[1]] = list(values)
        else:
            out.setdefault(match[1], {})[match[2]] = values[-1]
    return out


def _paid_details(method, seed):
    consumer = {
        "consumerName": "T. TEST",
        "consumerAccount": _iban("NL", "ABNA0417164300"),
        "consumerBic": "ABNANL2A",
    }
    if method == "ideal":
        return consumer
    if method == "creditcard":
        return {
            "cardNumber": f"{seed % 10000:04d}",
            "cardHolder": "T. TEST",
            "cardAudience": "consumer",
            "cardLabel": "Mastercard",
            "cardFingerprint": f"Sim{seed:08d}",
            "cardCountryCode": "NL",
            "cardSecurity": "normal",
            "feeRegion": "intra-eu",
        }
    if method == "bancontact":
        return {
            "cardNumber": f"{seed % 10000:04d}",
            "cardFingerprint": f"Sim{seed:08d}",
            "consumerName": "T. TEST",
            "consumerAccount": _iban("BE", "539007547034"),
            "consumerBic": "GKCCBEBB",
        }
    if method == "banktransfer":
        return {
            "bankName": "Stichting Mollie Payments",
            "bankAccount": _iban("NL", "ABNA0625384722"),
            "bankBic": "ABNANL2A",
            "transferReference": f"RF{seed % 100:02d}-{seed:012d}",
            **consumer,
        }
    if method == "paypal":
        return {
            "consumerName": "T. TEST",
            "consumerAccount": "buyer@example.com",
            "paypalReference": f"9AL{seed:014d}",
            "sellerProtection": "Eligible",
        }
    return {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which
        # can be slow without DNS; none of that is needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    server_version = "MollieSimulator/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):
        _logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        self.server.sim._handle(self)

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET


API_ROUTES = (
    ("POST", r"/v2/payments", "_api_create_payment"),
    ("GET", r"/v2/payments", "_api_list_payments"),
    ("GET", r"/v2/payments/(?P<pid>[^/]+)", "_api_get_payment"),
    ("PATCH", r"/v2/payments/(?P<pid>[^/]+)", "_api_update_payment"),
    ("DELETE", r"/v2/payments/(?P<pid>[^/]+)", "_api_cancel_payment"),
    ("POST", r"/v2/payments/(?P<pid>[^/]+)/refunds", "_api_create_refund"),
    ("GET", r"/v2/payments/(?P<pid>[^/]+)/refunds", "_api_list_payment_refunds"),
    ("GET", r"/v2/payments/(?P<pid>[^/]+)/refunds/(?P<rid>[^/]+)", "_api_get_refund"),
    (
        "DELETE",
        r"/v2/payments/(?P<pid>[^/]+)/refunds/(?P<rid>[^/]+)",
        "_api_cancel_refund",
    ),
    ("GET", r"/v2/refunds", "_api_list_refunds"),
    ("GET", r"/v2/payments/(?P<pid>[^/]+)/chargebacks", "_api_list_pay_chargebacks"),
    (
        "GET",
        r"/v2/payments/(?P<pid>[^/]+)/chargebacks/(?P<cid>[^/]+)",
        "_api_get_chargeback",
    ),
    ("GET", r"/v2/chargebacks", "_api_list_chargebacks"),
    ("POST", r"/v2/customers", "_api_create_customer"),
    ("GET", r"/v2/customers", "_api_list_customers"),
    ("GET", r"/v2/customers/(?P<cid>[^/]+)", "_api_get_customer"),
    ("PATCH", r"/v2/customers/(?P<cid>[^/]+)", "_api_update_customer"),
    ("DELETE", r"/v2/customers/(?P<cid>[^/]+)", "_api_delete_customer"),
    ("GET", r"/v2/customers/(?P<cid>[^/]+)/payments", "_api_list_customer_payments"),
    ("POST", r"/v2/customers/(?P<cid>[^/]+)/payments", "_api_create_customer_payment"),
    ("POST", r"/v2/payment-links", "_api_create_link"),
    ("GET", r"/v2/payment-links", "_api_list_links"),
    ("GET", r"/v2/payment-links/(?P<lid>[^/]+)", "_api_get_link"),
    ("PATCH", r"/v2/payment-links/(?P<lid>[^/]+)", "_api_update_link"),
    ("DELETE", r"/v2/payment-links/(?P<lid>[^/]+)", "_api_delete_link"),
    ("GET", r"/v2/payment-links/(?P<lid>[^/]+)/payments", "_api_list_link_payments"),
    ("GET", r"/v2/methods", "_api_list_methods"),
    ("GET", r"/v2/methods/all", "_api_list_all_methods"),
    ("GET", r"/v2/methods/(?P<mid>[^/]+)", "_api_get_method"),
    ("GET", r"/v2/profiles", "_api_list_profiles"),
    ("GET", r"/v2/profiles/(?P<pid>[^/]+)", "_api_get_profile"),
    ("GET", r"/v2/organizations/(?P<oid>[^/]+)", "_api_get_organization"),
    ("GET", r"/v2/balances", "_api_list_balances"),
    ("GET", r"/v2/balances/(?P<bid>[^/]+)", "_api_get_balance"),
    ("GET", r"/v2/balances/(?P<bid>[^/]+)/transactions", "_api_list_transactions"),
    ("GET", r"/v2/settlements", "_api_list_settlements"),
    ("GET", r"/v2/settlements/(?P<sid>[^/]+)", "_api_get_settlement"),
    (
        "GET",
        r"/v2/settlements/(?P<sid>[^/]+)/(?P<what>payments|refunds|chargebacks)",
        "_api_list_settlement_items",
    ),
    ("GET", r"/v2/webhook-events/(?P<eid>[^/]+)", "_api_get_event"),
)

CONTROL_ROUTES = (
    ("GET", r"/_sim/state", "_ctl_state"),
    ("POST", r"/_sim/reset", "_ctl_reset"),
    ("GET", r"/_sim/requests", "_ctl_requests"),
    ("GET", r"/_sim/webhooks", "_ctl_webhooks"),
    ("POST", r"/_sim/webhooks/wait", "_ctl_wait_webhooks"),
    ("POST", r"/_sim/webhooks/deliver", "_ctl_deliver_webhook"),
    ("GET", r"/_sim/objects/(?P<oid>[^/]+)", "_ctl_object"),
    ("POST", r"/_sim/payments/(?P<oid>[^/]+)/status", "_ctl_payment_status"),
    ("POST", r"/_sim/payment-links/(?P<oid>[^/]+)/pay", "_ctl_pay_link"),
    ("POST", r"/_sim/payments/(?P<oid>[^/]+)/refunds", "_ctl_create_refund"),
    ("POST", r"/_sim/refunds/(?P<oid>[^/]+)/status", "_ctl_refund_status"),
    ("POST", r"/_sim/payments/(?P<oid>[^/]+)/chargebacks", "_ctl_create_chargeback"),
    ("POST", r"/_sim/chargebacks/(?P<oid>[^/]+)/reverse", "_ctl_reverse_chargeback"),
    ("POST", r"/_sim/faults", "_ctl_inject_fault"),
    ("DELETE", r"/_sim/faults", "_ctl_clear_faults"),
    ("POST", r"/_sim/keys", "_ctl_add_key"),
    ("POST", r"/_sim/settle", "_ctl_settle"),
    ("POST", r"/_sim/events", "_ctl_send_event"),
    ("POST", r"/_sim/idempotency/expire", "_ctl_expire_idempotency"),
    ("POST", r"/_sim/connections/refuse", "_ctl_refuse_connections"),
)


class MollieSimulator:
    """In-memory Mollie API v2 served over HTTP on a local port.

    ``webhook_time_scale`` multiplies Mollie's webhook retry schedule (which spans
    26 hours): 0.001 runs the whole schedule in about 94 seconds.
    """

    def __init__(self, host="127.0.0.1", port=0, webhook_time_scale=0.001):
        self.host = host
        self.webhook_time_scale = webhook_time_scale
        self.webhook_timeout = 15.0
        self.requests = []
        self.webhook_log = []
        self.event_log = []
        self._requested_port = port
        self._bound_port = None
        self._lock = threading.RLock()
        self._server_lock = threading.Lock()
        self._server = None
        self._server_thread = None
        self._started = False
        self._stop_event = threading.Event()
        self._wh_cond = threading.Condition()
        self._wh_pending = 0
        self._wh_threads = set()
        self._wh_conns = set()
        self._generation = 0
        self._credentials = {}
        self._profiles = {}
        self._organizations = {}
        self._objects = {kind: {} for kind in KINDS}
        self._idempotency = {}
        self._faults = []
        self._seed = 0
        self._settlement_seq = 0
        self._api_routes = [(m, re.compile(p), n) for m, p, n in API_ROUTES]
        self._control_routes = [(m, re.compile(p), n) for m, p, n in CONTROL_ROUTES]

    # --- life cycle ---------------------------------------------------------

    @property
    def port(self):
        """The TCP port the simulator listens (or will listen) on."""
        return (
            self._bound_port if self._bound_port is not None else self._requested_port
        )

    @property
    def url(self):
        """Base URL to give to ``Client.set_api_endpoint()``."""
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def start(self):
        """Start serving in a daemon thread and return ``self``."""
        self._stop_event.clear()
        self._started = True
        with self._server_lock:
            if self._server is None:
                self._bind(self._bound_port or self._requested_port)
        return self

    def stop(self):
        """Stop serving and stop every pending webhook delivery."""
        self._stop_event.set()
        self._started = False
        with self._server_lock:
            if self._server is not None:
                self._unbind()
        with self._wh_cond:
            connections = list(self._wh_conns)
            threads = list(self._wh_threads)
        for connection in connections:
            self._abort_connection(connection)
        deadline = time.monotonic() + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def refuse_connections(self):
        """Close the listening socket: clients get ECONNREFUSED until re-opened."""
        with self._server_lock:
            if self._server is not None:
                self._unbind()

    def accept_connections(self):
        """Listen again, on the same port, after ``refuse_connections()``."""
        with self._server_lock:
            if self._server is None and self._started:
                self._bind(self._bound_port)

    def _bind(self, port):
        server = _Server((self.host, port), _Handler)
        server.sim = self
        self._bound_port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"mollie-simulator-{self._bound_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._server_thread = server, thread

    def _unbind(self):
        server, thread = self._server, self._server_thread
        self._server = self._server_thread = None
        server.shutdown()
        server.server_close()
        thread.join(5)

    # --- credentials and state ----------------------------------------------

    def add_api_key(self, key, profile_name="Simulated shop", profile_id=None):
        """Accept ``key`` (``test_…``/``live_…``) for a profile; return its id.

        Keys given the same ``profile_name`` (and no ``profile_id``) share one
        profile, like the test and live key of one Mollie website profile.
        """
        match = re.fullmatch(r"(test|live)_\w+", key or "")
        if not match:
            raise ValueError("An API key starts with 'test_' or 'live_'.")
        with self._lock:
            profile = self._profiles.get(profile_id) if profile_id else None
            if profile is None and not profile_id:
                profile = next(
                    (p for p in self._profiles.values() if p["name"] == profile_name),
                    None,
                )
            if profile is None:
                profile = self._new_profile(profile_name, profile_id)
            self._credentials[key] = {
                "kind": "api_key",
                "token": key,
                "mode": match[1],
                "profileId": profile["id"],
            }
            return profile["id"]

    def add_access_token(self, token, organization_name="Simulated BV"):
        """Accept an organisation access token (``access_…``); return the org id."""
        if not (token or "").startswith("access_"):
            raise ValueError("An access token starts with 'access_'.")
        with self._lock:
            organization = self._organizations.get(organization_name)
            if organization is None:
                organization = {
                    "id": self._new_id("org_"),
                    "name": organization_name,
                    "createdAt": _now(),
                }
                self._organizations[organization_name] = organization
            self._credentials[token] = {
                "kind": "access_token",
                "token": token,
                "organizationId": organization["id"],
            }
            return organization["id"]

    def _new_profile(self, name, profile_id=None):
        profile = {
            "id": profile_id or self._new_id("pfl_"),
            "name": name,
            "website": "https://shop.example.com",
            "email": "info@shop.example.com",
            "phone": "+31201234567",
            "createdAt": _now(),
        }
        self._profiles[profile["id"]] = profile
        return profile

    def reset(self):
        """Forget every object, request, fault and webhook; keep credentials."""
        with self._lock:
            self._generation += 1
            for store in self._objects.values():
                store.clear()
            self._idempotency.clear()
            self._faults.clear()
            self.requests.clear()
            self.webhook_log.clear()
            self.event_log.clear()
            self._settlement_seq = 0
        self.accept_connections()

    def state(self):
        """Return object counts and webhook progress."""
        with self._lock:
            counts = {kind: len(store) for kind, store in self._objects.items()}
            counts.update(
                requests=len(self.requests),
                webhook_attempts=len(self.webhook_log),
                events=len(self.event_log),
                faults=len(self._faults),
                listening=self._server is not None,
                url=self.url,
            )
        with self._wh_cond:
            counts["webhooks_pending"] = self._wh_pending
        return counts

    def get_object(self, object_id):
        """Return any stored object as the API shows it, or None if unknown."""
        with self._lock:
            kind = self._kind_of(object_id)
            obj = self._objects[kind].get(object_id) if kind else None
            if obj is None:
                return None
            return self._serialize(kind, obj, self.url)

    def expire_idempotency_keys(self):
        """Forget stored idempotent responses, as if their hour had passed."""
        with self._lock:
            self._idempotency.clear()

    def _new_id(self, prefix, length=10):
        while True:
            candidate = prefix + "".join(
                secrets.choice(ID_ALPHABET) for _ in range(length)
            )
            kind = PREFIX_KINDS.get(prefix)
            if not kind or candidate not in self._objects[kind]:
                return candidate

    def _next_seed(self):
        self._seed += 1
        return self._seed * 7919 + 4321

    @staticmethod
    def _kind_of(object_id):
        for prefix, kind in PREFIX_KINDS.items():
            if str(object_id).startswith(prefix):
                return kind
        return None

    # --- faults -------------------------------------------------------------

    def inject_fault(
        self,
        status=500,
        path_pattern=".*",
        method=None,
        times=1,
        retry_after=None,
        delay=None,
        drop=False,
        raw_body=None,
    ):
        """Make the next ``times`` matching API requests fail.

        ``status``: HTTP status of a Mollie-shaped error (429 carries
        ``Retry-After``, default 1 s); ``None`` or a status below 400 (e.g.
        200) with ``delay`` processes the request normally and answers
        ``delay`` seconds late, with the real status. ``path_pattern`` is searched
        in the path (``/v2/payments/tr_…``), ``method`` restricts the HTTP
        method, ``times=None`` keeps the fault until ``clear_faults()``.
        ``drop`` closes the connection without answering; ``raw_body`` answers
        that text as ``text/html`` instead of JSON (a proxy error page).
        """
        if (status is None or status < 400) and not delay and not drop:
            raise ValueError("A fault needs an error status, a delay or drop=True.")
        if status is not None and status < 400:
            status = None
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = _Fault(
            status=status,
            pattern=re.compile(path_pattern),
            method=method.upper() if method else None,
            times=times,
            retry_after=retry_after,
            delay=delay,
            drop=drop,
            raw_body=raw_body,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self):
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method, path):
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method != method:
                    continue
                if not fault.pattern.search(path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # --- HTTP plumbing ------------------------------------------------------

    def _handle(self, handler):
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            if path.startswith("/_sim"):
                self._handle_control(handler, path, raw)
            elif path.startswith(("/checkout/", "/pay/")):
                self._handle_page(handler, path, raw)
            else:
                self._handle_api(handler, path, split.query, raw)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            _logger.debug("Client went away before the answer to %s", path)

    def _send(self, handler, status, payload, headers=(), content_type=HAL_JSON):
        if isinstance(payload, str | bytes):
            body = payload.encode() if isinstance(payload, str) else payload
        else:
            body = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        if status != 204:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        if body:
            handler.wfile.write(body)

    def _handle_api(self, handler, path, query, raw):
        record = {
            "method": handler.command,
            "path": path,
            "query": _flat_query(query),
            "headers": {_header_name(k): v for k, v in handler.headers.items()},
            "body": raw,
            "status": None,
            "at": time.time(),
        }
        with self._lock:
            self.requests.append(record)
        fault = self._take_fault(handler.command, path)
        late = 0.0
        if fault is not None and (fault.status or fault.drop):
            if fault.delay and self._stop_event.wait(fault.delay):
                return
            if fault.drop:
                handler.close_connection = True
                return
            status, payload, headers, kind = self._fault_response(fault)
        else:
            late = fault.delay if fault is not None else 0.0
            status, payload, headers = self._api_response(handler, path, record, raw)
            kind = HAL_JSON
        record["status"] = status
        if late and self._stop_event.wait(late):
            return
        self._send(handler, status, payload, headers, kind)

    @staticmethod
    def _fault_response(fault):
        headers = []
        if fault.retry_after is not None:
            headers.append(("Retry-After", str(fault.retry_after)))
        if fault.raw_body is not None:
            return fault.status, fault.raw_body, headers, "text/html"
        detail = FAULT_DETAILS.get(fault.status, "Simulated failure.").format(
            retry=fault.retry_after
        )
        error = SimulatorError(fault.status, detail)
        return fault.status, error.body(), headers, HAL_JSON

    def _api_response(self, handler, path, record, raw):
        try:
            ctx = self._make_ctx(handler, path, record, raw)
            return self._idempotent(ctx)
        except SimulatorError as error:
            return error.status, error.body(), error.headers
        except Exception as error:
            _logger.exception("Mollie simulator failed on %s %s", handler.command, path)
            failure = SimulatorError(500, f"Simulator error: {error!r}")
            return 500, failure.body(), []

    def _make_ctx(self, handler, path, record, raw):
        query = record["query"]
        auth = record["headers"].get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        cred = self._credentials.get(token)
        if cred is None:
            raise SimulatorError(
                401, "Missing authentication, or failed to authenticate"
            )
        body = self._parse_body(handler.headers.get("Content-Type") or "", raw)
        if cred["kind"] == "api_key":
            mode = cred["mode"]
        else:
            wanted = query.get("testmode", body.get("testmode"))
            mode = "test" if _truthy(wanted) else "live"
        host = record["headers"].get("Host")
        return _Ctx(
            method=handler.command,
            path=path,
            query=query,
            body=body,
            base=f"http://{host}" if host else self.url,
            cred=cred,
            mode=mode,
            headers=record["headers"],
        )

    @staticmethod
    def _parse_body(content_type, raw):
        if not raw.strip():
            return {}
        form = content_type.startswith("application/x-www-form-urlencoded")
        if form and not raw.lstrip().startswith("{"):
            return _form_to_dict(raw)
        try:
            body = json.loads(raw)
        except ValueError:
            raise SimulatorError(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise SimulatorError(400, "The request body must be a JSON object.")
        return body

    def _idempotent(self, ctx):
        key = ctx.headers.get("Idempotency-Key")
        if ctx.method != "POST" or not key:
            return self._dispatch(ctx)
        slot = (ctx.cred["token"], key)
        fingerprint = (ctx.method, ctx.path, sorted(ctx.query.items()), ctx.body)
        with self._lock:
            entry = self._idempotency.get(slot)
            if entry and time.monotonic() - entry["at"] > IDEMPOTENCY_WINDOW:
                entry = None
            if entry is not None:
                return self._replay(entry, fingerprint)
            entry = {"fingerprint": fingerprint, "response": None}
            entry["at"] = time.monotonic()
            self._idempotency[slot] = entry
        try:
            response = self._dispatch(ctx)
        except SimulatorError as error:
            response = (error.status, error.body(), error.headers)
        with self._lock:
            if response[0] == 429 or response[0] >= 500:
                self._idempotency.pop(slot, None)
            else:
                entry["response"] = response
        return response

    @staticmethod
    def _replay(entry, fingerprint):
        if entry["fingerprint"] != fingerprint:
            raise SimulatorError(
                400,
                "The Idempotency-Key was already used for a request with other "
                "parameters or another endpoint.",
            )
        if entry["response"] is None:
            raise SimulatorError(
                409, "A request with this Idempotency-Key is still being processed."
            )
        status, payload, headers = entry["response"]
        return status, payload, [*headers, ("Idempotent-Replayed", "true")]

    def _dispatch(self, ctx):
        wrong_method = False
        for method, pattern, name in self._api_routes:
            match = pattern.fullmatch(ctx.path)
            if not match:
                continue
            if method != ctx.method:
                wrong_method = True
                continue
            with self._lock:
                status, payload = getattr(self, name)(ctx, **match.groupdict())
            return status, payload, []
        if wrong_method:
            raise SimulatorError(405, f"The method {ctx.method} is not allowed here.")
        raise SimulatorError(404, f"The endpoint {ctx.path} does not exist.")

    # --- validation helpers -------------------------------------------------

    @staticmethod
    def _parse_amount(raw, name="amount", required=True):
        if raw is None:
            if required:
                raise SimulatorError(422, f"The {name} is required.", name)
            return None, None
        if not isinstance(raw, dict):
            raise SimulatorError(422, f"The {name} must be an object.", name)
        currency = raw.get("currency")
        if currency not in CURRENCY_DECIMALS:
            raise SimulatorError(
                422, f"The currency '{currency}' is not supported.", f"{name}.currency"
            )
        value = raw.get("value")
        decimals = CURRENCY_DECIMALS[currency]
        shape = r"\d+" if decimals == 0 else rf"\d+\.\d{{{decimals}}}"
        if not isinstance(value, str) or not re.fullmatch(shape, value):
            raise SimulatorError(
                422,
                f"The amount contains an invalid value: {currency} amounts are "
                f"strings with exactly {decimals} decimals.",
                f"{name}.value",
            )
        if Decimal(value) <= 0:
            raise SimulatorError(
                422, "The amount must be higher than zero.", f"{name}.value"
            )
        return currency, Decimal(value)

    @staticmethod
    def _parse_url(value, name, required=False):
        if value in (None, ""):
            if required:
                raise SimulatorError(422, f"The {name} is required.", name)
            return None
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise SimulatorError(422, f"The {name} '{value}' is invalid.", name)
        return value

    @staticmethod
    def _parse_text(body, name, required=False, maximum=255):
        value = body.get(name)
        if value in (None, ""):
            if required:
                raise SimulatorError(422, f"The {name} is required.", name)
            return None
        if not isinstance(value, str) or len(value) > maximum:
            raise SimulatorError(
                422, f"The {name} must be text of at most {maximum} characters.", name
            )
        return value

    @staticmethod
    def _parse_metadata(value):
        if value is not None and len(json.dumps(value)) > 1024:
            raise SimulatorError(
                422, "The metadata is too large (at most 1024 bytes).", "metadata"
            )
        return value

    @staticmethod
    def _parse_locale(value):
        if value not in (None, "") and value not in SUPPORTED_LOCALES:
            raise SimulatorError(422, f"The locale '{value}' is invalid.", "locale")
        return value or None

    @staticmethod
    def _parse_method(value, currency):
        if value in (None, "", []):
            return None, None
        methods = value if isinstance(value, list) else [value]
        for method in methods:
            spec = METHODS.get(method)
            if spec is None:
                raise SimulatorError(
                    422,
                    f"The payment method '{method}' is invalid or not activated.",
                    "method",
                )
            if spec[3] and currency not in spec[3]:
                raise SimulatorError(
                    422,
                    f"The payment method '{method}' does not support {currency}.",
                    "method",
                )
        return (methods[0] if len(methods) == 1 else None), methods

    def _profile_for(self, ctx):
        if ctx.cred["kind"] == "api_key":
            return ctx.cred["profileId"]
        profile_id = ctx.body.get("profileId") or ctx.query.get("profileId")
        if not profile_id:
            raise SimulatorError(
                422, "The profileId is required with an access token.", "profileId"
            )
        if profile_id not in self._profiles:
            raise SimulatorError(422, "The profileId is invalid.", "profileId")
        return profile_id

    def _get(self, kind, object_id, mode):
        obj = self._objects[kind].get(object_id)
        label = kind.replace("-", " ")
        if obj is None or obj["mode"] != mode:
            raise SimulatorError(404, f"No {label} exists with token {object_id}.")
        if obj.get("deleted"):
            raise SimulatorError(410, f"The {label} {object_id} has been deleted.")
        return obj

    def _get_any(self, kind, object_id):
        obj = self._objects[kind].get(object_id)
        if obj is None:
            raise SimulatorError(404, f"No {kind.replace('-', ' ')} {object_id}.")
        return obj

    @staticmethod
    def _require(ctx, kind):
        if ctx.cred["kind"] != kind:
            wanted = "an API key" if kind == "api_key" else "an organization token"
            raise SimulatorError(403, f"This endpoint can only be used with {wanted}.")

    def _page(self, ctx, items, embedded, serialize, doc):
        """Answer a cursor-paginated list (``from`` + ``limit``), newest first."""
        limit_raw = ctx.query.get("limit") or DEFAULT_LIMIT
        try:
            limit = int(limit_raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise SimulatorError(
                400, f"The limit must be between 1 and {MAX_LIMIT}.", "limit"
            )
        if ctx.query.get("sort") != "asc":
            items = items[::-1]
        start = 0
        if ctx.query.get("from"):
            ids = [item["id"] for item in items]
            if ctx.query["from"] not in ids:
                raise SimulatorError(400, "The cursor 'from' is invalid.", "from")
            start = ids.index(ctx.query["from"])
        page = items[start : start + limit]
        keep = {k: v for k, v in ctx.query.items() if k not in ("from", "limit")}

        def link(cursor):
            return _href(
                f"{ctx.base}{ctx.path}?"
                + urlencode({**keep, "from": cursor, "limit": limit})
            )

        nxt = items[start + limit]["id"] if start + limit < len(items) else None
        query = urlencode(ctx.query)
        return 200, {
            "count": len(page),
            "_embedded": {embedded: [serialize(item, ctx.base) for item in page]},
            "_links": {
                "self": _href(f"{ctx.base}{ctx.path}" + (f"?{query}" if query else "")),
                "previous": link(items[max(0, start - limit)]["id"]) if start else None,
                "next": link(nxt) if nxt else None,
                "documentation": _doc(doc),
            },
        }

    def _in_mode(self, kind, mode, **filters):
        return [
            obj
            for obj in self._objects[kind].values()
            if obj["mode"] == mode
            and not obj.get("deleted")
            and all(obj.get(k) == v for k, v in filters.items())
        ]

    # --- payments -----------------------------------------------------------

    def _api_create_payment(self, ctx, customer_id=None):
        payment = self._new_payment(ctx, ctx.body, customer_id)
        return 201, self._payment_json(payment, ctx.base)

    def _new_payment(self, ctx, body, customer_id=None):
        currency, value = self._parse_amount(body.get("amount"))
        description = self._parse_text(body, "description", required=True)
        sequence = body.get("sequenceType") or "oneoff"
        if sequence not in ("oneoff", "first", "recurring"):
            raise SimulatorError(422, "The sequenceType is invalid.", "sequenceType")
        customer_id = customer_id or body.get("customerId")
        if customer_id:
            self._get("customer", customer_id, ctx.mode)
        elif sequence == "recurring":
            raise SimulatorError(422, "A customerId is required.", "customerId")
        method, methods = self._parse_method(body.get("method"), currency)
        return self._store_payment(
            mode=ctx.mode,
            profileId=self._profile_for(ctx),
            currency=currency,
            amount=value,
            description=description,
            method=method,
            methods=methods,
            sequenceType=sequence,
            customerId=customer_id,
            redirectUrl=self._parse_url(
                body.get("redirectUrl"), "redirectUrl", sequence != "recurring"
            ),
            cancelUrl=self._parse_url(body.get("cancelUrl"), "cancelUrl"),
            webhookUrl=self._parse_url(body.get("webhookUrl"), "webhookUrl"),
            metadata=self._parse_metadata(body.get("metadata")),
            locale=self._parse_locale(body.get("locale")),
        )

    def _store_payment(self, **values):
        created = _now()
        payment = {
            "id": self._new_id("tr_"),
            "createdAt": created,
            "status": "open",
            "expiresAt": created
            + METHOD_EXPIRY.get(values["method"], timedelta(minutes=15)),
            "details": None,
            "countryCode": None,
            "settlementId": None,
            "paymentLinkId": None,
            "fee": Decimal(0),
            "refundIds": [],
            "chargebackIds": [],
            **values,
        }
        self._objects["payment"][payment["id"]] = payment
        return payment

    def _api_get_payment(self, ctx, pid):
        payment = self._get("payment", pid, ctx.mode)
        data = self._payment_json(payment, ctx.base)
        embed = set((ctx.query.get("embed") or "").split(","))
        embedded = {}
        if "refunds" in embed:
            embedded["refunds"] = [
                self._refund_json(self._objects["refund"][rid], ctx.base)
                for rid in payment["refundIds"]
            ]
        if "chargebacks" in embed:
            embedded["chargebacks"] = [
                self._chargeback_json(self._objects["chargeback"][cid], ctx.base)
                for cid in payment["chargebackIds"]
            ]
        if embedded:
            data["_embedded"] = embedded
        return 200, data

    def _api_list_payments(self, ctx):
        filters = {}
        if ctx.query.get("profileId"):
            filters["profileId"] = ctx.query["profileId"]
        items = self._in_mode("payment", ctx.mode, **filters)
        return self._page(ctx, items, "payments", self._payment_json, "list-payments")

    def _api_update_payment(self, ctx, pid):
        payment = self._get("payment", pid, ctx.mode)
        if payment["status"] not in ("open", "pending"):
            raise SimulatorError(
                422, f"A payment with status {payment['status']} cannot be updated."
            )
        body = ctx.body
        updates = {}
        if "description" in body:
            updates["description"] = self._parse_text(body, "description", True)
        for name in ("redirectUrl", "cancelUrl", "webhookUrl"):
            if name in body:
                updates[name] = self._parse_url(body[name], name)
        if "metadata" in body:
            updates["metadata"] = self._parse_metadata(body["metadata"])
        if "locale" in body:
            updates["locale"] = self._parse_locale(body["locale"])
        if "method" in body:
            method, methods = self._parse_method(body["method"], payment["currency"])
            updates.update(method=method, methods=methods)
        payment.update(updates)
        return 200, self._payment_json(payment, ctx.base)

    def _api_cancel_payment(self, ctx, pid):
        payment = self._get("payment", pid, ctx.mode)
        if not self._is_cancelable(payment):
            raise SimulatorError(
                422,
                f"The payment {pid} cannot be canceled (status {payment['status']}).",
            )
        self._apply_payment_status(payment, "canceled", None, None)
        return 200, self._payment_json(payment, ctx.base)

    @staticmethod
    def _is_cancelable(payment):
        return payment["status"] in ("open", "authorized") and (
            payment["method"] in CANCELABLE_METHODS
        )

    def set_payment_status(self, payment_id, status, method=None, failure_reason=None):
        """Move a payment to ``status`` the way a customer at checkout would.

        Follows Mollie's life cycle (open → pending/authorized → paid, or a final
        failed/expired/canceled); paid and final payments cannot change. Sets the
        timestamps, ``details``, the balance transaction, then calls the webhook.
        Returns the payment as the API shows it.
        """
        with self._lock:
            payment = self._get_any("payment", payment_id)
            allowed = PAYMENT_TRANSITIONS.get(payment["status"], set())
            if status not in allowed:
                raise SimulatorError(
                    422,
                    f"The payment {payment_id} cannot go from {payment['status']} "
                    f"to {status}.",
                )
            if method is not None:
                self._parse_method(method, payment["currency"])
            self._apply_payment_status(payment, status, method, failure_reason)
            return self._payment_json(payment, self.url)

    def _apply_payment_status(self, payment, status, method, failure_reason):
        now = _now()
        if method or status in ("pending", "authorized", "paid", "failed"):
            payment["method"] = (
                method or payment["method"] or (payment["methods"] or ["ideal"])[0]
            )
        payment["status"] = status
        if status in PAYMENT_TIMESTAMPS:
            payment[PAYMENT_TIMESTAMPS[status]] = now
        if status not in ("open", "pending", "authorized"):
            payment["expiresAt"] = None
        if status in ("paid", "authorized", "failed"):
            seed = self._next_seed()
            payment["details"] = _paid_details(payment["method"], seed)
            payment["countryCode"] = "NL"
        if status == "failed":
            self._set_failure(payment, failure_reason)
        if status == "paid":
            self._book_payment(payment)
        if status in PAYMENT_WEBHOOK_STATUSES:
            self._queue_webhook(payment["id"], payment.get("webhookUrl"))

    @staticmethod
    def _set_failure(payment, reason):
        if reason is None and payment["method"] != "creditcard":
            return
        reason = reason or "insufficient_funds"
        payment["details"]["failureReason"] = reason
        payment["details"]["failureMessage"] = FAILURE_MESSAGES.get(
            reason, "The payment failed."
        )

    def _book_payment(self, payment):
        spec = METHODS.get(payment["method"], METHODS["ideal"])
        fee = Decimal(spec[4]) + Decimal(spec[5]) * payment["amount"]
        fee = fee.quantize(_quantum(payment["currency"]), rounding=ROUND_HALF_UP)
        payment["fee"] = fee
        self._add_transaction(
            payment["mode"],
            payment["currency"],
            "payment",
            payment["amount"],
            -fee,
            {"paymentId": payment["id"], "paymentDescription": payment["description"]},
        )
        link = self._objects["payment-link"].get(payment["paymentLinkId"])
        if link is not None and not link["paidAt"]:
            link["paidAt"] = link["updatedAt"] = payment["paidAt"]

    def _payment_totals(self, payment):
        refunded = sum(
            (
                self._objects["refund"][rid]["amount"]
                for rid in payment["refundIds"]
                if self._objects["refund"][rid]["status"] not in ("failed", "canceled")
            ),
            Decimal(0),
        )
        charged = sum(
            (
                self._objects["chargeback"][cid]["amount"]
                for cid in payment["chargebackIds"]
                if not self._objects["chargeback"][cid]["reversedAt"]
            ),
            Decimal(0),
        )
        remaining = max(Decimal(0), payment["amount"] - refunded - charged)
        return refunded, charged, remaining

    def _payment_json(self, payment, base):
        currency = payment["currency"]
        data = {
            "resource": "payment",
            "id": payment["id"],
            "mode": payment["mode"],
            "createdAt": _iso(payment["createdAt"]),
            "amount": _money(payment["amount"], currency),
            "description": payment["description"],
            "method": payment["method"],
            "metadata": payment["metadata"],
            "status": payment["status"],
        }
        if payment["status"] in ("open", "pending", "authorized"):
            data["isCancelable"] = self._is_cancelable(payment)
        for name in PAYMENT_TIMESTAMPS.values():
            if payment.get(name):
                data[name] = _iso(payment[name])
        if payment["expiresAt"]:
            data["expiresAt"] = _iso(payment["expiresAt"])
        if payment.get("paidAt"):
            refunded, charged, remaining = self._payment_totals(payment)
            data["amountRefunded"] = _money(refunded, currency)
            data["amountRemaining"] = _money(remaining, currency)
            if charged > 0:
                data["amountChargedBack"] = _money(charged, currency)
            data["settlementAmount"] = _money(payment["amount"], currency)
        data["profileId"] = payment["profileId"]
        data["sequenceType"] = payment["sequenceType"]
        for name in (
            "locale",
            "countryCode",
            "customerId",
            "redirectUrl",
            "cancelUrl",
            "webhookUrl",
            "settlementId",
            "paymentLinkId",
            "details",
        ):
            if payment.get(name) is not None:
                data[name] = payment[name]
        data["_links"] = self._payment_links(payment, base)
        return data

    def _payment_links(self, payment, base):
        pid = payment["id"]
        links = {
            "self": _href(f"{base}/v2/payments/{pid}"),
            "dashboard": _href(
                f"https://my.mollie.com/dashboard/payments/{pid}", "text/html"
            ),
        }
        if payment["status"] == "open":
            links["checkout"] = _href(f"{base}/checkout/{pid}", "text/html")
        if payment["refundIds"]:
            links["refunds"] = _href(f"{base}/v2/payments/{pid}/refunds")
        if payment["chargebackIds"]:
            links["chargebacks"] = _href(f"{base}/v2/payments/{pid}/chargebacks")
        if payment["settlementId"]:
            links["settlement"] = _href(
                f"{base}/v2/settlements/{payment['settlementId']}"
            )
        if payment["customerId"]:
            links["customer"] = _href(f"{base}/v2/customers/{payment['customerId']}")
        links["documentation"] = _doc("get-payment")
        return links

    # --- refunds ------------------------------------------------------------

    def _api_create_refund(self, ctx, pid):
        payment = self._get("payment", pid, ctx.mode)
        currency, value = self._parse_amount(ctx.body.get("amount"))
        refund = self._new_refund(
            payment,
            currency,
            value,
            self._parse_text(ctx.body, "description") or "",
            self._parse_metadata(ctx.body.get("metadata")),
            "pending",
        )
        return 201, self._refund_json(refund, ctx.base)

    def _new_refund(self, payment, currency, value, description, metadata, status):
        if payment["status"] != "paid":
            raise SimulatorError(
                422,
                f"The payment {payment['id']} cannot be refunded: its status is "
                f"{payment['status']}.",
            )
        if currency != payment["currency"]:
            raise SimulatorError(
                422,
                f"The refund currency must be {payment['currency']}.",
                "amount.currency",
            )
        remaining = self._payment_totals(payment)[2]
        if value > remaining:
            raise SimulatorError(
                422,
                "The specified amount cannot be refunded: only "
                f"{_fmt(remaining, currency)} {currency} remains.",
                "amount.value",
            )
        refund = {
            "id": self._new_id("re_"),
            "mode": payment["mode"],
            "paymentId": payment["id"],
            "currency": currency,
            "amount": value,
            "description": description,
            "metadata": metadata,
            "status": status,
            "createdAt": _now(),
            "settlementId": None,
        }
        self._objects["refund"][refund["id"]] = refund
        payment["refundIds"].append(refund["id"])
        self._add_transaction(
            payment["mode"],
            currency,
            "refund",
            -value,
            Decimal(0),
            {"paymentId": payment["id"], "refundId": refund["id"]},
        )
        return refund

    def _api_get_refund(self, ctx, pid, rid):
        refund = self._get("refund", rid, ctx.mode)
        if refund["paymentId"] != pid:
            raise SimulatorError(404, f"No refund exists with token {rid}.")
        return 200, self._refund_json(refund, ctx.base)

    def _api_cancel_refund(self, ctx, pid, rid):
        refund = self._get("refund", rid, ctx.mode)
        if refund["paymentId"] != pid:
            raise SimulatorError(404, f"No refund exists with token {rid}.")
        if refund["status"] not in ("queued", "pending"):
            raise SimulatorError(
                422, f"The refund {rid} cannot be canceled (status {refund['status']})."
            )
        self._apply_refund_status(refund, "canceled", webhook=False)
        return 204, None

    def _api_list_payment_refunds(self, ctx, pid):
        self._get("payment", pid, ctx.mode)
        items = self._in_mode("refund", ctx.mode, paymentId=pid)
        return self._page(ctx, items, "refunds", self._refund_json, "list-refunds")

    def _api_list_refunds(self, ctx):
        items = self._in_mode("refund", ctx.mode)
        return self._page(ctx, items, "refunds", self._refund_json, "list-all-refunds")

    def create_refund(self, payment_id, amount, status="pending", description=""):
        """Create a refund as the Mollie dashboard would; the webhook is called.

        ``amount`` is a value string (``"5.00"``), a number or an amount object.
        """
        if status not in ("queued", "pending", "processing", "refunded"):
            raise SimulatorError(422, f"A refund cannot be created as {status}.")
        with self._lock:
            payment = self._get_any("payment", payment_id)
            value = self._coerce_amount(amount, payment["currency"])
            refund = self._new_refund(
                payment, payment["currency"], value, description, None, status
            )
            self._queue_webhook(payment["id"], payment.get("webhookUrl"))
            return self._refund_json(refund, self.url)

    def set_refund_status(self, refund_id, status):
        """Move a refund along queued → pending → processing → refunded/failed."""
        with self._lock:
            refund = self._get_any("refund", refund_id)
            if status not in REFUND_TRANSITIONS.get(refund["status"], set()):
                raise SimulatorError(
                    422,
                    f"The refund {refund_id} cannot go from {refund['status']} "
                    f"to {status}.",
                )
            self._apply_refund_status(refund, status, webhook=True)
            return self._refund_json(refund, self.url)

    def _apply_refund_status(self, refund, status, webhook):
        refund["status"] = status
        payment = self._objects["payment"][refund["paymentId"]]
        if status in ("failed", "canceled"):
            self._add_transaction(
                refund["mode"],
                refund["currency"],
                "returned-refund",
                refund["amount"],
                Decimal(0),
                {"paymentId": payment["id"], "refundId": refund["id"]},
            )
        if webhook and status in REFUND_WEBHOOK_STATUSES:
            self._queue_webhook(payment["id"], payment.get("webhookUrl"))

    def _refund_json(self, refund, base):
        currency = refund["currency"]
        data = {
            "resource": "refund",
            "id": refund["id"],
            "mode": refund["mode"],
            "description": refund["description"],
            "amount": _money(refund["amount"], currency),
            "settlementAmount": _money(-refund["amount"], currency),
            "metadata": refund["metadata"],
            "paymentId": refund["paymentId"],
            "status": refund["status"],
            "createdAt": _iso(refund["createdAt"]),
        }
        links = {
            "self": _href(
                f"{base}/v2/payments/{refund['paymentId']}/refunds/{refund['id']}"
            ),
            "payment": _href(f"{base}/v2/payments/{refund['paymentId']}"),
        }
        if refund["settlementId"]:
            data["settlementId"] = refund["settlementId"]
            links["settlement"] = _href(
                f"{base}/v2/settlements/{refund['settlementId']}"
            )
        links["documentation"] = _doc("get-refund")
        data["_links"] = links
        return data

    # --- chargebacks --------------------------------------------------------

    def create_chargeback(self, payment_id, amount=None, reason_code="AC04"):
        """Charge a paid payment back (whole amount by default); webhook called."""
        with self._lock:
            payment = self._get_any("payment", payment_id)
            if payment["status"] != "paid":
                raise SimulatorError(422, f"The payment {payment_id} is not paid.")
            active = payment["amount"] - self._payment_totals(payment)[1]
            value = (
                active
                if amount is None
                else self._coerce_amount(amount, payment["currency"])
            )
            if not Decimal(0) < value <= active:
                raise SimulatorError(
                    422, "The chargeback amount is larger than the payment amount."
                )
            chargeback = {
                "id": self._new_id("chb_"),
                "mode": payment["mode"],
                "paymentId": payment_id,
                "currency": payment["currency"],
                "amount": value,
                "reason": {
                    "code": reason_code,
                    "description": CHARGEBACK_REASONS.get(
                        reason_code, "Unknown reason"
                    ),
                },
                "createdAt": _now(),
                "reversedAt": None,
                "settlementId": None,
            }
            self._objects["chargeback"][chargeback["id"]] = chargeback
            payment["chargebackIds"].append(chargeback["id"])
            self._chargeback_transaction(chargeback, "chargeback", -value)
            self._queue_webhook(payment_id, payment.get("webhookUrl"))
            return self._chargeback_json(chargeback, self.url)

    def reverse_chargeback(self, chargeback_id):
        """Reverse a chargeback (sets ``reversedAt``); webhook called."""
        with self._lock:
            chargeback = self._get_any("chargeback", chargeback_id)
            if chargeback["reversedAt"]:
                raise SimulatorError(
                    422, f"The chargeback {chargeback_id} is reversed."
                )
            chargeback["reversedAt"] = _now()
            self._chargeback_transaction(
                chargeback, "chargeback-reversal", chargeback["amount"]
            )
            payment = self._objects["payment"][chargeback["paymentId"]]
            self._queue_webhook(payment["id"], payment.get("webhookUrl"))
            return self._chargeback_json(chargeback, self.url)

    def _chargeback_transaction(self, chargeback, kind, value):
        self._add_transaction(
            chargeback["mode"],
            chargeback["currency"],
            kind,
            value,
            Decimal(0),
            {"paymentId": chargeback["paymentId"], "chargebackId": chargeback["id"]},
        )

    def _api_list_pay_chargebacks(self, ctx, pid):
        self._get("payment", pid, ctx.mode)
        items = self._in_mode("chargeback", ctx.mode, paymentId=pid)
        return self._page(
            ctx, items, "chargebacks", self._chargeback_json, "list-chargebacks"
        )

    def _api_get_chargeback(self, ctx, pid, cid):
        chargeback = self._get("chargeback", cid, ctx.mode)
        if chargeback["paymentId"] != pid:
            raise SimulatorError(404, f"No chargeback exists with token {cid}.")
        return 200, self._chargeback_json(chargeback, ctx.base)

    def _api_list_chargebacks(self, ctx):
        items = self._in_mode("chargeback", ctx.mode)
        return self._page(
            ctx, items, "chargebacks", self._chargeback_json, "list-all-chargebacks"
        )

    def _chargeback_json(self, chargeback, base):
        currency = chargeback["currency"]
        pid = chargeback["paymentId"]
        links = {
            "self": _href(f"{base}/v2/payments/{pid}/chargebacks/{chargeback['id']}"),
            "payment": _href(f"{base}/v2/payments/{pid}"),
        }
        if chargeback["settlementId"]:
            links["settlement"] = _href(
                f"{base}/v2/settlements/{chargeback['settlementId']}"
            )
        links["documentation"] = _doc("get-chargeback")
        return {
            "resource": "chargeback",
            "id": chargeback["id"],
            "amount": _money(chargeback["amount"], currency),
            "settlementAmount": _money(-chargeback["amount"], currency),
            "createdAt": _iso(chargeback["createdAt"]),
            "reason": dict(chargeback["reason"]),
            "reversedAt": _iso(chargeback["reversedAt"]),
            "paymentId": pid,
            "_links": links,
        }

    # --- customers ----------------------------------------------------------

    def _customer_values(self, body):
        values = {}
        for name in ("name", "email"):
            if name in body:
                values[name] = self._parse_text(body, name)
        if "locale" in body:
            values["locale"] = self._parse_locale(body["locale"])
        if "metadata" in body:
            values["metadata"] = self._parse_metadata(body["metadata"])
        return values

    def _api_create_customer(self, ctx):
        customer = {
            "id": self._new_id("cst_"),
            "mode": ctx.mode,
            "name": None,
            "email": None,
            "locale": None,
            "metadata": None,
            "createdAt": _now(),
            **self._customer_values(ctx.body),
        }
        self._objects["customer"][customer["id"]] = customer
        return 201, self._customer_json(customer, ctx.base)

    def _api_get_customer(self, ctx, cid):
        return 200, self._customer_json(self._get("customer", cid, ctx.mode), ctx.base)

    def _api_update_customer(self, ctx, cid):
        customer = self._get("customer", cid, ctx.mode)
        customer.update(self._customer_values(ctx.body))
        return 200, self._customer_json(customer, ctx.base)

    def _api_delete_customer(self, ctx, cid):
        self._get("customer", cid, ctx.mode)["deleted"] = True
        return 204, None

    def _api_list_customers(self, ctx):
        items = self._in_mode("customer", ctx.mode)
        return self._page(
            ctx, items, "customers", self._customer_json, "list-customers"
        )

    def _api_list_customer_payments(self, ctx, cid):
        self._get("customer", cid, ctx.mode)
        items = self._in_mode("payment", ctx.mode, customerId=cid)
        return self._page(
            ctx, items, "payments", self._payment_json, "list-customer-payments"
        )

    def _api_create_customer_payment(self, ctx, cid):
        self._get("customer", cid, ctx.mode)
        return self._api_create_payment(ctx, customer_id=cid)

    def _customer_json(self, customer, base):
        cid = customer["id"]
        links = {
            "self": _href(f"{base}/v2/customers/{cid}"),
            "dashboard": _href(
                f"https://my.mollie.com/dashboard/customers/{cid}", "text/html"
            ),
        }
        if any(p["customerId"] == cid for p in self._objects["payment"].values()):
            links["payments"] = _href(f"{base}/v2/customers/{cid}/payments")
        links["documentation"] = _doc("get-customer")
        return {
            "resource": "customer",
            "id": cid,
            "mode": customer["mode"],
            "name": customer["name"],
            "email": customer["email"],
            "locale": customer["locale"],
            "metadata": customer["metadata"],
            "createdAt": _iso(customer["createdAt"]),
            "_links": links,
        }

    # --- payment links ------------------------------------------------------

    def _api_create_link(self, ctx):
        body = ctx.body
        currency, value = self._parse_amount(body.get("amount"), required=False)
        expires = body.get("expiresAt")
        if expires is not None:
            try:
                expires = datetime.fromisoformat(str(expires))
            except ValueError:
                raise SimulatorError(
                    422, "The expiresAt date is invalid.", "expiresAt"
                ) from None
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
        link = {
            "id": self._new_id("pl_"),
            "mode": ctx.mode,
            "profileId": self._profile_for(ctx),
            "description": self._parse_text(body, "description", required=True),
            "currency": currency,
            "amount": value,
            "redirectUrl": self._parse_url(body.get("redirectUrl"), "redirectUrl"),
            "webhookUrl": self._parse_url(body.get("webhookUrl"), "webhookUrl"),
            "expiresAt": expires,
            "reusable": bool(body.get("reusable", False)),
            "metadata": self._parse_metadata(body.get("metadata")),
            "archived": False,
            "createdAt": _now(),
            "paidAt": None,
            "updatedAt": None,
        }
        self._objects["payment-link"][link["id"]] = link
        return 201, self._link_json(link, ctx.base)

    def _api_get_link(self, ctx, lid):
        return 200, self._link_json(self._get("payment-link", lid, ctx.mode), ctx.base)

    def _api_update_link(self, ctx, lid):
        link = self._get("payment-link", lid, ctx.mode)
        if "description" in ctx.body:
            link["description"] = self._parse_text(ctx.body, "description", True)
        if "archived" in ctx.body:
            link["archived"] = _truthy(ctx.body["archived"])
        link["updatedAt"] = _now()
        return 200, self._link_json(link, ctx.base)

    def _api_delete_link(self, ctx, lid):
        link = self._get("payment-link", lid, ctx.mode)
        if link["paidAt"]:
            raise SimulatorError(422, f"The payment link {lid} was paid.")
        link["deleted"] = True
        return 204, None

    def _api_list_links(self, ctx):
        items = self._in_mode("payment-link", ctx.mode)
        return self._page(
            ctx, items, "payment_links", self._link_json, "list-payment-links"
        )

    def _api_list_link_payments(self, ctx, lid):
        self._get("payment-link", lid, ctx.mode)
        items = self._in_mode("payment", ctx.mode, paymentLinkId=lid)
        return self._page(
            ctx, items, "payments", self._payment_json, "get-payment-link-payments"
        )

    def pay_payment_link(self, link_id, method="ideal", amount=None):
        """Pay a payment link: a paid payment with ``paymentLinkId`` is created.

        The link's webhook is called with the PAYMENT id. ``amount`` is needed
        for links without a fixed amount. Returns the payment.
        """
        with self._lock:
            link = self._get_any("payment-link", link_id)
            self._check_link_payable(link)
            currency = link["currency"] or "EUR"
            if amount is not None:
                value = self._coerce_amount(amount, currency)
            elif link["amount"] is not None:
                value = link["amount"]
            else:
                raise SimulatorError(
                    422, "This payment link needs an amount.", "amount"
                )
            self._parse_method(method, currency)
            payment = self._store_payment(
                mode=link["mode"],
                profileId=link["profileId"],
                currency=currency,
                amount=value,
                description=link["description"],
                method=method,
                methods=[method],
                sequenceType="oneoff",
                customerId=None,
                redirectUrl=link["redirectUrl"],
                cancelUrl=None,
                webhookUrl=link["webhookUrl"],
                metadata=None,
                locale=None,
                paymentLinkId=link["id"],
            )
            self._apply_payment_status(payment, "paid", method, None)
            return self._payment_json(payment, self.url)

    @staticmethod
    def _check_link_payable(link):
        if link.get("deleted") or link["archived"]:
            raise SimulatorError(422, f"The payment link {link['id']} is not active.")
        if link["expiresAt"] and link["expiresAt"] <= _now():
            raise SimulatorError(422, f"The payment link {link['id']} has expired.")
        if link["paidAt"] and not link["reusable"]:
            raise SimulatorError(422, f"The payment link {link['id']} is already paid.")

    def _link_json(self, link, base):
        lid = link["id"]
        return {
            "resource": "payment-link",
            "id": lid,
            "mode": link["mode"],
            "profileId": link["profileId"],
            "description": link["description"],
            "amount": (
                _money(link["amount"], link["currency"])
                if link["amount"] is not None
                else None
            ),
            "archived": link["archived"],
            "redirectUrl": link["redirectUrl"],
            "webhookUrl": link["webhookUrl"],
            "reusable": link["reusable"],
            "metadata": link["metadata"],
            "createdAt": _iso(link["createdAt"]),
            "paidAt": _iso(link["paidAt"]),
            "updatedAt": _iso(link["updatedAt"]),
            "expiresAt": _iso(link["expiresAt"]),
            "_links": {
                "self": _href(f"{base}/v2/payment-links/{lid}"),
                "paymentLink": _href(f"{base}/pay/{lid}", "text/html"),
                "documentation": _doc("get-payment-link"),
            },
        }

    # --- methods, profiles, organizations -------------------------------------

    def _method_json(self, method_id, base, issuers=False):
        description, minimum, maximum = METHODS[method_id][:3]
        icons = "https://www.mollie.com/external/icons/payment-methods/"
        data = {
            "resource": "method",
            "id": method_id,
            "description": description,
            "minimumAmount": _money(Decimal(minimum), "EUR"),
            "maximumAmount": _money(Decimal(maximum), "EUR"),
            "image": {
                "size1x": f"{icons}{method_id}.png",
                "size2x": f"{icons}{method_id}%402x.png",
                "svg": f"{icons}{method_id}.svg",
            },
            "status": "activated",
            "_links": {
                "self": _href(f"{base}/v2/methods/{method_id}"),
                "documentation": _doc("get-method"),
            },
        }
        if issuers and method_id == "ideal":
            data["issuers"] = [
                {"resource": "issuer", "id": f"ideal_{bic}", "name": name}
                for bic, name in (("ABNANL2A", "ABN AMRO"), ("INGBNL2A", "ING"))
            ]
        return data

    def _methods_page(self, ctx, ids):
        issuers = "issuers" in (ctx.query.get("include") or "")
        methods = [self._method_json(m, ctx.base, issuers) for m in ids]
        return 200, {
            "count": len(methods),
            "_embedded": {"methods": methods},
            "_links": {
                "self": _href(f"{ctx.base}{ctx.path}"),
                "documentation": _doc("list-methods"),
            },
        }

    def _api_list_methods(self, ctx):
        currency = ctx.query.get("amount[currency]")
        value = ctx.query.get("amount[value]")
        ids = []
        for method_id, spec in METHODS.items():
            if currency and spec[3] and currency not in spec[3]:
                continue
            if value and not Decimal(spec[1]) <= Decimal(value) <= Decimal(spec[2]):
                continue
            ids.append(method_id)
        return self._methods_page(ctx, ids)

    def _api_list_all_methods(self, ctx):
        return self._methods_page(ctx, list(METHODS))

    def _api_get_method(self, ctx, mid):
        if mid not in METHODS:
            raise SimulatorError(404, f"No method exists with id {mid}.")
        issuers = "issuers" in (ctx.query.get("include") or "")
        return 200, self._method_json(mid, ctx.base, issuers)

    def _api_get_profile(self, ctx, pid):
        if pid == "me":
            self._require(ctx, "api_key")
            pid = ctx.cred["profileId"]
        elif ctx.cred["kind"] == "api_key" and pid != ctx.cred["profileId"]:
            raise SimulatorError(404, f"No profile exists with token {pid}.")
        profile = self._profiles.get(pid)
        if profile is None:
            raise SimulatorError(404, f"No profile exists with token {pid}.")
        return 200, self._profile_json(profile, ctx.mode, ctx.base)

    def _api_list_profiles(self, ctx):
        self._require(ctx, "access_token")
        items = [dict(p, mode=ctx.mode) for p in self._profiles.values()]
        return self._page(
            ctx,
            items,
            "profiles",
            lambda p, base: self._profile_json(p, p["mode"], base),
            "list-profiles",
        )

    @staticmethod
    def _profile_json(profile, mode, base):
        pid = profile["id"]
        return {
            "resource": "profile",
            "id": pid,
            "mode": mode,
            "name": profile["name"],
            "website": profile["website"],
            "email": profile["email"],
            "phone": profile["phone"],
            "businessCategory": "OTHER_MERCHANDISE",
            "status": "verified",
            "createdAt": _iso(profile["createdAt"]),
            "_links": {
                "self": _href(f"{base}/v2/profiles/{pid}"),
                "dashboard": _href(
                    f"https://my.mollie.com/dashboard/settings/profiles/{pid}",
                    "text/html",
                ),
                "chargebacks": _href(f"{base}/v2/chargebacks?profileId={pid}"),
                "methods": _href(f"{base}/v2/methods?profileId={pid}"),
                "payments": _href(f"{base}/v2/payments?profileId={pid}"),
                "refunds": _href(f"{base}/v2/refunds?profileId={pid}"),
                "checkoutPreviewUrl": _href(
                    f"{base}/checkout/preview/{pid}", "text/html"
                ),
                "documentation": _doc("get-current-profile"),
            },
        }

    def _api_get_organization(self, ctx, oid):
        self._require(ctx, "access_token")
        own = ctx.cred["organizationId"]
        organization = next(
            (o for o in self._organizations.values() if o["id"] == own), None
        )
        if organization is None or oid not in ("me", own):
            raise SimulatorError(404, f"No organization exists with token {oid}.")
        return 200, {
            "resource": "organization",
            "id": own,
            "name": organization["name"],
            "email": "finance@example.com",
            "locale": "nl_NL",
            "address": {
                "streetAndNumber": "Keizersgracht 126",
                "postalCode": "1015 CW",
                "city": "Amsterdam",
                "country": "NL",
            },
            "registrationNumber": "30204462",
            "vatNumber": "NL815839091B01",
            "vatRegulation": "dutch",
            "_links": {
                "self": _href(f"{ctx.base}/v2/organizations/{own}"),
                "dashboard": _href(
                    f"https://my.mollie.com/dashboard/{own}", "text/html"
                ),
                "documentation": _doc("get-current-organization"),
            },
        }

    # --- balances -----------------------------------------------------------

    def _balance(self, mode, currency):
        for balance in self._objects["balance"].values():
            if balance["mode"] == mode and balance["currency"] == currency:
                return balance
        balance = {
            "id": self._new_id("bal_"),
            "mode": mode,
            "currency": currency,
            "createdAt": _now(),
            "available": Decimal(0),
            "transactionIds": [],
        }
        self._objects["balance"][balance["id"]] = balance
        return balance

    def _add_transaction(self, mode, currency, kind, initial, deductions, context):
        balance = self._balance(mode, currency)
        transaction = {
            "id": self._new_id("baltr_"),
            "mode": mode,
            "balanceId": balance["id"],
            "currency": currency,
            "type": kind,
            "initial": initial,
            "deductions": deductions,
            "result": initial + deductions,
            "context": context,
            "createdAt": _now(),
        }
        self._objects["balance-transaction"][transaction["id"]] = transaction
        balance["available"] += transaction["result"]
        balance["transactionIds"].append(transaction["id"])
        return transaction

    def _resolve_balance(self, ctx, bid):
        self._require(ctx, "access_token")
        if bid == "primary":
            return self._balance(ctx.mode, "EUR")
        return self._get("balance", bid, ctx.mode)

    def _api_get_balance(self, ctx, bid):
        return 200, self._balance_json(self._resolve_balance(ctx, bid), ctx.base)

    def _api_list_balances(self, ctx):
        self._require(ctx, "access_token")
        self._balance(ctx.mode, "EUR")
        items = self._in_mode("balance", ctx.mode)
        return self._page(ctx, items, "balances", self._balance_json, "list-balances")

    def _api_list_transactions(self, ctx, bid):
        balance = self._resolve_balance(ctx, bid)
        store = self._objects["balance-transaction"]
        items = [store[tid] for tid in balance["transactionIds"]]
        return self._page(
            ctx,
            items,
            "balance_transactions",
            self._transaction_json,
            "list-balance-transactions",
        )

    def _balance_json(self, balance, base):
        currency = balance["currency"]
        organization = next(
            iter(self._organizations.values()), {"name": "Simulated BV"}
        )
        return {
            "resource": "balance",
            "id": balance["id"],
            "mode": balance["mode"],
            "createdAt": _iso(balance["createdAt"]),
            "currency": currency,
            "description": f"{currency} balance",
            "status": "active",
            "transferFrequency": "daily",
            "transferThreshold": _money(Decimal(40), currency),
            "transferReference": "Mollie payout",
            "transferDestination": {
                "type": "bank-account",
                "beneficiaryName": organization["name"],
                "bankAccount": _iban("NL", "INGB0001234567"),
                "bankAccountId": "bnk_simulated",
            },
            "availableAmount": _money(balance["available"], currency),
            "pendingAmount": _money(Decimal(0), currency),
            "_links": {
                "self": _href(f"{base}/v2/balances/{balance['id']}"),
                "documentation": _doc("get-balance"),
            },
        }

    @staticmethod
    def _transaction_json(transaction, base):
        currency = transaction["currency"]
        return {
            "resource": "balance_transaction",
            "id": transaction["id"],
            "type": transaction["type"],
            "resultAmount": _money(transaction["result"], currency),
            "initialAmount": _money(transaction["initial"], currency),
            "deductions": _money(transaction["deductions"], currency),
            "context": dict(transaction["context"]),
            "createdAt": _iso(transaction["createdAt"]),
        }

    # --- settlements --------------------------------------------------------

    def settle(self, mode=None):
        """Settle paid, unsettled payments, refunds and chargebacks.

        One paid-out settlement per mode and currency; ``mode`` restricts it to
        ``"test"`` or ``"live"``. Returns the settlements as the API shows them.
        """
        with self._lock:
            created = []
            for current in (mode,) if mode else ("live", "test"):
                for currency, group in self._unsettled(current).items():
                    created.append(self._make_settlement(current, currency, group))
            return [self._settlement_json(s, self.url) for s in created]

    def _unsettled(self, mode):
        groups = {}

        def bucket(obj, name):
            group = groups.setdefault(
                obj["currency"], {"payments": [], "refunds": [], "chargebacks": []}
            )
            group[name].append(obj)

        for payment in self._in_mode("payment", mode, status="paid", settlementId=None):
            bucket(payment, "payments")
        for refund in self._in_mode("refund", mode, settlementId=None):
            if refund["status"] not in ("failed", "canceled"):
                bucket(refund, "refunds")
        for chargeback in self._in_mode("chargeback", mode, settlementId=None):
            bucket(chargeback, "chargebacks")
        return groups

    def _make_settlement(self, mode, currency, group):
        now = _now()
        self._settlement_seq += 1
        settlement = {
            "id": self._new_id("stl_"),
            "mode": mode,
            "currency": currency,
            "reference": f"1234567.{now:%y%m}.{self._settlement_seq:02d}",
            "createdAt": now,
            "settledAt": now,
            "payments": [p["id"] for p in group["payments"]],
            "refunds": [r["id"] for r in group["refunds"]],
            "chargebacks": [c["id"] for c in group["chargebacks"]],
        }
        revenue, costs = {}, {}
        for payment in group["payments"]:
            line = revenue.setdefault(payment["method"], [0, Decimal(0)])
            line[0] += 1
            line[1] += payment["amount"]
            cost = costs.setdefault(payment["method"], [0, Decimal(0)])
            cost[0] += 1
            cost[1] += payment["fee"]
        refunded = sum((r["amount"] for r in group["refunds"]), Decimal(0))
        charged = sum(
            (c["amount"] for c in group["chargebacks"] if not c["reversedAt"]),
            Decimal(0),
        )
        gross = sum((line[1] for line in revenue.values()), Decimal(0))
        fees = sum((line[1] for line in costs.values()), Decimal(0))
        settlement["amount"] = gross - fees - refunded - charged
        settlement["periods"] = self._periods(
            now, currency, revenue, costs, refunded, charged
        )
        for obj in group["payments"] + group["refunds"] + group["chargebacks"]:
            obj["settlementId"] = settlement["id"]
        self._objects["settlement"][settlement["id"]] = settlement
        self._add_transaction(
            mode,
            currency,
            "outgoing-transfer",
            -settlement["amount"],
            Decimal(0),
            {"settlementId": settlement["id"], "transferId": settlement["reference"]},
        )
        return settlement

    @staticmethod
    def _periods(now, currency, revenue, costs, refunded, charged):
        def line(description, method, count, amount):
            return {
                "description": description,
                "method": method,
                "count": count,
                "amountNet": _money(amount, currency),
                "amountVat": None,
                "amountGross": _money(amount, currency),
            }

        revenue_lines = [
            line(METHODS.get(m, (m,))[0], m, n, total)
            for m, (n, total) in revenue.items()
        ]
        if refunded:
            revenue_lines.append(line("Refunds", None, 1, -refunded))
        if charged:
            revenue_lines.append(line("Chargebacks", None, 1, -charged))
        cost_lines = [
            line(METHODS.get(m, (m,))[0], m, n, total)
            for m, (n, total) in costs.items()
        ]
        return {
            f"{now:%Y}": {
                f"{now:%m}": {
                    "revenue": revenue_lines,
                    "costs": cost_lines,
                    "invoiceId": None,
                }
            }
        }

    def _api_list_settlements(self, ctx):
        self._require(ctx, "access_token")
        items = self._in_mode("settlement", ctx.mode)
        return self._page(
            ctx, items, "settlements", self._settlement_json, "list-settlements"
        )

    def _api_get_settlement(self, ctx, sid):
        self._require(ctx, "access_token")
        return 200, self._settlement_json(
            self._get("settlement", sid, ctx.mode), ctx.base
        )

    def _api_list_settlement_items(self, ctx, sid, what):
        self._require(ctx, "access_token")
        settlement = self._get("settlement", sid, ctx.mode)
        kind = {"payments": "payment", "refunds": "refund", "chargebacks": "chargeback"}
        store = self._objects[kind[what]]
        items = [store[oid] for oid in settlement[what]]
        serialize = {
            "payments": self._payment_json,
            "refunds": self._refund_json,
            "chargebacks": self._chargeback_json,
        }[what]
        return self._page(ctx, items, what, serialize, f"list-settlement-{what}")

    def _settlement_json(self, settlement, base):
        sid = settlement["id"]
        return {
            "resource": "settlement",
            "id": sid,
            "reference": settlement["reference"],
            "createdAt": _iso(settlement["createdAt"]),
            "settledAt": _iso(settlement["settledAt"]),
            "status": "paidout",
            "amount": _money(settlement["amount"], settlement["currency"]),
            "periods": settlement["periods"],
            "_links": {
                "self": _href(f"{base}/v2/settlements/{sid}"),
                "payments": _href(f"{base}/v2/settlements/{sid}/payments"),
                "refunds": _href(f"{base}/v2/settlements/{sid}/refunds"),
                "chargebacks": _href(f"{base}/v2/settlements/{sid}/chargebacks"),
                "captures": _href(f"{base}/v2/settlements/{sid}/captures"),
                "documentation": _doc("get-settlement"),
            },
        }

    # --- events (next-gen webhooks) -------------------------------------------

    def _api_get_event(self, ctx, eid):
        event = self._objects["event"].get(eid)
        if event is None:
            raise SimulatorError(404, f"No webhook event exists with token {eid}.")
        return 200, event["payload"]

    def send_signed_event(self, url, secret, event_type, entity_id, entity=None):
        """POST a next-gen webhook event, signed like Mollie; return the status.

        The body is ``{"resource": "event", "id": "whe_…", "type", "entityId",
        "createdAt", "_embedded": {"entity": …}, "_links"}``; the header
        ``X-Mollie-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` is keyed
        with ``secret`` (a list of secrets sends one header per secret, as during
        a rotation). ``entity`` defaults to the stored object, if any. Returns
        None when the receiver cannot be reached.
        """
        with self._lock:
            event_id = self._new_id("whe_")
            if entity is None:
                kind = self._kind_of(entity_id)
                stored = self._objects[kind].get(entity_id) if kind else None
                entity = self._serialize(kind, stored, self.url) if stored else None
            payload = {
                "resource": "event",
                "id": event_id,
                "type": event_type,
                "entityId": entity_id,
                "createdAt": _iso(_now()),
            }
            if entity is not None:
                payload["_embedded"] = {"entity": entity}
            payload["_links"] = {
                "self": _href(f"{self.url}/v2/webhook-events/{event_id}"),
                "documentation": _doc("webhooks-new"),
            }
            if entity is not None and entity.get("_links", {}).get("self"):
                payload["_links"]["entity"] = entity["_links"]["self"]
            self._objects["event"][event_id] = {
                "id": event_id,
                "mode": "live",
                "payload": payload,
            }
        raw = json.dumps(payload).encode()
        keys = [secret] if isinstance(secret, str | bytes) else list(secret)
        headers = [("Content-Type", "application/json")]
        for key in keys:
            secret_bytes = key.encode() if isinstance(key, str) else key
            digest = hmac.new(secret_bytes, raw, hashlib.sha256).hexdigest()
            headers.append(("X-Mollie-Signature", f"sha256={digest}"))
        entry = {"event_id": event_id, "type": event_type, "entity_id": entity_id}
        entry.update(
            url=url, body=raw.decode(), at=time.time(), status=None, error=None
        )
        try:
            entry["status"] = self._post(url, raw, headers)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.event_log.append(entry)
        return entry["status"]

    def _serialize(self, kind, obj, base):
        serializers = {
            "payment": self._payment_json,
            "refund": self._refund_json,
            "chargeback": self._chargeback_json,
            "customer": self._customer_json,
            "payment-link": self._link_json,
            "settlement": self._settlement_json,
            "balance": self._balance_json,
            "balance-transaction": self._transaction_json,
            "event": lambda event, _base: event["payload"],
        }
        return serializers[kind](obj, base)

    # --- classic webhooks -----------------------------------------------------

    def deliver_webhook(self, object_id, url=None, retry=True):
        """Call a webhook for ``object_id`` now (with Mollie's retries if asked).

        Without ``url``, the object's own ``webhookUrl`` is used (for refunds and
        chargebacks that of their payment).
        """
        if url is None:
            with self._lock:
                url = self._webhook_url_of(object_id)
        if not url:
            raise SimulatorError(422, f"There is no webhookUrl for {object_id}.")
        self._queue_webhook(object_id, url, retry=retry)

    def _webhook_url_of(self, object_id):
        kind = self._kind_of(object_id)
        obj = self._objects[kind].get(object_id) if kind else None
        if obj is None:
            raise SimulatorError(404, f"No object exists with token {object_id}.")
        if kind in ("refund", "chargeback"):
            obj = self._objects["payment"][obj["paymentId"]]
        return obj.get("webhookUrl")

    def wait_for_webhooks(self, timeout=10.0):
        """Block until every queued delivery succeeded or gave up; True if so."""
        deadline = time.monotonic() + timeout
        with self._wh_cond:
            while self._wh_pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wh_cond.wait(remaining)
        return True

    def _queue_webhook(self, object_id, url, retry=True):
        if not url or self._stop_event.is_set():
            return
        thread = threading.Thread(
            target=self._webhook_worker,
            args=(object_id, url, self._generation, retry),
            name=f"mollie-simulator-webhook-{object_id}",
            daemon=True,
        )
        with self._wh_cond:
            self._wh_pending += 1
            self._wh_threads.add(thread)
        thread.start()

    def _webhook_worker(self, object_id, url, generation, retry):
        try:
            first = time.monotonic()
            schedule = WEBHOOK_SCHEDULE_MINUTES if retry else (0,)
            for attempt, minutes in enumerate(schedule, start=1):
                due = first + minutes * 60 * self.webhook_time_scale
                wait = due - time.monotonic()
                if wait > 0 and self._stop_event.wait(wait):
                    return
                if self._stop_event.is_set() or generation != self._generation:
                    return
                if self._attempt_webhook(object_id, url, attempt):
                    return
        finally:
            with self._wh_cond:
                self._wh_pending -= 1
                self._wh_threads.discard(threading.current_thread())
                self._wh_cond.notify_all()

    def _attempt_webhook(self, object_id, url, attempt):
        body = urlencode({"id": object_id}).encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
        entry = {"object_id": object_id, "url": url, "attempt": attempt}
        entry.update(status=None, error=None, at=time.time())
        try:
            entry["status"] = self._post(url, body, headers)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["ok"] = entry["status"] is not None and 200 <= entry["status"] < 300
        entry["duration"] = time.time() - entry["at"]
        with self._lock:
            self.webhook_log.append(entry)
        return entry["ok"]

    def _post(self, url, body, headers):
        """POST without following redirects; return the status code."""
        parts = urlsplit(url)
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.webhook_timeout
            )
        elif parts.scheme == "http":
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=self.webhook_timeout
            )
        else:
            raise ValueError(f"Unsupported webhook URL {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with self._wh_cond:
            self._wh_conns.add(connection)
        try:
            connection.putrequest("POST", target)
            for name, value in [
                *headers,
                ("User-Agent", WEBHOOK_USER_AGENT),
                ("Accept", "*/*"),
                ("Content-Length", str(len(body))),
            ]:
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            response.read(65536)
            return response.status
        finally:
            with self._wh_cond:
                self._wh_conns.discard(connection)
            connection.close()

    @staticmethod
    def _abort_connection(connection):
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as error:
                _logger.debug("Webhook connection already closed: %s", error)

    # --- amounts given to control methods -------------------------------------

    @staticmethod
    def _coerce_amount(amount, currency):
        if isinstance(amount, dict):
            if amount.get("currency") not in (None, currency):
                raise SimulatorError(
                    422, f"The amount must be in {currency}.", "amount.currency"
                )
            amount = amount.get("value")
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise SimulatorError(422, f"Invalid amount {amount!r}.", "amount") from None
        if value <= 0 or value != value.quantize(_quantum(currency)):
            raise SimulatorError(
                422, f"Invalid {currency} amount {amount!r}.", "amount"
            )
        return value

    # --- control interface over HTTP ------------------------------------------

    def _handle_control(self, handler, path, raw):
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise SimulatorError(400, "The body must be a JSON object.")
            status, payload = self._dispatch_control(handler.command, path, body)
        except ValueError as error:
            status, payload = 400, SimulatorError(400, str(error)).body()
        except SimulatorError as error:
            status, payload = error.status, error.body()
        except TypeError as error:
            status, payload = 400, SimulatorError(400, str(error)).body()
        self._send(handler, status, payload, content_type="application/json")

    def _dispatch_control(self, method, path, body):
        for route_method, pattern, name in self._control_routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return getattr(self, name)(body, **match.groupdict())
        raise SimulatorError(404, f"Unknown control route {method} {path}.")

    def _ctl_state(self, body):
        return 200, self.state()

    def _ctl_reset(self, body):
        self.reset()
        return 200, self.state()

    def _ctl_requests(self, body):
        with self._lock:
            return 200, {"requests": list(self.requests)}

    def _ctl_webhooks(self, body):
        with self._lock:
            return 200, {"webhooks": list(self.webhook_log), "events": self.event_log}

    def _ctl_wait_webhooks(self, body):
        return 200, {"done": self.wait_for_webhooks(float(body.get("timeout", 10)))}

    def _ctl_deliver_webhook(self, body):
        self.deliver_webhook(**body)
        return 202, {"queued": body["object_id"]}

    def _ctl_object(self, body, oid):
        obj = self.get_object(oid)
        if obj is None:
            raise SimulatorError(404, f"No object exists with token {oid}.")
        return 200, obj

    def _ctl_payment_status(self, body, oid):
        return 200, self.set_payment_status(oid, **body)

    def _ctl_pay_link(self, body, oid):
        return 201, self.pay_payment_link(oid, **body)

    def _ctl_create_refund(self, body, oid):
        return 201, self.create_refund(oid, **body)

    def _ctl_refund_status(self, body, oid):
        return 200, self.set_refund_status(oid, **body)

    def _ctl_create_chargeback(self, body, oid):
        return 201, self.create_chargeback(oid, **body)

    def _ctl_reverse_chargeback(self, body, oid):
        return 200, self.reverse_chargeback(oid)

    def _ctl_inject_fault(self, body):
        self.inject_fault(**body)
        return 201, {"faults": len(self._faults)}

    def _ctl_clear_faults(self, body):
        self.clear_faults()
        return 200, {"faults": 0}

    def _ctl_add_key(self, body):
        if "api_key" in body:
            body = dict(body)
            key = body.pop("api_key")
            return 201, {"profileId": self.add_api_key(key, **body)}
        if "access_token" in body:
            body = dict(body)
            token = body.pop("access_token")
            return 201, {"organizationId": self.add_access_token(token, **body)}
        raise SimulatorError(400, "Give 'api_key' or 'access_token'.")

    def _ctl_settle(self, body):
        return 201, {"settlements": self.settle(**body)}

    def _ctl_send_event(self, body):
        return 200, {"status": self.send_signed_event(**body)}

    def _ctl_expire_idempotency(self, body):
        self.expire_idempotency_keys()
        return 200, {"expired": True}

    def _ctl_refuse_connections(self, body):
        seconds = float(body.get("seconds", 5))

        def refuse_then_accept():
            self.refuse_connections()
            if not self._stop_event.wait(seconds):
                self.accept_connections()

        # Answer first: the listening socket closes right after this reply.
        timer = threading.Timer(0.1, refuse_then_accept)
        timer.daemon = True
        timer.start()
        return 202, {"refusing_for": seconds}

    # --- hosted pages (test checkout, payment link) ---------------------------

    def _handle_page(self, handler, path, raw):
        kind, _, object_id = path.strip("/").partition("/")
        form = _flat_query(raw)
        try:
            if handler.command == "POST":
                location = self._page_post(kind, object_id, form)
                self._send(handler, 303, "", [("Location", location)], "text/html")
                return
            page = self._page_html(kind, object_id)
            status = 200
        except SimulatorError as error:
            page = f"<h1>{error.status}</h1><p>{html.escape(error.detail)}</p>"
            status = error.status
        document = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Mollie simulator</title></head><body>{page}</body></html>"
        )
        self._send(handler, status, document, content_type="text/html; charset=utf-8")

    def _page_post(self, kind, object_id, form):
        method = form.get("method") or "ideal"
        if kind == "checkout":
            payment = self.set_payment_status(
                object_id, form.get("status") or "paid", method=method
            )
            cancel = payment["status"] == "canceled" and payment.get("cancelUrl")
            return cancel or payment.get("redirectUrl") or f"/checkout/{object_id}"
        payment = self.pay_payment_link(object_id, method=method)
        return payment.get("redirectUrl") or f"/pay/{object_id}"

    def _page_html(self, kind, object_id):
        obj = self.get_object(object_id)
        expected = "payment" if kind == "checkout" else "payment-link"
        if obj is None or obj["resource"] != expected:
            raise SimulatorError(404, f"Unknown {expected} {object_id}.")
        amount = obj.get("amount") or {"currency": "EUR", "value": "?"}
        methods = "".join(f"<option>{html.escape(m)}</option>" for m in METHODS)
        choices = ""
        if kind == "checkout":
            choices = "".join(
                f"<button name='status' value='{s}'>{s}</button> "
                for s in ("paid", "failed", "canceled", "expired")
            )
        else:
            choices = "<button>Pay</button>"
        return (
            f"<h1>{html.escape(obj['description'])}</h1>"
            f"<p>{amount['currency']} {amount['value']} "
            f"({html.escape(obj.get('status') or 'payment link')})</p>"
            f"<form method='post'><select name='method'>{methods}</select> "
            f"{choices}</form>"
        )


def main(argv=None):
    """Run the simulator until SIGTERM/SIGINT (script mode)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", action="append", default=[])
    parser.add_argument("--access-token", action="append", default=[])
    parser.add_argument("--profile-name", default="Simulated shop")
    parser.add_argument("--organization-name", default="Simulated BV")
    parser.add_argument("--webhook-time-scale", type=float, default=0.001)
    args = parser.parse_args(argv)
    simulator = MollieSimulator(args.host, args.port, args.webhook_time_scale)
    for key in args.api_key:
        simulator.add_api_key(key, profile_name=args.profile_name)
    for token in args.access_token:
        simulator.add_access_token(token, organization_name=args.organization_name)
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    simulator.start()
    sys.stdout.write(f"Mollie simulator listening on {simulator.url}\n")
    sys.stdout.flush()
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
