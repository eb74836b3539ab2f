# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The one seam between the addon and Mollie.

Nothing else in the addon imports ``mollie-api-python``: every call to Mollie
goes through :class:`MollieClient`, which adds what the SDK leaves to its
users: stable idempotency keys, bounded retries of 429 and 5xx answers that
honour ``Retry-After``, translated errors, and redacted request logs. Tests
point it at the local Mollie simulator through the ``crm_mollie.api_endpoint``
system parameter, or patch this one class.
"""

import threading
import time
from urllib.parse import urlsplit

import requests
from mollie.api import error as sdk_error
from mollie.api.client import Client

from odoo.addons.payment.logging import get_payment_logger

from .. import const, utils
from ..exceptions import MollieError

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

# SDK clients are kept per thread: a requests session is not safe to share
# between the threads of Odoo's threaded server, and keeping it alive lets a
# cron run reuse one TLS connection for hundreds of calls.
_thread_cache = threading.local()


def get_sdk_client(env, credential, endpoint, user_agent, testmode=False):
    """Return this thread's SDK client for one credential and endpoint.

    :param env: The environment whose language the error message uses.
    :param str credential: API key (``test_``/``live_``) or access token.
    :param str endpoint: API root without the version.
    :param dict user_agent: User-Agent components to add, name to version.
    :param bool testmode: For an access token, act on test data.
    :return: A configured SDK client.
    :rtype: mollie.api.client.Client
    :raise MollieError: ``configuration`` if the credential is malformed.
    """
    cache = getattr(_thread_cache, "clients", None)
    if cache is None:
        cache = _thread_cache.clients = {}
    cache_key = (credential, endpoint, testmode)
    if cache_key not in cache:
        cache[cache_key] = _build_sdk_client(
            env, credential, endpoint, user_agent, testmode
        )
    return cache[cache_key]


def _build_sdk_client(env, credential, endpoint, user_agent, testmode):
    # retry=0: the SDK would retry connection errors on its own, invisibly and
    # without backoff; MollieClient.call retries everything in one place.
    client = Client(api_endpoint=endpoint, timeout=const.API_TIMEOUT, retry=0)
    try:
        if credential.startswith(const.ACCESS_TOKEN_PREFIX):
            client.set_access_token(credential)
            client.set_testmode(testmode)
        else:
            client.set_api_key(credential)
    except sdk_error.RequestSetupError:
        # The SDK message quotes the key: never pass it on.
        raise MollieError(
            env._(
                "The Mollie key is malformed: it must start with test_, live_ "
                "or access_ followed by letters and digits only."
            ),
            kind="configuration",
        ) from None
    for name, version in user_agent.items():
        # sanitize=False keeps our CamelCase names (the SDK would lower them).
        client.set_user_agent_component(name, version, sanitize=False)
    # The SDK exposes neither response headers (Retry-After) nor timings. It
    # creates its session lazily unless one exists, so we hand it ours, whose
    # response hook feeds the request log and the retry logic.
    session = requests.Session()
    session.hooks["response"].append(_on_response)
    client._client = session
    return client


def _on_response(response, *args, **kwargs):
    """Log one HTTP exchange with Mollie, masked, and remember its answer."""
    state = _current_state()
    request = response.request
    url = urlsplit(request.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    if 200 <= response.status_code < 400:
        level = _logger.info
    elif response.status_code < 500:
        level = _logger.warning
    else:
        level = _logger.error
    level(
        "Mollie %(method)s %(path)s -> %(status)s in %(ms)d ms [%(reference)s]\n"
        "request: %(request)s\nresponse: %(response)s",
        {
            "method": request.method,
            "path": utils.redact_text(path),
            "status": response.status_code,
            "ms": response.elapsed.total_seconds() * 1000,
            "reference": state["reference"],
            "request": utils.redact_body(request.body),
            "response": utils.redact_body(response.content),
        },
    )
    state["last_response"] = response
    return response


def _current_state():
    state = getattr(_thread_cache, "state", None)
    if state is None:
        state = _thread_cache.state = {"reference": "", "last_response": None}
    return state


class MollieClient:
    """Calls Mollie for one company with one credential.

    :param env: The environment whose language the error messages use.
    :param sdk_client: A client from :func:`get_sdk_client`.
    :param str label: Who is calling (the company), for the log.
    """

    def __init__(self, env, sdk_client, label=""):
        self.env = env
        self.sdk = sdk_client
        self.label = label

    # === PUBLIC CALLS === #

    def call(self, action, operation, reference="", idempotency_key=""):
        """Run one SDK operation with retries, logging and error mapping.

        429 and 5xx answers and network failures are retried up to
        ``const.API_MAX_ATTEMPTS`` times with exponential backoff, waiting at
        least as long as Mollie's ``Retry-After`` asks. Retrying a create call
        is safe only because it carries the same Idempotency-Key each time.

        :param str action: What the call does, for the log (``"get payment"``).
        :param operation: ``callable(sdk_client)`` performing the SDK call.
        :param str reference: Our record the call is about, for the log.
        :param str idempotency_key: Logged with the call; the operation must
            pass it to the SDK itself.
        :return: Whatever the operation returns.
        :raise MollieError: When the call failed for good.
        """
        state = _current_state()
        state["reference"] = f"{self.label} {reference}".strip()
        attempt = 0
        while True:
            attempt += 1
            state["last_response"] = None
            started = time.monotonic()
            try:
                return operation(self.sdk)
            except sdk_error.Error as exc:
                error = self._map_error(exc, state["last_response"])
            if not error.retryable or attempt >= const.API_MAX_ATTEMPTS:
                _logger.error(
                    "Mollie %(action)s failed after %(attempts)d attempt(s) "
                    "[%(reference)s]: %(kind)s %(status)s",
                    {
                        "action": action,
                        "attempts": attempt,
                        "reference": state["reference"],
                        "kind": error.kind,
                        "status": error.status or "",
                    },
                )
                raise error
            delay = max(
                const.API_RETRY_BASE_DELAY * 2 ** (attempt - 1),
                error.retry_after or 0,
            )
            if delay > const.API_RETRY_MAX_DELAY:
                # Waiting longer would hold a worker (and maybe a webhook
                # answer) hostage; the caller's own retry schedule takes over.
                raise error
            _logger.warning(
                "Mollie %(action)s: %(kind)s after %(ms)d ms, retry %(attempt)d in "
                "%(delay).1f s [%(reference)s] (Idempotency-Key %(key)s)",
                {
                    "action": action,
                    "kind": error.kind,
                    "ms": (time.monotonic() - started) * 1000,
                    "attempt": attempt,
                    "delay": delay,
                    "reference": state["reference"],
                    "key": idempotency_key or "-",
                },
            )
            time.sleep(delay)

    def create_object(self, resource, data, idempotency_key, reference=""):
        """Create an object at Mollie, safely retryable.

        :param str resource: SDK resource attribute (``"payment_links"``).
        :param dict data: The request body.
        :param str idempotency_key: Stable key derived from our record (see
            :func:`odoo.addons.crm_mollie.utils.idempotency_key`). Required:
            without one a retry could create the object twice.
        :param str reference: Our record, for the log.
        :return: The SDK object.
        """
        if not idempotency_key:
            raise ValueError("Every create call to Mollie needs an Idempotency-Key.")
        return self.call(
            f"create {resource}",
            lambda sdk: getattr(sdk, resource).create(
                data, idempotency_key=idempotency_key
            ),
            reference=reference,
            idempotency_key=idempotency_key,
        )

    def fetch_object(self, resource, resource_id, reference="", **params):
        """Fetch one object from Mollie by id.

        :param str resource: SDK resource attribute (``"payments"``).
        :param str resource_id: Mollie id (``tr_...``).
        :return: The SDK object.
        """
        return self.call(
            f"get {resource}",
            lambda sdk: getattr(sdk, resource).get(resource_id, **params),
            reference=reference or resource_id,
        )

    def fetch_json(self, path, reference="", **params):
        """GET one API path and return Mollie's JSON as a plain dict.

        :param str path: Path below ``/v2/`` built from validated ids only.
        """
        return self.call(
            f"get {path.split('/')[0]}",
            lambda sdk: sdk.payments.perform_api_call("GET", path, params=params),
            reference=reference,
        )

    def list_all(self, path, embedded, reference="", stop=None, **params):
        """Walk a cursor-paginated list, newest first, as plain dicts.

        :param str path: List path below ``/v2/`` (``"payments"``).
        :param str embedded: Key of the items under ``_embedded``.
        :param stop: ``callable(item)``; the walk ends at the first item for
            which it returns True (that item excluded).
        :param params: Query parameters of the first page (``limit``...).
        :return: The items, in Mollie's order.
        :rtype: list
        """
        params.setdefault("limit", const.LIST_PAGE_SIZE)
        items = []
        url = path
        for _page in range(const.RECONCILE_MAX_PAGES):
            page = self.call(
                f"list {embedded}",
                lambda sdk, url=url, params=params: sdk.payments.perform_api_call(
                    "GET", url, params=params
                ),
                reference=reference,
            )
            for item in (page.get("_embedded") or {}).get(embedded, []):
                if stop and stop(item):
                    return items
                items.append(item)
            next_link = (page.get("_links") or {}).get("next") or {}
            if not next_link.get("href"):
                break
            # The next link is a full URL that already carries the query.
            url, params = next_link["href"], None
        return items

    def create_child(self, parent_path, data, idempotency_key, reference=""):
        """Create an object below another (a refund below a payment).

        :param str parent_path: e.g. ``"payments/tr_xxx/refunds"``.
        """
        if not idempotency_key:
            raise ValueError("Every create call to Mollie needs an Idempotency-Key.")
        return self.call(
            f"create {parent_path.rsplit('/', 1)[-1]}",
            lambda sdk: sdk.payments.perform_api_call(
                "POST", parent_path, data=data, idempotency_key=idempotency_key
            ),
            reference=reference,
            idempotency_key=idempotency_key,
        )

    def patch_json(self, path, data, reference=""):
        """PATCH an object (the SDK has no update for payment links)."""
        return self.call(
            f"update {path.split('/')[0]}",
            lambda sdk: sdk.payments.perform_api_call("PATCH", path, data=data),
            reference=reference,
        )

    def fetch_profile(self):
        """The profile the API key belongs to (name, mode, website)."""
        return self.fetch_object("profiles", "me", reference="connection test")

    def fetch_organization(self):
        """The organisation an access token belongs to."""
        return self.fetch_object("organizations", "me", reference="connection test")

    # === ERROR MAPPING === #

    def _map_error(self, exc, response):
        """Translate an SDK exception into a :class:`MollieError`.

        :param exc: The SDK exception.
        :param response: The last HTTP response seen, if any.
        :rtype: MollieError
        """
        status = getattr(exc, "status", None)
        if status is None and response is not None:
            status = response.status_code
        detail = utils.redact_text(str(exc))
        retry_after = None
        if response is not None:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))

        if isinstance(exc, sdk_error.RequestSetupError):
            return MollieError(
                self.env._(
                    "The Mollie request could not be prepared: %(detail)s",
                    detail=detail,
                ),
                kind="configuration",
            )
        if isinstance(exc, sdk_error.RequestError):
            return MollieError(
                self.env._(
                    "Mollie could not be reached (%(detail)s). Check the server's "
                    "internet access and try again later.",
                    detail=_network_reason(exc),
                ),
                kind="unreachable",
            )
        if status == 401:
            return MollieError(
                self.env._(
                    "Mollie refused the API key. Check that it was copied whole "
                    "from the Mollie dashboard and has not been revoked."
                ),
                kind="authentication",
                status=status,
            )
        if status == 404:
            return MollieError(
                self.env._(
                    "Mollie does not know this object: %(detail)s", detail=detail
                ),
                kind="not_found",
                status=status,
            )
        if status in (400, 422):
            field = getattr(exc, "field", None)
            message = (
                self.env._(
                    "Mollie rejected %(field)s: %(detail)s", field=field, detail=detail
                )
                if field
                else self.env._(
                    "Mollie rejected the request: %(detail)s", detail=detail
                )
            )
            return MollieError(message, kind="invalid", status=status, field=field)
        if status == 409:
            return MollieError(
                self.env._("Mollie is still processing the same request; try again."),
                kind="conflict",
                status=status,
            )
        if status == 429:
            return MollieError(
                self.env._(
                    "Mollie is rate limiting this account; try again in a moment."
                ),
                kind="rate_limited",
                status=status,
                retry_after=retry_after,
            )
        if status is not None and status >= 500:
            return MollieError(
                self.env._(
                    "Mollie had an internal error (HTTP %(status)s); try again later.",
                    status=status,
                ),
                kind="server",
                status=status,
                retry_after=retry_after,
            )
        return MollieError(
            self.env._(
                "Mollie returned an unexpected answer: %(detail)s", detail=detail
            ),
            kind="invalid",
            status=status,
        )


def _parse_retry_after(value):
    """Seconds from a Retry-After header given in seconds; None otherwise."""
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None


def _network_reason(exc):
    text = str(exc).lower()
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "resolve" in text:
        return "host not found"
    return "network error"
