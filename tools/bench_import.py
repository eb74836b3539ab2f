# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Figure script: how fast the history import brings N Mollie payments in.

A benchmark, not a test: it prints figures. For each size N it imports N paid
Mollie payments, from the local Mollie simulator through the real SDK and
HTTP, against N posted invoices of the same amounts. Half of the payments
carry our signed metadata, half only the invoice number in their
description. Most invoices were paid in Odoo long ago (matching and linking
only); a share of them is still open, so the import books those payments
and marks the invoices paid. The table shows both costs apart, and how the
time per payment grows from one size to the next.

Every size runs in a fresh copy of a template database
(``crm_mollie_bench_import``, created once with ``odoo-bin -i crm_mollie``),
dropped afterwards. Loopback only: the simulator listens on 127.0.0.1.

    ./dev test            # once, so that the venv and cluster exist
    /var/tmp/crm_mollie/venv-*/bin/python tools/bench_import.py
    /var/tmp/crm_mollie/venv-*/bin/python tools/bench_import.py \\
        --sizes 5000 20000 100000
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("CRM_MOLLIE_STATE", "/var/tmp/crm_mollie"))
TEMPLATE = "crm_mollie_bench_import"
KEY = "test_crmMollieBenchImport000000001"
MAX_SIZE = 100_000
BATCH = 1000  # invoices per create() and per action_post()
PARTNERS = 200


def admin_connection():
    import psycopg2  # noqa: PLC0415 - only needed once the venv is there

    import odoo  # noqa: PLC0415

    conn = psycopg2.connect(
        dbname="postgres",
        host=odoo.tools.config["db_host"],
        port=odoo.tools.config["db_port"],
        user=odoo.tools.config["db_user"],
    )
    conn.autocommit = True
    return conn


def odoo_bin(config, *args):
    import odoo  # noqa: PLC0415

    command = [
        sys.executable,
        str(Path(odoo.__path__[0]).parent / "odoo-bin"),
        f"--config={config}",
        *args,
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
    ]
    subprocess.run(command, check=True)


def ensure_template(config):
    """The template database, with crm_mollie as in this work tree."""
    conn = admin_connection()
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,))
        exists = cr.fetchone()
    conn.close()
    if not exists:
        print(f"creating database {TEMPLATE} (once) ...", flush=True)
        odoo_bin(config, f"--database={TEMPLATE}", "--init=crm_mollie")
    else:
        print(f"updating crm_mollie in {TEMPLATE} ...", flush=True)
        odoo_bin(config, f"--database={TEMPLATE}", "--update=crm_mollie")


def copy_template(name):
    conn = admin_connection()
    with conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cr.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    conn.close()


def drop_database(name):
    conn = admin_connection()
    with conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def prepare(env, simulator, size, open_count):
    """Invoices in Odoo and the paid payments of the same amounts at Mollie.

    :return: Seconds spent creating the invoices, and the Mollie payments.
    :rtype: tuple
    """
    from odoo import Command  # noqa: PLC0415

    from odoo.addons.crm_mollie import utils  # noqa: PLC0415

    env["ir.config_parameter"].set_param("crm_mollie.api_endpoint", simulator.url)
    company = env.company
    company.write(
        {
            "mollie_mode": "test",
            "mollie_test_api_key": KEY,
            "mollie_link_scope": "off",
            "mollie_webhook_base_url": "https://erp.example.com",
        }
    )
    quiet = env(
        context={
            "tracking_disable": True,
            "mail_create_nolog": True,
            "mail_notrack": True,
        }
    )
    partners = quiet["res.partner"].create(
        [{"name": f"Bench customer {i}"} for i in range(PARTNERS)]
    )
    started = time.perf_counter()
    invoices = quiet["account.move"]
    for first in range(0, size, BATCH):
        batch = quiet["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partners[i % PARTNERS].id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Bench",
                                "quantity": 1,
                                "price_unit": 10 + (i % 5000) / 100,
                                "tax_ids": [],
                            }
                        )
                    ],
                }
                for i in range(first, min(first + BATCH, size))
            ]
        )
        batch.action_post()
        invoices |= batch
        env.cr.commit()
        env.invalidate_all()
    # The history was paid in Odoo long ago (bank statements): only the
    # payment state matters to the import, so it is set directly rather
    # than reconciling tens of thousands of bank lines first.
    paid = invoices[open_count:]
    env.cr.execute(
        "UPDATE account_move SET payment_state = 'paid', amount_residual = 0,"
        " amount_residual_signed = 0 WHERE id = ANY(%s)",
        (paid.ids,),
    )
    env.cr.commit()
    env.invalidate_all()
    env.cr.execute("ANALYZE")
    invoice_seconds = time.perf_counter() - started

    started = time.perf_counter()
    secret = env["ir.config_parameter"].get_param("database.secret")
    client = company._mollie_client()
    currency = company.currency_id.name
    rows = [(move.id, move.name, move.amount_total) for move in invoices]
    for number, (move_id, name, amount) in enumerate(rows):
        data = {
            "amount": {"currency": currency, "value": f"{amount:.2f}"},
            "description": name,
            "redirectUrl": "https://shop.example.com/thanks",
        }
        if number % 2:
            data["description"] = f"Order {number}"
            data["metadata"] = utils.sign_metadata(secret, "account.move", move_id)
        key = utils.idempotency_key(None, "bench", number, "import")
        payment = client.create_object("payments", data, key)
        simulator.set_payment_status(payment["id"], "paid", method="creditcard")
    return invoice_seconds, time.perf_counter() - started


def run_import(env):
    """Import today's payments; time the whole run and its bookings apart."""
    from odoo.addons.crm_mollie.models.mollie_payment import (  # noqa: PLC0415
        MolliePayment,
    )

    booking = {"seconds": 0.0, "count": 0}
    original = MolliePayment._mollie_book_payment

    def timed_booking(self, late=False):
        started = time.perf_counter()
        try:
            return original(self, late=late)
        finally:
            booking["seconds"] += time.perf_counter() - started
            booking["count"] += 1

    today = datetime.now(UTC).date()
    run = env["mollie.import.run"].create(
        {
            "company_id": env.company.id,
            "date_from": today - timedelta(days=1),
            "date_to": today,
        }
    )
    run.state = "running"
    env.cr.commit()
    MolliePayment._mollie_book_payment = timed_booking
    try:
        started = time.perf_counter()
        run._mollie_run()
        total = time.perf_counter() - started
    finally:
        MolliePayment._mollie_book_payment = original
    return run, total, booking


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[5000, 20000],
        help=f"numbers of payments (and invoices), at most {MAX_SIZE:,}",
    )
    parser.add_argument(
        "--open-share",
        type=float,
        default=0.02,
        help="share of the invoices still open, whose payment the import books",
    )
    parser.add_argument("--config", default=str(STATE / "odoo.conf"))
    args = parser.parse_args()
    if not all(0 < size <= MAX_SIZE for size in args.sizes):
        parser.error(f"sizes go from 1 to {MAX_SIZE:,}")
    if not 0 <= args.open_share <= 1:
        parser.error("--open-share is a share between 0 and 1")

    import odoo  # noqa: PLC0415
    from odoo import api  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415
    from odoo.sql_db import close_db  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    ensure_template(args.config)
    sys.path.insert(0, str(REPO / "crm_mollie" / "tests"))
    from mollie_simulator import MollieSimulator  # noqa: PLC0415

    simulator = MollieSimulator(host="127.0.0.1", webhook_time_scale=0.0001).start()
    simulator.add_api_key(KEY, profile_name="Bench shop")
    results = []
    try:
        for size in args.sizes:
            simulator.reset()
            name = f"{TEMPLATE}_{size}"
            open_count = round(size * args.open_share)
            copy_template(name)
            registry = Registry(name)
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, odoo.SUPERUSER_ID, {})
                    print(f"N={size:,}: preparing ...", flush=True)
                    invoice_s, mollie_s = prepare(env, simulator, size, open_count)
                    print(
                        f"N={size:,}: {size:,} invoices in {invoice_s:.0f} s, "
                        f"{size:,} Mollie payments in {mollie_s:.0f} s; importing ...",
                        flush=True,
                    )
                    requests_before = len(simulator.requests)
                    run, total, booking = run_import(env)
                    calls = len(simulator.requests) - requests_before
                    results.append(
                        {
                            "size": size,
                            "open": open_count,
                            "total": total,
                            "booking": booking,
                            "run": {
                                "state": run.state,
                                "created": run.created_count,
                                "metadata": run.matched_metadata_count,
                                "description": run.matched_description_count,
                                "paid": run.paid_invoice_count,
                                "linked": run.linked_paid_count,
                                "unmatched": run.unmatched_count,
                            },
                            "calls": calls,
                        }
                    )
            finally:
                Registry.delete(name)
                close_db(name)
                drop_database(name)
    finally:
        simulator.stop()
    print_table(results)


def print_table(results):
    print()
    header = (
        f"{'payments':>9} {'import s':>9} {'pay/s':>7} │ "
        f"{'matching s':>10} {'ms/pay':>7} {'pay/s':>7} {'growth':>7} │ "
        f"{'booked':>6} {'booking s':>9} {'ms/book':>8} {'growth':>7} │ "
        f"{'API calls':>9}"
    )
    print(header)
    print("─" * len(header))
    previous = None
    for result in results:
        size = result["size"]
        booking = result["booking"]
        matching = result["total"] - booking["seconds"]
        per_payment = matching / size * 1000
        per_booking = (
            booking["seconds"] / booking["count"] * 1000 if booking["count"] else 0
        )
        growth_match = growth_book = "-"
        if previous:
            growth_match = f"{per_payment / previous[0]:.2f}x"
            if previous[1] and per_booking:
                growth_book = f"{per_booking / previous[1]:.2f}x"
        print(
            f"{size:>9,} {result['total']:>9.1f} {size / result['total']:>7.0f} │ "
            f"{matching:>10.1f} {per_payment:>7.2f} {size / matching:>7.0f} "
            f"{growth_match:>7} │ "
            f"{booking['count']:>6,} {booking['seconds']:>9.1f} {per_booking:>8.1f} "
            f"{growth_book:>7} │ {result['calls']:>9,}"
        )
        previous = (per_payment, per_booking)
    print()
    print(
        "matching: reading Mollie's pages, matching every payment to its invoice "
        "(half by signed metadata, half by invoice number and amount) and "
        "recording it, already-paid invoices linked only; booking: one "
        "account.payment posted and reconciled per open invoice "
        "(mollie.payment._mollie_book_payment). growth: time per payment (or per "
        "booking) against the previous size; 1.00x is linear."
    )
    for result in results:
        run = result["run"]
        print(
            f"N={result['size']:,}: run {run['state']}, created {run['created']:,}, "
            f"matched {run['metadata']:,} by metadata + {run['description']:,} by "
            f"description, {run['paid']:,} invoices marked paid, {run['linked']:,} "
            f"paid invoices linked, {run['unmatched']:,} unmatched"
        )


if __name__ == "__main__":
    main()
