# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Webhook figures: crm_mollie against Odoo's own payment_mollie, same setup.

Run from the repository root with the project's Python::

    /var/tmp/crm_mollie/venv-*/bin/python tools/bench_webhooks.py [--help]

It starts what ``crm_mollie/tests/server_harness.py`` builds (a dedicated
database, a Mollie simulator, a 4-worker Odoo server on loopback) and
measures, for both integrations, on the same machine and scenario:

* acknowledgement latency of a webhook at a fixed rate (open loop: requests
  leave on schedule whatever the answers do, each from a thread pool; the
  latency counts from the scheduled moment, so queueing shows);
* valid webhooks answered per second at saturation (closed loop);
* the processing drain: N paid payments notified, then the time until each
  is booked (an ``account.payment`` reconciled with its invoice);
* end to end: from the status change at the simulator (which calls the
  webhook) to the invoice paid;
* database queries per webhook request (from Odoo's request log).

The two integrations split the work differently, and the figures must be
read with that in mind. crm_mollie stores the notification and answers; its
cron fetches the payment from Mollie and books it. payment_mollie fetches
the payment inside the webhook request and marks its transaction done; it
books (creates the ``account.payment``) only when the customer's browser
reaches the payment status page, or when its post-processing cron runs
(every 10 minutes). Its drain is therefore timed as webhooks (fetch and
done) plus one post-processing run, and its end-to-end figure is given to
"transaction done" and to "invoice paid" with the post-processing started
the moment the transaction is done (the best case: a browser that comes back
at once).

Every loop is bounded; only loopback addresses are used; the server and the
simulator are stopped in every path.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The harness is a plain module beside the tests; it imports no Odoo.
sys.path.insert(0, str(REPO_ROOT / "crm_mollie" / "tests"))
import server_harness  # noqa: E402

FAR_FUTURE = "2099-01-01 00:00:00"
WEBHOOK_CLIENTS = 8  # concurrent clients that post the drain's webhooks


def utc_now():
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="Odoo configuration (default: the project's)")
    parser.add_argument("--workers", type=int, default=4, help="HTTP workers")
    parser.add_argument("--rate", type=float, default=50, help="open-loop req/s")
    parser.add_argument("--rate-seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--drain", type=int, default=100, help="payments to drain")
    parser.add_argument("--drain-timeout", type=float, default=240)
    parser.add_argument("--e2e", type=int, default=30, help="end-to-end payments")
    parser.add_argument("--e2e-rate", type=float, default=1, help="status changes/s")
    parser.add_argument("--e2e-timeout", type=float, default=200)
    return parser.parse_args(argv)


# === LOAD GENERATORS === #


def open_loop(send, keys, rate, seconds, pool_size=128):
    """Send ``rate`` requests per second for ``seconds``, on schedule.

    :return: ``(latencies, statuses)``; a latency counts from the moment the
        request was due, so a saturated server shows as growing latency.
    """
    total = max(1, int(rate * seconds))
    latencies, statuses = [], Counter()
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def fire(index, due):
        try:
            status = send(keys[index % len(keys)])[0]
        except OSError as error:
            status = type(error).__name__
        latency = time.perf_counter() - due
        with lock:
            latencies.append(latency)
            statuses[status] += 1

    with ThreadPoolExecutor(pool_size) as pool:
        for index in range(total):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, index, due)
    return latencies, statuses


def closed_loop(send, keys, clients, seconds):
    """``clients`` threads sending back to back for ``seconds``.

    :return: ``(answers per second with status 200, statuses)``
    """
    statuses = Counter()
    lock = threading.Lock()
    started = time.perf_counter()
    stop_at = started + seconds

    def client(offset):
        index = offset
        while time.perf_counter() < stop_at:
            try:
                status = send(keys[index % len(keys)])[0]
            except OSError as error:
                status = type(error).__name__
            with lock:
                statuses[status] += 1
            index += clients

    threads = [
        threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - started
    return statuses[200] / elapsed, statuses


def send_all(send, keys, clients=WEBHOOK_CLIENTS):
    """Send each key once from ``clients`` threads; the statuses."""
    with ThreadPoolExecutor(clients) as pool:
        return Counter(status for status, _s in pool.map(send, keys))


# === THE TWO SIDES === #


class Side:
    """What differs between crm_mollie and payment_mollie in a scenario."""

    name = ""

    def __init__(self, harness):
        self.harness = harness
        self.results = {}

    def prepare(self, count, notify):
        """``count`` invoices, each with a Mollie payment; ``notify`` makes
        the simulator call this side's webhook when the status changes.

        :return: ``(invoices, keys)``; a key is what ``send`` takes.
        """
        raise NotImplementedError

    def send(self, key):
        raise NotImplementedError

    def payment_id(self, key):
        raise NotImplementedError


class Ours(Side):
    name = "crm_mollie"

    def prepare(self, count, notify):
        harness = self.harness
        invoices = harness.create_invoices([20.0 + i % 50 for i in range(count)])
        keys = [
            harness.create_mollie_payment(invoice, webhook_url=notify)
            for invoice in invoices
        ]
        return invoices, keys

    def send(self, key):
        return self.harness.post_webhook(key)

    def payment_id(self, key):
        return key


class Native(Side):
    name = "payment_mollie"

    def prepare(self, count, notify):
        harness = self.harness
        invoices = harness.create_invoices([20.0 + i % 50 for i in range(count)])
        payment_ids = [
            harness.create_mollie_payment(invoice, signed=False, webhook_url=False)
            for invoice in invoices
        ]
        transactions = harness.create_native_transactions(invoices, payment_ids)
        keys = [
            (reference, payment_id)
            for (_tx, reference), payment_id in zip(
                transactions, payment_ids, strict=True
            )
        ]
        if notify:
            # As payment_mollie does: its own webhook URL, naming the reference.
            for reference, payment_id in keys:
                harness.simulator_api(
                    "PATCH",
                    f"/v2/payments/{payment_id}",
                    {"webhookUrl": harness.native_webhook_url(reference)},
                )
        return invoices, keys

    def send(self, key):
        reference, payment_id = key
        return self.harness.post_native_webhook(reference, payment_id)

    def payment_id(self, key):
        return key[1]


# === SCENARIOS === #


def paid_count(harness, invoices):
    states = harness.payment_states([invoice["id"] for invoice in invoices])
    return sum(state in ("paid", "in_payment") for state in states.values())


def drain_ours(side, count, timeout):
    """Notify ``count`` paid payments with processing held back, then run
    the processor back to back until every invoice is paid."""
    harness = side.harness
    invoices, keys = side.prepare(count, notify=False)
    for key in keys:
        harness.set_paid(key)
    cron = harness.cron_id(server_harness.PROCESS_CRON)
    harness.set_cron(cron, {"active": False})
    started = time.perf_counter()
    statuses = send_all(side.send, keys)
    enqueue_seconds = time.perf_counter() - started
    # Only manual runs, back to back: the scheduled worker would run 10 s
    # chunks with up to a minute of sleep in between (see the notes).
    harness.set_cron(cron, {"active": True, "nextcall": FAR_FUTURE})
    started = time.perf_counter()
    deadline = started + timeout
    runs = 0
    while paid_count(harness, invoices) < count and time.perf_counter() < deadline:
        harness.run_cron(cron)
        runs += 1
    seconds = time.perf_counter() - started
    done = paid_count(harness, invoices)
    harness.set_cron(cron, {"nextcall": utc_now()})
    bookings = harness.bookings(keys)
    side.results.update(
        drain_webhooks_per_s=count / enqueue_seconds,
        drain_rate=done / seconds,
        drain_total_rate=done / (seconds + enqueue_seconds),
        drain_note=f"{done}/{count} paid in {seconds:.1f} s, {runs} manual runs, "
        f"webhooks {dict(statuses)}, duplicates {duplicates(bookings)}",
    )
    return keys


def drain_native(side, count, timeout):
    """Notify ``count`` paid payments (each webhook fetches and marks its
    transaction done), then time one post-processing run (the booking)."""
    harness = side.harness
    invoices, keys = side.prepare(count, notify=False)
    for key in keys:
        harness.set_paid(side.payment_id(key))
    cron = harness.cron_id(server_harness.NATIVE_POST_PROCESS_CRON)
    harness.set_cron(cron, {"nextcall": FAR_FUTURE})
    started = time.perf_counter()
    statuses = send_all(side.send, keys)
    webhook_seconds = time.perf_counter() - started
    started = time.perf_counter()
    deadline = started + timeout
    runs = 0
    while paid_count(harness, invoices) < count and time.perf_counter() < deadline:
        harness.run_cron(cron)
        runs += 1
    seconds = time.perf_counter() - started
    done = paid_count(harness, invoices)
    harness.set_cron(cron, {"nextcall": utc_now()})
    bookings = harness.bookings([side.payment_id(key) for key in keys])
    side.results.update(
        drain_webhooks_per_s=count / webhook_seconds,
        drain_rate=done / seconds,
        drain_total_rate=done / (seconds + webhook_seconds),
        drain_note=f"{done}/{count} paid in {seconds:.1f} s, {runs} cron runs, "
        f"webhooks {dict(statuses)}, duplicates {duplicates(bookings)}",
    )
    return keys


def duplicates(bookings):
    return sum(1 for count in bookings.values() if count != 1)


def latency_and_saturation(side, keys, args, hold_cron=None):
    """Re-notifications of booked payments: the cheapest valid webhook.

    With ``hold_cron`` (crm_mollie), the open loop runs once more with that
    cron switched off: the cost of acknowledging alone, without the
    processor re-fetching the reopened events on the same CPUs and rows.
    """
    harness = side.harness
    if hold_cron:
        harness.set_cron(hold_cron, {"active": False})
        latencies, _statuses = open_loop(side.send, keys, args.rate, args.rate_seconds)
        harness.set_cron(hold_cron, {"active": True})
        side.results.update(
            ack_held_p50=server_harness.percentile(latencies, 0.50) * 1000,
            ack_held_p99=server_harness.percentile(latencies, 0.99) * 1000,
        )
    latencies, statuses = open_loop(side.send, keys, args.rate, args.rate_seconds)
    side.results.update(
        ack_p50=server_harness.percentile(latencies, 0.50) * 1000,
        ack_p99=server_harness.percentile(latencies, 0.99) * 1000,
        ack_note=f"{len(latencies)} requests, statuses {dict(statuses)}",
    )
    if not hold_cron:  # nothing runs beside the native webhook
        side.results.update(
            ack_held_p50=side.results["ack_p50"], ack_held_p99=side.results["ack_p99"]
        )
    rate, statuses = closed_loop(side.send, keys, args.clients, args.saturation_seconds)
    side.results.update(saturation=rate, saturation_note=f"statuses {dict(statuses)}")


def end_to_end(side, count, rate, timeout, native_cron=None):
    """Change ``count`` payments to paid at ``rate`` per second; time each
    until its invoice is paid (and, for the native side, until its
    transaction is done).

    With ``native_cron``, a helper starts the post-processing run as soon as
    a transaction is done and unbooked: a browser that comes back at once.
    """
    harness = side.harness
    invoices, keys = side.prepare(count, notify=True)
    invoice_ids = [invoice["id"] for invoice in invoices]
    changed, paid_at, done_at = {}, {}, {}
    finished = threading.Event()

    def poller():
        deadline = time.perf_counter() + timeout + count / rate
        while time.perf_counter() < deadline and len(paid_at) < count:
            now = time.perf_counter()
            states = harness.payment_states(invoice_ids)
            for invoice_id, state in states.items():
                if state in ("paid", "in_payment") and invoice_id not in paid_at:
                    paid_at[invoice_id] = now
            if native_cron:
                rows = harness.sql(
                    "SELECT invoice.id FROM payment_transaction t"
                    " JOIN account_invoice_transaction_rel rel"
                    "   ON rel.transaction_id = t.id"
                    " JOIN account_move invoice ON invoice.id = rel.invoice_id"
                    " WHERE t.state = 'done' AND invoice.id = ANY(%s)",
                    [invoice_ids],
                )
                for (invoice_id,) in rows:
                    done_at.setdefault(invoice_id, now)
            time.sleep(0.02)
        finished.set()

    def post_processor():
        while not finished.is_set():
            if any(i not in paid_at for i in done_at):
                harness.run_cron(native_cron)
            else:
                time.sleep(0.02)

    threads = [threading.Thread(target=poller, daemon=True)]
    if native_cron:
        threads.append(threading.Thread(target=post_processor, daemon=True))
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    for index, (invoice, key) in enumerate(zip(invoices, keys, strict=True)):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        changed[invoice["id"]] = time.perf_counter()
        harness.set_paid(side.payment_id(key))
    for thread in threads:
        thread.join(timeout + count / rate + 60)
    to_paid = [paid_at[i] - changed[i] for i in paid_at]
    side.results.update(
        e2e_p50=server_harness.percentile(to_paid, 0.50),
        e2e_p95=server_harness.percentile(to_paid, 0.95),
        e2e_note=f"{len(to_paid)}/{count} paid within {timeout:.0f} s",
    )
    if native_cron:
        to_done = [done_at[i] - changed[i] for i in done_at]
        side.results.update(
            e2e_done_p50=server_harness.percentile(to_done, 0.50),
            e2e_done_p95=server_harness.percentile(to_done, 0.95),
        )


def queries_per_webhook(harness, path):
    """Medians of query count, SQL time and server time (ms) of the requests
    to ``path``, from the request lines Odoo logs, which end with
    ``<status> <size> <queries> <SQL s> <other s>``.
    """
    counts, sql_times, totals = [], [], []
    marker = f"POST {path}"
    with harness.logfile.open(errors="replace") as log:
        for line in log:
            if marker not in line or "werkzeug" not in line:
                continue
            fields = line.split()
            try:
                count, sql_time, other = int(fields[-3]), *map(float, fields[-2:])
            except (ValueError, IndexError):
                continue
            counts.append(count)
            sql_times.append(sql_time * 1000)
            totals.append((sql_time + other) * 1000)
    if not counts:
        return {}
    return {
        "queries": statistics.median(counts),
        "query_ms": statistics.median(sql_times),
        "server_ms": statistics.median(totals),
    }


def settle(harness):
    """Let our processor finish what is left in its inbox."""
    settled, _runs = harness.settle(timeout=120)
    if not settled:
        print("  (warning: crm_mollie events still pending after 120 s)")


# === REPORT === #

ROWS = (
    ("ack_p50", "Ack latency p50 @ rate, processing live (ms)", "{:.1f}"),
    ("ack_p99", "Ack latency p99 @ rate, processing live (ms)", "{:.1f}"),
    ("ack_held_p50", "Ack latency p50 @ rate, processing off (ms)", "{:.1f}"),
    ("ack_held_p99", "Ack latency p99 @ rate, processing off (ms)", "{:.1f}"),
    ("saturation", "Valid webhooks/s at saturation", "{:.0f}"),
    ("drain_webhooks_per_s", "Drain: webhooks answered/s", "{:.1f}"),
    ("drain_rate", "Drain: bookings/s (processing)", "{:.1f}"),
    ("drain_total_rate", "Drain: bookings/s (webhooks+processing)", "{:.1f}"),
    ("e2e_done_p50", "E2E to transaction done p50 (s)", "{:.2f}"),
    ("e2e_done_p95", "E2E to transaction done p95 (s)", "{:.2f}"),
    ("e2e_p50", "E2E to invoice paid p50 (s)", "{:.2f}"),
    ("e2e_p95", "E2E to invoice paid p95 (s)", "{:.2f}"),
    ("queries", "Queries per webhook request (median)", "{:.0f}"),
    ("query_ms", "SQL time per webhook request, median (ms)", "{:.1f}"),
    ("server_ms", "Server time per webhook request, median (ms)", "{:.1f}"),
)


NOTES = """\
Notes. ratio = crm_mollie / native. The webhooks of the latency and saturation
rows re-notify payments already booked. crm_mollie acknowledges and reopens the
event, and its cron fetches the payment again ("processing live"; "processing
off" is the same load with that cron switched off); native fetches the payment
inside the request and has nothing running beside it, so its two rows are one
measurement. Drain "processing" runs the processor by hand, back to back: the
cron worker of Odoo 19 runs a job for about 10 s and then sleeps until a new
trigger is notified or up to 69 s, so an unattended backlog drains slower. Native
books only in post-processing (its status page, or a cron every 10 minutes):
its drain is timed as one post-processing run after the webhooks, and its E2E to
"invoice paid" starts post-processing as soon as the transaction is done (a
browser that comes back at once). crm_mollie's cron worker runs at nice 10, the
HTTP workers at nice 0; other processes on the machine count (load above)."""


def fmt(template, value):
    if value is None or value != value:  # None or NaN
        return "n/a"
    return template.format(value)


def report(ours, native, args, elapsed, loads):
    print()
    print(
        f"crm_mollie vs payment_mollie: {args.workers} HTTP workers, 1 cron worker, "
        f"loopback, Mollie simulator; total {elapsed:.0f} s"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, 1-min load average {loads[0]:.1f} at the "
        f"start, {loads[1]:.1f} at the end (other processes share the CPUs)"
    )
    print(
        f"open loop {args.rate:g} req/s for {args.rate_seconds:g} s; closed loop "
        f"{args.clients} clients for {args.saturation_seconds:g} s; drain "
        f"{args.drain}; end to end {args.e2e} at {args.e2e_rate:g}/s"
    )
    width = max(len(label) for _key, label, _fmt in ROWS)
    header = f"{'':{width}}  {'crm_mollie':>11}  {'native':>11}  {'ratio':>7}"
    print()
    print(header)
    print("-" * len(header))
    for key, label, template in ROWS:
        a, b = ours.results.get(key), native.results.get(key)
        ratio = a / b if a is not None and b and a == a and b == b else None
        print(
            f"{label:{width}}  {fmt(template, a):>11}  {fmt(template, b):>11}  "
            f"{fmt('{:.2f}', ratio):>7}"
        )
    print()
    for side in (ours, native):
        for key in ("ack_note", "saturation_note", "drain_note", "e2e_note"):
            if key in side.results:
                print(f"{side.name} {key[:-5]}: {side.results[key]}")
    print()
    print(NOTES)


def main(argv=None):
    args = parse_args(argv)
    config = server_harness.find_odoo_config(args.config)
    source = server_harness.find_odoo_source()
    if not config or not source:
        sys.exit("No Odoo 19 source or configuration found (see ./dev).")
    began = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    harness = server_harness.ServerHarness(
        config,
        source,
        workers=args.workers,
        # Request lines carry the query count and SQL time of each request.
        server_args=["--log-handler=werkzeug:INFO"],
    )
    with harness:
        print(f"server {harness.url}, simulator {harness.simulator.url}", flush=True)
        ours, native = Ours(harness), Native(harness)
        # Each side's phases in a row; crm_mollie's load phases come last, as
        # they leave reopened events behind for its processor.
        print(f"payment_mollie: drain {args.drain}, load, end to end", flush=True)
        native_keys = drain_native(native, args.drain, args.drain_timeout)
        latency_and_saturation(native, native_keys, args)
        end_to_end(
            native,
            args.e2e,
            args.e2e_rate,
            args.e2e_timeout,
            native_cron=harness.cron_id(server_harness.NATIVE_POST_PROCESS_CRON),
        )
        print(f"crm_mollie: drain {args.drain}, end to end, load", flush=True)
        our_keys = drain_ours(ours, args.drain, args.drain_timeout)
        settle(harness)
        end_to_end(ours, args.e2e, args.e2e_rate, args.e2e_timeout)
        latency_and_saturation(
            ours, our_keys, args, harness.cron_id(server_harness.PROCESS_CRON)
        )
        for side, path in (
            (ours, "/crm_mollie/webhook"),
            (native, "/payment/mollie/webhook"),
        ):
            side.results.update(queries_per_webhook(harness, path))
        problems = harness.log_problems()
    loads = (load_at_start, os.getloadavg()[0])
    report(ours, native, args, time.perf_counter() - began, loads)
    if problems:
        print(f"\n{len(problems)} error record(s) in the server log, first:")
        print(problems[0][:2000])


if __name__ == "__main__":
    main()
