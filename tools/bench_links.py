# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Figure script: how long payment links for N posted invoices take.

A benchmark, not a test: it prints figures. In one run it times

- crm_mollie's bulk action "Create Mollie payment links" on N posted invoices,
  through the real SDK and HTTP to the local Mollie simulator (one customer
  and one payment link per invoice, each with its Idempotency-Key), and
- its peer, Odoo's own payment link wizard (``payment.link.wizard``), which
  makes a portal link for each invoice without calling any provider,

and prints both rates and their ratio. It uses its own database
(``crm_mollie_bench_links``), created once with ``odoo-bin -i crm_mollie``.

    ./dev test            # once, so that the venv and cluster exist
    /var/tmp/crm_mollie/venv-*/bin/python tools/bench_links.py --invoices 1000
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("CRM_MOLLIE_STATE", "/var/tmp/crm_mollie"))
DB = "crm_mollie_bench_links"
KEY = "test_crmMollieBenchLinks00000000001"


def ensure_database(config):
    import psycopg2  # noqa: PLC0415 - only needed once the venv is there

    import odoo  # noqa: PLC0415

    conn = psycopg2.connect(
        dbname="postgres",
        host=odoo.tools.config["db_host"],
        port=odoo.tools.config["db_port"],
        user=odoo.tools.config["db_user"],
    )
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,))
        exists = cr.fetchone()
    conn.close()
    if exists:
        return
    odoo_bin = Path(odoo.__path__[0]).parent / "odoo-bin"
    print(f"creating database {DB} (once) ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(odoo_bin),
            f"--config={config}",
            f"--database={DB}",
            "--init=crm_mollie",
            "--stop-after-init",
            "--no-http",
            "--log-level=warn",
        ],
        check=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--config", default=str(STATE / "odoo.conf"))
    args = parser.parse_args()

    import odoo  # noqa: PLC0415
    from odoo import Command, api  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    ensure_database(args.config)
    sys.path.insert(0, str(REPO / "crm_mollie" / "tests"))
    from mollie_simulator import MollieSimulator  # noqa: PLC0415

    simulator = MollieSimulator(webhook_time_scale=0.0001).start()
    simulator.add_api_key(KEY, profile_name="Bench shop")
    registry = Registry(DB)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, odoo.SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param(
                "crm_mollie.api_endpoint", simulator.url
            )
            company = env.company
            company.write(
                {
                    "mollie_mode": "test",
                    "mollie_test_api_key": KEY,
                    "mollie_link_scope": "off",
                    "mollie_webhook_base_url": "https://erp.example.com",
                }
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"Bench customer {i}", "email": f"c{i}@example.com"}
                    for i in range(args.invoices)
                ]
            )
            started = time.perf_counter()
            invoices = env["account.move"].create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": "Bench",
                                    "quantity": 1,
                                    "price_unit": 10 + i,
                                    "tax_ids": [],
                                }
                            )
                        ],
                    }
                    for i, partner in enumerate(partners)
                ]
            )
            invoices.action_post()
            setup = time.perf_counter() - started
            print(f"{len(invoices)} invoices created and posted in {setup:.1f} s")

            started = time.perf_counter()
            for invoice in invoices:
                wizard = (
                    env["payment.link.wizard"]
                    .with_context(active_model="account.move", active_id=invoice.id)
                    .create({})
                )
                assert wizard.link
            native = time.perf_counter() - started

            requests_before = len(simulator.requests)
            started = time.perf_counter()
            invoices.action_mollie_create_payment_link()
            ours = time.perf_counter() - started
            active = len(invoices.filtered(lambda m: m.mollie_link_state == "active"))
            calls = len(simulator.requests) - requests_before
            cr.rollback()
    finally:
        simulator.stop()

    n = len(invoices)
    print()
    print(f"{'':42} {'seconds':>9} {'per invoice':>12} {'invoices/s':>11}")
    print(
        f"{'Odoo payment.link.wizard (no provider call)':42} {native:9.2f} "
        f"{native / n * 1000:9.1f} ms {n / native:11.1f}"
    )
    print(
        f"{'crm_mollie Mollie payment links (HTTP+SDK)':42} {ours:9.2f} "
        f"{ours / n * 1000:9.1f} ms {n / ours:11.1f}"
    )
    print(f"ratio crm_mollie / native time: {ours / native:.2f}x")
    print(
        f"links active: {active}/{n}; Mollie API calls: {calls} "
        f"({calls / n:.1f} per invoice)"
    )


if __name__ == "__main__":
    main()
