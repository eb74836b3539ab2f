"""Tests of the Mollie API simulator, driven through the official Python SDK.

They need no database: the classes derive from ``odoo.tests.BaseCase``. Run them
with the tag ``crm_mollie_simulator``.
"""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from mollie.api.client import Client
from mollie.api.error import (
    BadRequestError,
    NotFoundError,
    RequestError,
    ResponseError,
    ResponseHandlingError,
    UnauthorizedError,
    UnprocessableEntityError,
)

from odoo.tests import BaseCase, tagged
from odoo.tests import common as odoo_common

from .mollie_simulator import WEBHOOK_SCHEDULE_MINUTES, MollieSimulator, SimulatorError

TEST_KEY = "test_simulatorkey00000000000000000"
LIVE_KEY = "live_simulatorkey00000000000000000"
TOKEN = "access_simulatortoken000000000000000"
SCALE = 0.00001  # Mollie's 26 h webhook schedule in about 0.94 s


class _Receiver:
    """A tiny webhook receiver answering the statuses it is told to."""

    def __init__(self, statuses=(200,), location=None):
        self.calls = []
        self.statuses = list(statuses)
        self.location = location
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                receiver.calls.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                statuses = receiver.statuses
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mollie/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SimulatorCase(BaseCase):
    """Starts a simulator with a test key, a live key and an org token."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test patch of requests raises a TypeError on the SDK's
        # (connect, read) timeout tuple and stretches short timeouts to 10 s;
        # the simulator is on loopback, so send its requests untouched.
        if urlsplit(r.url).hostname == "127.0.0.1":
            return odoo_common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        self.sim = MollieSimulator(webhook_time_scale=SCALE).start()
        self.addCleanup(self.sim.stop)
        self.profile_id = self.sim.add_api_key(TEST_KEY, profile_name="Demo shop")
        self.sim.add_api_key(LIVE_KEY, profile_name="Demo shop")
        self.organization_id = self.sim.add_access_token(TOKEN, "Demo BV")
        self.client = self.make_client(TEST_KEY)

    def make_client(self, key, timeout=(2, 5)):
        client = Client(timeout=timeout)
        client.set_api_endpoint(self.sim.url)
        if key.startswith("access_"):
            client.set_access_token(key)
        else:
            client.set_api_key(key)
        return client

    def make_receiver(self, statuses=(200,), location=None):
        receiver = _Receiver(statuses, location)
        self.addCleanup(receiver.stop)
        return receiver

    def create_payment(self, value="10.00", client=None, **extra):
        data = {
            "amount": {"currency": "EUR", "value": value},
            "description": "Order S00042",
            "redirectUrl": "https://shop.example.com/return",
            **extra,
        }
        return (client or self.client).payments.create(data)

    def paid_payment(self, value="10.00", **extra):
        payment = self.create_payment(value, **extra)
        self.sim.set_payment_status(payment.id, "paid")
        return self.client.payments.get(payment.id)

    def control(self, method, path, body=None):
        """Call a /_sim route with urllib; return (status, decoded JSON)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.sim.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


@tagged("post_install", "-at_install", "crm_mollie_simulator")
class TestSimulatorPayments(SimulatorCase):
    def test_sdk_creates_gets_and_pages_through_payments_with_a_from_cursor(self):
        created = [self.create_payment(f"{n + 1}.00").id for n in range(260)]
        payment = self.client.payments.get(created[0])
        self.assertEqual(payment.status, "open")
        self.assertEqual(payment.amount, {"currency": "EUR", "value": "1.00"})
        self.assertEqual(payment.mode, "test")
        self.assertTrue(payment.created_at.endswith("+00:00"))
        self.assertTrue(payment.checkout_url.startswith(self.sim.url + "/checkout/"))
        self.assertRegex(payment.id, r"^tr_[A-Za-z0-9]{10}$")

        first = self.client.payments.list(limit=250)
        self.assertEqual(first.count, 250)
        self.assertEqual(first[0].id, created[-1], "newest first, like Mollie")
        self.assertFalse(first.has_previous())
        self.assertTrue(first.has_next())
        self.assertIn(f"from={created[9]}", first["_links"]["next"]["href"])
        second = first.get_next()
        self.assertEqual([p.id for p in second], created[9::-1])
        self.assertFalse(second.has_next())
        self.assertTrue(second.has_previous())
        seen = [p.id for p in first] + [p.id for p in second]
        self.assertEqual(seen, created[::-1])

        page = self.client.payments.list(**{"from": created[100], "limit": 3})
        self.assertEqual([p.id for p in page], created[100:97:-1])
        with self.assertRaises(BadRequestError) as raised:
            self.client.payments.list(limit=251)
        self.assertEqual(raised.exception.field, "limit")

    def test_payment_driven_to_paid_calls_the_webhook_with_its_id(self):
        receiver = self.make_receiver()
        payment = self.create_payment(webhookUrl=receiver.url + "?ref=S00042")
        self.sim.set_payment_status(payment.id, "paid", method="creditcard")
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual(len(receiver.calls), 1)
        call = receiver.calls[0]
        self.assertEqual(call["path"], "/mollie/webhook?ref=S00042")
        self.assertEqual(parse_qs(call["body"]), {"id": [payment.id]})
        self.assertEqual(
            call["headers"]["Content-Type"], "application/x-www-form-urlencoded"
        )
        self.assertTrue(call["headers"]["User-Agent"].startswith("Mollie.nl"))
        paid = self.client.payments.get(payment.id)
        self.assertTrue(paid.is_paid())
        self.assertEqual(paid.method, "creditcard")
        self.assertEqual(paid.details["cardLabel"], "Mastercard")
        self.assertEqual(len(paid.details["cardNumber"]), 4)
        self.assertEqual(paid.amount_remaining, {"currency": "EUR", "value": "10.00"})
        self.assertNotIn("amountChargedBack", paid)
        self.assertNotIn("checkout", paid["_links"])

    def test_paid_and_final_statuses_never_change_again(self):
        payment = self.create_payment()
        self.sim.set_payment_status(payment.id, "pending")
        self.sim.set_payment_status(payment.id, "paid", method="ideal")
        paid = self.client.payments.get(payment.id)
        self.assertEqual(paid.status, "paid")
        self.assertTrue(paid.details["consumerAccount"].startswith("NL"))
        self.assertEqual(paid.details["consumerBic"], "ABNANL2A")
        for status in ("failed", "canceled", "open", "paid"):
            with self.assertRaises(SimulatorError) as raised:
                self.sim.set_payment_status(payment.id, status)
            self.assertEqual(raised.exception.status, 422)

        failed = self.create_payment(method="creditcard")
        self.sim.set_payment_status(failed.id, "failed")
        failed = self.client.payments.get(failed.id)
        self.assertEqual(failed.details["failureReason"], "insufficient_funds")
        self.assertTrue(failed.details["failureMessage"])
        self.assertIsNotNone(failed.failed_at)
        self.assertIsNone(failed.is_cancelable)
        with self.assertRaises(SimulatorError):
            self.sim.set_payment_status(failed.id, "paid")

        expired = self.create_payment()
        self.sim.set_payment_status(expired.id, "expired")
        self.assertIsNotNone(self.client.payments.get(expired.id).expired_at)

    def test_cancel_only_works_on_a_cancelable_payment(self):
        cancelable = self.create_payment(method="banktransfer")
        self.assertTrue(cancelable.is_cancelable)
        canceled = self.client.payments.delete(cancelable.id)
        self.assertEqual(canceled.status, "canceled")
        self.assertIsNotNone(canceled.canceled_at)
        ideal = self.create_payment(method="ideal")
        self.assertFalse(ideal.is_cancelable)
        with self.assertRaises(UnprocessableEntityError):
            self.client.payments.delete(ideal.id)
        with self.assertRaises(UnprocessableEntityError):
            self.client.payments.delete(cancelable.id)

    def test_update_changes_an_open_payment_only(self):
        payment = self.create_payment(metadata={"order_id": 1})
        updated = self.client.payments.update(
            payment.id, {"description": "Order S00043", "metadata": {"order_id": 2}}
        )
        self.assertEqual(updated.description, "Order S00043")
        self.assertEqual(updated.metadata, {"order_id": 2})
        self.sim.set_payment_status(payment.id, "paid")
        with self.assertRaises(UnprocessableEntityError):
            self.client.payments.update(payment.id, {"description": "late"})

    def test_amounts_must_be_strings_with_the_currency_decimals(self):
        cases = [
            ({"currency": "EUR", "value": "10"}, "amount.value"),
            ({"currency": "EUR", "value": 10.0}, "amount.value"),
            ({"currency": "JPY", "value": "1000.00"}, "amount.value"),
            ({"currency": "QQQ", "value": "1.00"}, "amount.currency"),
            (None, "amount"),
        ]
        for amount, field in cases:
            with self.subTest(amount=amount):
                data = {"description": "x", "redirectUrl": "https://e.com/r"}
                if amount is not None:
                    data["amount"] = amount
                with self.assertRaises(UnprocessableEntityError) as raised:
                    self.client.payments.create(data)
                self.assertEqual(raised.exception.field, field)
        yen = self.client.payments.create(
            {
                "amount": {"currency": "JPY", "value": "1000"},
                "description": "x",
                "redirectUrl": "https://e.com/r",
            }
        )
        self.assertEqual(yen.amount["value"], "1000")
        with self.assertRaises(UnprocessableEntityError) as raised:
            self.client.payments.create(
                {"amount": {"currency": "EUR", "value": "1.00"}, "redirectUrl": "x"}
            )
        self.assertEqual(raised.exception.field, "description")

    def test_error_bodies_are_shaped_like_mollie_errors(self):
        request = urllib.request.Request(
            self.sim.url + "/v2/payments",
            data=b'{"amount": {"currency": "EUR", "value": "1"}, "description": "x"}',
            method="POST",
            headers={
                "Authorization": f"Bearer {TEST_KEY}",
                "Content-Type": "application/json",
            },
        )
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=5)
        error = raised.exception
        self.assertEqual(error.code, 422)
        self.assertEqual(error.headers["Content-Type"], "application/hal+json")
        body = json.loads(error.read())
        self.assertEqual(body["status"], 422)
        self.assertEqual(body["title"], "Unprocessable Entity")
        self.assertEqual(body["field"], "amount.value")
        self.assertTrue(body["detail"])
        self.assertEqual(
            body["_links"]["documentation"],
            {
                "href": "https://docs.mollie.com/overview/handling-errors",
                "type": "text/html",
            },
        )

    def test_unknown_key_is_unauthorized_and_unknown_ids_are_not_found(self):
        stranger = self.make_client("test_unknownkey000000000000000000")
        with self.assertRaises(UnauthorizedError) as raised:
            stranger.payments.list()
        self.assertEqual(raised.exception.status, 401)
        with self.assertRaises(NotFoundError):
            self.client.payments.get("tr_doesnotexi")
        payment = self.create_payment()
        with self.assertRaises(NotFoundError):
            self.make_client(LIVE_KEY).payments.get(payment.id)
        self.assertEqual(self.make_client(LIVE_KEY).payments.list().count, 0)

    def test_customers_are_created_read_updated_listed_and_deleted(self):
        customer = self.client.customers.create(
            {"name": "Ada", "email": "ada@example.com", "locale": "nl_NL"}
        )
        self.assertRegex(customer.id, r"^cst_")
        self.assertEqual(
            self.client.customers.get(customer.id).email, "ada@example.com"
        )
        updated = self.client.customers.update(
            customer.id, {"name": "Ada L.", "metadata": {"partner_id": 7}}
        )
        self.assertEqual(
            (updated.name, updated.metadata), ("Ada L.", {"partner_id": 7})
        )
        payment = customer.payments.create(
            {
                "amount": {"currency": "EUR", "value": "5.00"},
                "description": "First",
                "redirectUrl": "https://e.com/r",
                "sequenceType": "first",
            }
        )
        self.assertEqual(payment.customer_id, customer.id)
        self.assertEqual([p.id for p in customer.payments.list()], [payment.id])
        self.assertEqual([c.id for c in self.client.customers.list()], [customer.id])
        self.assertEqual(self.client.customers.delete(customer.id), {})
        with self.assertRaises(ResponseError) as raised:
            self.client.customers.get(customer.id)
        self.assertEqual(raised.exception.status, 410)
        self.assertEqual(self.client.customers.list().count, 0)

    def test_methods_list_filters_on_amount_and_currency(self):
        methods = self.client.methods.list()
        self.assertEqual(
            {m.id for m in methods},
            {"ideal", "creditcard", "bancontact", "banktransfer", "paypal"},
        )
        ideal = next(m for m in methods if m.id == "ideal")
        self.assertEqual(ideal["resource"], "method")
        self.assertEqual(ideal["status"], "activated")
        self.assertIn("svg", ideal["image"])
        dollars = self.client.methods.list(amount={"value": "20.00", "currency": "USD"})
        self.assertEqual({m.id for m in dollars}, {"creditcard", "paypal"})


@tagged("post_install", "-at_install", "crm_mollie_simulator")
class TestSimulatorRefundsAndChargebacks(SimulatorCase):
    def test_refund_above_amount_remaining_raises_unprocessable_entity(self):
        payment = self.paid_payment("10.00")
        with self.assertRaises(UnprocessableEntityError) as raised:
            payment.refunds.create({"amount": {"currency": "EUR", "value": "10.01"}})
        self.assertEqual(raised.exception.field, "amount.value")
        self.assertIn("cannot be refunded", str(raised.exception))
        open_payment = self.create_payment()
        with self.assertRaises(UnprocessableEntityError):
            open_payment.refunds.create(
                {"amount": {"currency": "EUR", "value": "1.00"}}
            )

    def test_partial_refunds_update_refunded_and_remaining_amounts(self):
        receiver = self.make_receiver()
        payment = self.paid_payment("10.00", webhookUrl=receiver.url)
        self.assertTrue(self.sim.wait_for_webhooks(5))
        first = payment.refunds.create(
            {
                "amount": {"currency": "EUR", "value": "3.00"},
                "description": "Credit note",
                "metadata": {"move_id": 5},
            }
        )
        self.assertEqual((first.status, first.payment_id), ("pending", payment.id))
        self.assertRegex(first.id, r"^re_")
        self.assertEqual(first.settlement_amount["value"], "-3.00")
        second = payment.refunds.create(
            {"amount": {"currency": "EUR", "value": "2.50"}}
        )
        payment = self.client.payments.get(payment.id)
        self.assertEqual(payment.amount_refunded["value"], "5.50")
        self.assertEqual(payment.amount_remaining["value"], "4.50")
        self.assertTrue(payment.has_refunds())
        self.assertEqual(payment.status, "paid", "refunds leave the status paid")
        self.assertEqual({r.id for r in payment.refunds.list()}, {first.id, second.id})
        self.assertEqual(payment.refunds.get(first.id).metadata, {"move_id": 5})
        self.assertEqual(len(self.sim.webhook_log), 1, "API refunds: no webhook yet")

        self.sim.set_refund_status(second.id, "failed")
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual(parse_qs(receiver.calls[-1]["body"])["id"], [payment.id])
        payment = self.client.payments.get(payment.id)
        self.assertEqual(payment.amount_remaining["value"], "7.00")
        self.assertEqual(payment.refunds.delete(first.id), {})
        payment = self.client.payments.get(payment.id)
        self.assertEqual(payment.amount_refunded["value"], "0.00")
        with self.assertRaises(SimulatorError):
            self.sim.set_refund_status(first.id, "refunded")
        self.assertEqual(self.client.refunds.list().count, 2)

    def test_dashboard_refund_calls_the_webhook_and_walks_its_statuses(self):
        receiver = self.make_receiver()
        payment = self.paid_payment("20.00", webhookUrl=receiver.url)
        refund = self.sim.create_refund(payment.id, "20.00")
        for status in ("processing", "refunded"):
            self.sim.set_refund_status(refund["id"], status)
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual(len(receiver.calls), 4)  # paid, created, processing, done
        self.assertEqual(payment.refunds.get(refund["id"]).status, "refunded")
        self.assertEqual(
            self.client.payments.get(payment.id).amount_remaining["value"], "0.00"
        )

    def test_chargeback_and_its_reversal_update_the_payment_amounts(self):
        receiver = self.make_receiver()
        payment = self.paid_payment("10.00", webhookUrl=receiver.url)
        payment.refunds.create({"amount": {"currency": "EUR", "value": "2.00"}})
        chargeback = self.sim.create_chargeback(payment.id, "8.00", reason_code="MD06")
        payment = self.client.payments.get(payment.id)
        self.assertEqual(payment.amount_chargedback["value"], "8.00")
        self.assertEqual(payment.amount_remaining["value"], "0.00")
        self.assertTrue(payment.has_chargebacks())
        fetched = payment.chargebacks.get(chargeback["id"])
        self.assertEqual(fetched.reason["code"], "MD06")
        self.assertEqual(fetched.settlement_amount["value"], "-8.00")
        self.assertIsNone(fetched.reversed_at)
        self.assertEqual(fetched.payment_id, payment.id)

        self.sim.reverse_chargeback(chargeback["id"])
        payment = self.client.payments.get(payment.id)
        self.assertEqual(payment.amount_remaining["value"], "8.00")
        self.assertNotIn("amountChargedBack", payment)
        self.assertIsNotNone(payment.chargebacks.get(chargeback["id"]).reversed_at)
        self.assertEqual(self.client.chargebacks.list().count, 1)
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual(len(receiver.calls), 3)  # paid, chargeback, reversal
        with self.assertRaises(SimulatorError):
            self.sim.reverse_chargeback(chargeback["id"])


@tagged("post_install", "-at_install", "crm_mollie_simulator")
class TestSimulatorReliability(SimulatorCase):
    def test_idempotent_replay_returns_the_same_payment_and_creates_one(self):
        data = {
            "amount": {"currency": "EUR", "value": "10.00"},
            "description": "Order S00042",
            "redirectUrl": "https://shop.example.com/return",
        }
        first = self.client.payments.create(data, idempotency_key="order-42-pay")
        with self.assertLogs(level="WARNING") as logs:
            again = self.client.payments.create(data, idempotency_key="order-42-pay")
        self.assertEqual(again.id, first.id)
        self.assertIn("Idempotent-Replayed", logs.output[0])
        self.assertEqual(self.client.payments.list().count, 1)
        posts = [r for r in self.sim.requests if r["method"] == "POST"]
        self.assertEqual(
            [r["headers"]["Idempotency-Key"] for r in posts], ["order-42-pay"] * 2
        )
        self.assertEqual([r["status"] for r in posts], [201, 201])
        raw = self.client.perform_http_call(
            "POST", "payments", data, idempotency_key="order-42-pay"
        )
        self.assertEqual(raw.headers["Idempotent-Replayed"], "true")
        self.assertEqual(raw.json()["id"], first.id)

        with self.assertRaises(BadRequestError) as raised:
            self.client.payments.create(
                dict(data, description="Other"), idempotency_key="order-42-pay"
            )
        self.assertEqual(raised.exception.status, 400)
        self.sim.expire_idempotency_keys()
        later = self.client.payments.create(data, idempotency_key="order-42-pay")
        self.assertNotEqual(later.id, first.id)

    def test_rate_limit_reaches_the_caller_and_retry_after_is_in_the_raw_response(self):
        payment = self.create_payment()
        self.sim.inject_fault(status=429, path_pattern=r"^/v2/payments/", retry_after=7)
        with self.assertRaises(ResponseError) as raised:
            self.client.payments.get(payment.id)
        self.assertEqual(raised.exception.status, 429)
        self.assertNotIsInstance(raised.exception, UnprocessableEntityError)
        self.assertEqual(self.sim.requests[-1]["status"], 429)
        # The SDK error does not keep the HTTP response; the raw call does.
        self.sim.inject_fault(status=429, path_pattern=r"^/v2/payments/", retry_after=7)
        response = self.client.perform_http_call("GET", f"payments/{payment.id}")
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.headers["Retry-After"], "7")
        self.assertEqual(response.json()["title"], "Too Many Requests")
        self.assertEqual(self.client.payments.get(payment.id).id, payment.id)

    def test_server_errors_fail_the_given_number_of_calls_then_recover(self):
        self.sim.inject_fault(status=500, path_pattern="/v2/payments$", times=2)
        for _attempt in range(2):
            with self.assertRaises(ResponseError) as raised:
                self.create_payment()
            self.assertEqual(raised.exception.status, 500)
        self.assertEqual(self.create_payment().status, "open")
        self.assertEqual(self.client.payments.list().count, 1)
        self.sim.inject_fault(status=503, method="GET")
        with self.assertRaises(ResponseError) as raised:
            self.client.payments.list()
        self.assertEqual(raised.exception.status, 503)
        self.sim.inject_fault(status=502, raw_body="<html>Bad gateway</html>")
        with self.assertRaises(ResponseHandlingError):
            self.client.payments.list()
        self.sim.inject_fault(status=None, drop=True)
        with self.assertRaises(RequestError):
            self.client.payments.list()
        self.sim.inject_fault(status=500, times=None)
        self.sim.clear_faults()
        self.assertEqual(self.client.payments.list().count, 1)

    def test_slow_answer_triggers_the_sdk_read_timeout_after_the_work_is_done(self):
        slow_client = self.make_client(TEST_KEY, timeout=(1, 0.3))
        self.sim.inject_fault(
            status=None, delay=1.5, path_pattern="/v2/payments$", method="POST"
        )
        started = time.monotonic()
        with self.assertRaises(RequestError) as raised:
            self.create_payment(client=slow_client)
        self.assertLess(time.monotonic() - started, 1.2)
        self.assertIn("timed out", str(raised.exception).lower())
        # Mollie may have done the work: list before retrying.
        self.assertEqual(self.client.payments.list().count, 1)
        # A 2xx "fault" with a delay is a slow but normal answer.
        self.sim.inject_fault(status=200, delay=0.3, method="GET")
        started = time.monotonic()
        self.assertEqual(self.client.payments.list().count, 1)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertEqual(self.sim.requests[-1]["status"], 200)

    def test_refused_connections_raise_request_error_until_accepted_again(self):
        port = self.sim.port
        self.sim.refuse_connections()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        with self.assertRaises(RequestError) as raised:
            self.client.payments.list()
        self.assertIn("Unable to communicate with Mollie", str(raised.exception))
        self.sim.accept_connections()
        self.assertEqual(self.sim.port, port)
        self.assertEqual(self.client.payments.list().count, 0)

    def test_requests_are_recorded_with_their_headers(self):
        self.create_payment()
        record = self.sim.requests[-1]
        self.assertEqual((record["method"], record["path"]), ("POST", "/v2/payments"))
        self.assertEqual(record["status"], 201)
        self.assertEqual(record["headers"]["Authorization"], f"Bearer {TEST_KEY}")
        self.assertTrue(record["headers"]["User-Agent"].startswith("Mollie/4.0.0"))
        self.assertRegex(record["headers"]["Idempotency-Key"], r"^[0-9a-f-]{36}$")
        self.assertEqual(json.loads(record["body"])["description"], "Order S00042")


@tagged("post_install", "-at_install", "crm_mollie_simulator")
class TestSimulatorWebhooks(SimulatorCase):
    def test_failing_webhook_is_retried_on_the_compressed_mollie_schedule(self):
        receiver = self.make_receiver(statuses=(500,))
        payment = self.create_payment(webhookUrl=receiver.url)
        self.sim.set_payment_status(payment.id, "failed")
        self.assertTrue(self.sim.wait_for_webhooks(10))
        log = self.sim.webhook_log
        self.assertEqual([e["attempt"] for e in log], list(range(1, 11)))
        self.assertTrue(all(e["status"] == 500 and not e["ok"] for e in log))
        self.assertEqual(len(receiver.calls), 10)
        for entry, minutes in zip(log, WEBHOOK_SCHEDULE_MINUTES, strict=True):
            self.assertGreaterEqual(
                entry["at"] - log[0]["at"], minutes * 60 * SCALE - 0.01
            )
        self.assertGreater(log[9]["at"] - log[8]["at"], log[1]["at"] - log[0]["at"])

    def test_webhook_stops_retrying_after_a_successful_answer(self):
        receiver = self.make_receiver(statuses=(500, 503, 200))
        payment = self.create_payment(webhookUrl=receiver.url)
        self.sim.set_payment_status(payment.id, "paid")
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual([e["status"] for e in self.sim.webhook_log], [500, 503, 200])
        time.sleep(0.05)
        self.assertEqual(len(receiver.calls), 3)

    def test_a_redirect_counts_as_a_failed_delivery_and_is_not_followed(self):
        receiver = self.make_receiver(statuses=(302,), location="/elsewhere")
        payment = self.create_payment(webhookUrl=receiver.url)
        self.sim.deliver_webhook(payment.id, retry=False)
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual(len(self.sim.webhook_log), 1)
        self.assertEqual(self.sim.webhook_log[0]["status"], 302)
        self.assertFalse(self.sim.webhook_log[0]["ok"])
        self.assertEqual([c["path"] for c in receiver.calls], ["/mollie/webhook"])

    def test_unreachable_webhook_is_logged_with_its_error(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{closed_port}/hook"
        self.sim.deliver_webhook("tr_whatever00", url=url, retry=False)
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertIn("ConnectionRefused", self.sim.webhook_log[0]["error"])

    def test_stop_ends_pending_deliveries_promptly(self):
        receiver = self.make_receiver(statuses=(500,))
        self.sim.webhook_time_scale = 0.01  # next attempt 0.6 s away
        self.sim.deliver_webhook("tr_pending0000", url=receiver.url)
        deadline = time.monotonic() + 5
        while not self.sim.webhook_log and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        self.sim.stop()
        self.assertLess(time.monotonic() - started, 2)
        self.assertTrue(self.sim.wait_for_webhooks(1))
        self.assertEqual(len(receiver.calls), 1)

    def test_signed_event_signature_verifies_with_hmac(self):
        receiver = self.make_receiver()
        link = self.client.payment_links.create(
            {"description": "Invoice", "amount": {"currency": "EUR", "value": "5.00"}}
        )
        status = self.sim.send_signed_event(
            receiver.url, "whsec_demo", "payment-link.paid", link.id
        )
        self.assertEqual(status, 200)
        call = receiver.calls[0]
        raw = call["body"].encode()
        expected = hmac.new(b"whsec_demo", raw, hashlib.sha256).hexdigest()
        self.assertEqual(call["headers"]["X-Mollie-Signature"], f"sha256={expected}")
        event = json.loads(raw)
        self.assertEqual(event["resource"], "event")
        self.assertRegex(event["id"], r"^whe_")
        self.assertEqual(
            (event["type"], event["entityId"]), ("payment-link.paid", link.id)
        )
        self.assertEqual(event["_embedded"]["entity"]["id"], link.id)
        self.assertTrue(event["createdAt"].endswith("+00:00"))
        wrong = hmac.new(b"other", raw, hashlib.sha256).hexdigest()
        self.assertNotEqual(call["headers"]["X-Mollie-Signature"], f"sha256={wrong}")

    def test_payment_link_paid_calls_its_webhook_with_the_payment_id(self):
        receiver = self.make_receiver()
        link = self.client.payment_links.create(
            {
                "description": "Invoice INV/2026/0001",
                "amount": {"currency": "EUR", "value": "24.95"},
                "redirectUrl": "https://shop.example.com/thanks",
                "webhookUrl": receiver.url,
                "reusable": False,
            }
        )
        self.assertRegex(link.id, r"^pl_")
        self.assertTrue(link.payment_link.startswith(self.sim.url + "/pay/"))
        self.assertFalse(link.is_paid())
        payment = self.sim.pay_payment_link(link.id, method="bancontact")
        self.assertTrue(self.sim.wait_for_webhooks(5))
        self.assertEqual(parse_qs(receiver.calls[0]["body"]), {"id": [payment["id"]]})
        self.assertRegex(payment["id"], r"^tr_")
        fetched = self.client.payments.get(payment["id"])
        self.assertEqual(fetched["paymentLinkId"], link.id)
        self.assertEqual((fetched.status, fetched.method), ("paid", "bancontact"))
        self.assertTrue(self.client.payment_links.get(link.id).is_paid())
        self.assertEqual([p.id for p in link.payments.list()], [payment["id"]])
        with self.assertRaises(SimulatorError):
            self.sim.pay_payment_link(link.id)

        # SDK 4.0.0 has no update/delete for payment links: use the raw call.
        other = self.client.payment_links.create({"description": "Spare"})
        archived = self.client.payment_links.perform_api_call(
            "PATCH", f"payment-links/{other.id}", {"archived": True}
        )
        self.assertTrue(archived["archived"])
        with self.assertRaises(SimulatorError):
            self.sim.pay_payment_link(other.id, amount="5.00")


@tagged("post_install", "-at_install", "crm_mollie_simulator")
class TestSimulatorAccounts(SimulatorCase):
    def test_profiles_me_and_organizations_me_answer_the_right_credentials(self):
        profile = self.client.profiles.get("me")
        self.assertEqual((profile.id, profile.name), (self.profile_id, "Demo shop"))
        self.assertEqual((profile.mode, profile.status), ("test", "verified"))
        self.assertTrue(profile.is_verified())
        self.assertEqual(self.make_client(LIVE_KEY).profiles.get("me").id, profile.id)
        organization = self.make_client(TOKEN).organizations.get("me")
        self.assertEqual(
            (organization.id, organization.name), (self.organization_id, "Demo BV")
        )
        with self.assertRaises(ResponseError) as raised:
            self.client.organizations.get("me")
        self.assertEqual(raised.exception.status, 403)
        with self.assertRaises(ResponseError):
            self.make_client(TOKEN).profiles.get("me")

    def test_access_token_sees_test_data_only_with_testmode(self):
        payment = self.create_payment()
        org = self.make_client(TOKEN)
        self.assertEqual(org.payments.get(payment.id, testmode="true").id, payment.id)
        with self.assertRaises(NotFoundError):
            org.payments.get(payment.id)
        with self.assertRaises(UnprocessableEntityError) as raised:
            self.create_payment(client=org)
        self.assertEqual(raised.exception.field, "profileId")
        org.set_testmode(True)
        created = self.create_payment(client=org, profileId=self.profile_id)
        self.assertEqual(created.mode, "test")
        self.assertEqual(self.client.payments.list().count, 2)

    def test_balance_transactions_and_settlement_follow_a_paid_payment(self):
        payment = self.paid_payment("100.00")
        payment.refunds.create({"amount": {"currency": "EUR", "value": "30.00"}})
        org = self.make_client(TOKEN)
        org.set_testmode(True)
        balance = org.balances.get("primary")
        self.assertEqual(balance.currency, "EUR")
        transactions = list(balance.get_transactions())
        self.assertEqual([t.type for t in transactions], ["refund", "payment"])
        paid = transactions[1]
        self.assertEqual(paid.context["paymentId"], payment.id)
        self.assertEqual(paid.initial_amount["value"], "100.00")
        fee = Decimal(paid.deductions["value"])
        self.assertLess(fee, 0)
        self.assertEqual(Decimal(paid.result_amount["value"]), Decimal("100.00") + fee)
        self.assertEqual(transactions[0].result_amount["value"], "-30.00")
        self.assertEqual(
            Decimal(balance.available_amount["value"]), Decimal("70.00") + fee
        )
        self.assertEqual(self.make_client(TOKEN).balances.list().count, 1)
        with self.assertRaises(ResponseError):
            self.client.balances.get("primary")

        settlements = self.sim.settle(mode="test")
        self.assertEqual(len(settlements), 1)
        settlement = org.settlements.get(settlements[0]["id"])
        self.assertEqual(Decimal(settlement.amount["value"]), Decimal("70.00") + fee)
        self.assertEqual([p.id for p in settlement.payments.list()], [payment.id])
        self.assertEqual(
            self.client.payments.get(payment.id).settlement_id, settlement.id
        )
        self.assertEqual(org.balances.get("primary").available_amount["value"], "0.00")
        self.assertEqual(self.sim.settle(mode="test"), [])


@tagged("post_install", "-at_install", "crm_mollie_simulator")
class TestSimulatorControl(SimulatorCase):
    def test_control_routes_drive_the_simulator_over_http(self):
        status, added = self.control("POST", "/_sim/keys", {"api_key": "test_viahttp1"})
        self.assertEqual(status, 201)
        self.assertRegex(added["profileId"], r"^pfl_")
        http_client = self.make_client("test_viahttp1")
        payment = self.create_payment(client=http_client)

        status, paid = self.control(
            "POST",
            f"/_sim/payments/{payment.id}/status",
            {"status": "paid", "method": "creditcard"},
        )
        self.assertEqual((status, paid["status"]), (200, "paid"))
        self.assertEqual(http_client.payments.get(payment.id).method, "creditcard")
        status, error = self.control(
            "POST", f"/_sim/payments/{payment.id}/status", {"status": "failed"}
        )
        self.assertEqual((status, error["status"]), (422, 422))
        self.assertEqual(error["title"], "Unprocessable Entity")

        status, refund = self.control(
            "POST", f"/_sim/payments/{payment.id}/refunds", {"amount": "4.00"}
        )
        self.assertEqual((status, refund["status"]), (201, "pending"))
        status, refund = self.control(
            "POST", f"/_sim/refunds/{refund['id']}/status", {"status": "refunded"}
        )
        self.assertEqual(refund["status"], "refunded")
        status, chargeback = self.control(
            "POST", f"/_sim/payments/{payment.id}/chargebacks", {"amount": "6.00"}
        )
        self.assertEqual((status, chargeback["amount"]["value"]), (201, "6.00"))
        status, reversed_ = self.control(
            "POST", f"/_sim/chargebacks/{chargeback['id']}/reverse"
        )
        self.assertIsNotNone(reversed_["reversedAt"])
        status, stored = self.control("GET", f"/_sim/objects/{payment.id}")
        self.assertEqual(stored["amountRemaining"]["value"], "6.00")

        status, _ = self.control(
            "POST", "/_sim/faults", {"status": 503, "path_pattern": "/v2/payments"}
        )
        self.assertEqual(status, 201)
        with self.assertRaises(ResponseError):
            http_client.payments.list()
        self.control("POST", "/_sim/faults", {"status": 500})
        self.assertEqual(self.control("DELETE", "/_sim/faults")[0], 200)
        self.assertEqual(http_client.payments.list().count, 1)

        link = http_client.payment_links.create(
            {"description": "Link", "amount": {"currency": "EUR", "value": "9.00"}}
        )
        status, linked = self.control("POST", f"/_sim/payment-links/{link.id}/pay", {})
        self.assertEqual((status, linked["paymentLinkId"]), (201, link.id))

        status, state = self.control("GET", "/_sim/state")
        self.assertEqual((status, state["payment"], state["refund"]), (200, 2, 1))
        status, settled = self.control("POST", "/_sim/settle", {"mode": "test"})
        self.assertEqual(len(settled["settlements"]), 1)
        status, requests = self.control("GET", "/_sim/requests")
        self.assertTrue(requests["requests"])
        self.assertEqual(self.control("POST", "/_sim/reset")[0], 200)
        self.assertEqual(self.control("GET", "/_sim/state")[1]["payment"], 0)
        self.assertEqual(http_client.payments.list().count, 0, "keys survive reset")
        self.assertEqual(self.control("GET", "/_sim/nothing")[0], 404)

    def test_test_checkout_page_pays_and_redirects(self):
        payment = self.create_payment()
        with urllib.request.urlopen(payment.checkout_url, timeout=5) as response:
            self.assertIn("Order S00042", response.read().decode())
        request = urllib.request.Request(
            payment.checkout_url, data=b"status=paid&method=paypal", method="POST"
        )
        opener = urllib.request.build_opener(_NoRedirect)
        with self.assertRaises(urllib.error.HTTPError) as raised:
            opener.open(request, timeout=5)
        self.assertEqual(raised.exception.code, 303)
        self.assertEqual(
            raised.exception.headers["Location"], "https://shop.example.com/return"
        )
        self.assertEqual(self.client.payments.get(payment.id).method, "paypal")

    def test_script_mode_prints_its_url_and_stops_on_sigterm(self):
        script = os.path.join(os.path.dirname(__file__), "mollie_simulator.py")
        process = subprocess.Popen(
            [sys.executable, script, "--port", "0", "--api-key", TEST_KEY],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        killer = threading.Timer(15, process.kill)
        killer.start()
        try:
            line = process.stdout.readline().strip()
            self.assertRegex(
                line, r"^Mollie simulator listening on http://127\.0\.0\.1:\d+$"
            )
            url = line.rsplit(" ", 1)[1]
            self.assertNotEqual(url, "http://127.0.0.1:0")
            client = Client(timeout=(2, 5))
            client.set_api_endpoint(url)
            client.set_api_key(TEST_KEY)
            self.assertEqual(client.profiles.get("me").name, "Simulated shop")
            process.terminate()
            self.assertEqual(process.wait(10), 0)
        finally:
            killer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait(5)
            process.stdout.close()
            process.stderr.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
