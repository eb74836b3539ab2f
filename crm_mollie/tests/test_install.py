# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2

import odoo
from odoo.tests import BaseCase, tagged
from odoo.tools import config


@tagged("post_install", "-at_install", "crm_mollie_install")
class TestInstall(BaseCase):
    """Install the addon into brand-new databases with a real ``odoo-bin``, the
    way an administrator does, with and without demo data."""

    def _connect(self, dbname):
        return psycopg2.connect(
            dbname=dbname,
            host=config["db_host"] or None,
            port=config["db_port"] or None,
            user=config["db_user"] or None,
        )

    def _install_in_fresh_database(self, *flags):
        dbname = f"crm_mollie_install_{uuid.uuid4().hex[:8]}"
        odoo_bin = Path(odoo.__path__[0]).parent / "odoo-bin"
        command = [
            sys.executable,
            str(odoo_bin),
            f"--config={config['config']}",
            f"--database={dbname}",
            "--init=crm_mollie",
            "--stop-after-init",
            "--no-http",
            "--log-level=warn",
            *flags,
        ]
        self.addCleanup(self._drop, dbname)
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=1200,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertNotIn(" ERROR ", done.stderr, done.stderr[-3000:])
        conn = self._connect(dbname)
        self.addCleanup(conn.close)
        with conn.cursor() as cr:
            cr.execute("SELECT state FROM ir_module_module WHERE name = 'crm_mollie'")
            self.assertEqual(cr.fetchone(), ("installed",))
            cr.execute(
                "SELECT count(*) FROM ir_model_data"
                " WHERE module = 'crm_mollie'"
                " AND name IN ('group_mollie_user', 'group_mollie_manager')"
            )
            self.assertEqual(cr.fetchone(), (2,))
            cr.execute("SELECT mollie_mode FROM res_company ORDER BY id LIMIT 1")
            self.assertEqual(cr.fetchone(), ("test",))
            cr.execute("SELECT count(*) FROM ir_module_module WHERE demo")
            demo_modules = cr.fetchone()[0]
        conn.close()
        return demo_modules

    def _drop(self, dbname):
        conn = self._connect("postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cr:
                cr.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        finally:
            conn.close()

    def test_installs_into_a_fresh_database_without_demo_data(self):
        self.assertEqual(self._install_in_fresh_database("--without-demo"), 0)

    def test_installs_into_a_fresh_database_with_demo_data(self):
        self.assertGreater(self._install_in_fresh_database("--with-demo"), 0)
