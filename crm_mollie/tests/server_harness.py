# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A real multi-worker Odoo server with crm_mollie, beside a Mollie simulator.

Why: the unit tests run inside one test transaction, where nothing commits,
no two processes meet on a row lock and the cron never runs for real. The
promises that matter under load (one booking per Mollie payment whatever the
number of duplicate webhooks, a webhook answered while the processor works,
overlapping processing runs that split the backlog instead of doing anything
twice) only hold or break between real processes. This module builds that
setting for ``test_concurrency.py`` and for ``tools/bench_webhooks.py``.

What it does, each step bounded in time:

1. keeps a dedicated database (``crm_mollie_concurrency``) with crm_mollie
   installed by ``odoo-bin -i``; it is reused while a stamp file says the
   addon's code (sha1 of ``crm_mollie/**/*.py|xml|csv`` outside ``tests``) is
   unchanged, updated with ``-u crm_mollie`` when the code changed, created
   again when it has no stamp;
2. starts a :class:`MollieSimulator` in a thread on a free loopback port;
3. starts ``odoo-bin --workers=4 --max-cron-threads=1`` on free loopback
   ports, as a subprocess in its own process group (with a stand-in
   ``pkg_resources`` when the virtualenv has none, see
   :meth:`ServerHarness._pkg_resources_shim`), and waits for ``/web/login``;
4. configures the database through XML-RPC as admin: the simulator as
   Mollie's endpoint, a test key, the server as callback URL, Odoo's own
   Mollie provider in test mode; it reads the signed webhook URL from an
   ``odoo-bin shell`` (the method that signs it is private);
5. offers helpers: invoices, Mollie payments with signed metadata, native
   ``payment.transaction`` records, webhook and cron calls, counts by SQL,
   bounded waits, and a scan of the server log for errors;
6. stops everything in every path (:meth:`ServerHarness.stop` is idempotent
   and also runs when :meth:`ServerHarness.start` fails half-way).

It needs no Odoo import: it runs the same in pytest-odoo and in a plain
script. Only loopback addresses are used.
"""

import configparser
import contextlib
import fcntl
import hashlib
import http.client
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xmlrpc.client
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg2
from psycopg2 import sql as pgsql

try:  # Imported by Odoo's loader or pytest-odoo, inside the addon package.
    from .. import utils
    from .mollie_simulator import MollieSimulator
except ImportError:  # Imported by a script with this folder on sys.path.
    import types

    from mollie_simulator import MollieSimulator

    # utils.py and const.py are pure (standard library only); load them as a
    # package of their own so that no Odoo import is needed.
    _pure = types.ModuleType("_crm_mollie_pure")
    _pure.__path__ = [str(Path(__file__).resolve().parent.parent)]
    sys.modules.setdefault("_crm_mollie_pure", _pure)
    utils = importlib.import_module("_crm_mollie_pure.utils")

_logger = logging.getLogger(__name__)

ADDON_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "crm_mollie_concurrency"
ODOO_FALLBACK_SOURCE = Path("/opt/odoo-19.0")
CONFIG_FALLBACK = Path("/var/tmp/crm_mollie/odoo.conf")

# A key only the simulator knows; it never reaches the real Mollie.
API_KEY = "test_crmMollieHarness0000000000001"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"

PROCESS_CRON = "crm_mollie.ir_cron_crm_mollie_process_events"
RECONCILE_CRON = "crm_mollie.ir_cron_crm_mollie_reconcile"
NATIVE_POST_PROCESS_CRON = "payment.cron_post_process_payment_tx"

# Upper bounds of every wait, in seconds.
INSTALL_TIMEOUT = 900
SHELL_TIMEOUT = 180
SERVER_START_TIMEOUT = 180
SERVER_STOP_TIMEOUT = 30
LOCK_TIMEOUT = 900
HTTP_TIMEOUT = 60
RPC_TIMEOUT = 300

LOG_PROBLEM_RE = re.compile(r" (ERROR|CRITICAL) |Traceback|deadlock detected")
# Each log record starts with its timestamp; continuation lines do not.
LOG_RECORD_START_RE = re.compile(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ )")
SERIALIZATION_FAILURE = "could not serialize access due to concurrent update"
URL_MARKER = "CRM_MOLLIE_HARNESS_WEBHOOK_URL="


# === LOCATING ODOO === #


def find_odoo_source():
    """The Odoo source tree holding ``odoo-bin``, or None.

    ``CRM_MOLLIE_ODOO_SRC`` (set by ``./dev test``) wins, then the tree of the
    importable ``odoo`` package, then the project's fixed place.
    """
    candidates = []
    if os.environ.get("CRM_MOLLIE_ODOO_SRC"):
        candidates.append(Path(os.environ["CRM_MOLLIE_ODOO_SRC"]))
    with contextlib.suppress(ImportError, AttributeError, IndexError):
        import odoo  # optional: the harness also runs without Odoo

        candidates.append(Path(odoo.__path__[0]).parent)
    candidates.append(ODOO_FALLBACK_SOURCE)
    for candidate in candidates:
        if (candidate / "odoo-bin").is_file():
            return candidate.resolve()
    return None


def find_odoo_config(explicit=None):
    """The Odoo configuration file the project uses, or None.

    An explicit path wins, then ``CRM_MOLLIE_ODOO_CONF`` (set by ``./dev
    test``), then the file pytest-odoo loaded, then the project's default.
    """
    candidates = [explicit, os.environ.get("CRM_MOLLIE_ODOO_CONF")]
    if "odoo" in sys.modules:
        with contextlib.suppress(ImportError, KeyError):
            from odoo.tools import config

            candidates.append(config["config"])
    candidates.append(str(CONFIG_FALLBACK))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


def addon_stamp(odoo_source):
    """Fingerprint of the addon's code and data, tests excluded.

    A database installed from another fingerprint gets the addon updated.
    The Odoo tree is part of it: another Odoo means another installation.
    """
    digest = hashlib.sha1(str(odoo_source).encode())
    files = sorted(
        path
        for pattern in ("*.py", "*.xml", "*.csv")
        for path in ADDON_DIR.rglob(pattern)
        if "tests" not in path.relative_to(ADDON_DIR).parts
    )
    for path in files:
        digest.update(str(path.relative_to(ADDON_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def free_port():
    """A TCP port of 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values, fraction):
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


class _TimeoutTransport(xmlrpc.client.Transport):
    """XML-RPC over HTTP with a socket timeout: no call may hang forever."""

    def __init__(self, timeout):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


class HarnessError(RuntimeError):
    """The harness could not build or drive its server."""


# === THE HARNESS === #


class ServerHarness:
    """One database, one simulator and one multi-worker server, together.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with ServerHarness(config_path, odoo_source) as harness:
            invoice = harness.create_invoices([100.0])[0]
            payment_id = harness.create_mollie_payment(invoice)
            harness.simulator.set_payment_status(payment_id, "paid")
            harness.wait_until_processed()
    """

    def __init__(
        self,
        config_path,
        odoo_source,
        database=DEFAULT_DATABASE,
        workers=4,
        server_args=(),
        webhook_time_scale=0.001,
    ):
        self.config_path = Path(config_path).resolve()
        self.odoo_source = Path(odoo_source).resolve()
        self.odoo_bin = self.odoo_source / "odoo-bin"
        self.database = database
        self.workers = workers
        self.server_args = list(server_args)
        self.webhook_time_scale = webhook_time_scale
        self.state_dir = Path(
            os.environ.get("CRM_MOLLIE_STATE") or self.config_path.parent
        )
        options = configparser.ConfigParser(interpolation=None)
        options.read(self.config_path)
        section = options["options"] if options.has_section("options") else {}
        self.db_params = {
            key: section.get(f"db_{key}") or None
            for key in ("host", "port", "user", "password")
        }
        # One log per database, emptied when a harness starts (the lock below
        # makes it this harness's alone): it survives a failed run for study.
        self.logfile = self.state_dir / f"{database}-server.log"
        self.simulator = None
        self.process = None
        self.url = None
        self.uid = None
        self.company_id = None
        self.currency = None
        self.currency_id = None
        self.partner_id = None
        self.provider_id = None
        self.card_method_id = None
        self.secret = None
        self.webhook_url = None
        self._lock_file = None
        self._shim_dir = None
        self._db = None
        self._db_lock = threading.Lock()
        self._local = threading.local()
        self._stopped = False

    # --- life cycle -----------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        """Build everything; on any failure, tear down what was built."""
        try:
            self._acquire_lock()
            self.ensure_database()
            self._reset_leftovers()
            self.simulator = MollieSimulator(
                host="127.0.0.1", port=0, webhook_time_scale=self.webhook_time_scale
            ).start()
            self.simulator.add_api_key(API_KEY, profile_name="Concurrency harness")
            self._start_server()
            self._configure()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop the server (its whole process group) and the simulator."""
        if self._stopped:
            return
        self._stopped = True
        if self.process is not None:
            self._stop_server()
        if self.simulator is not None:
            self.simulator.stop()
        if self._db is not None:
            with contextlib.suppress(psycopg2.Error):
                self._db.close()
            self._db = None
        if self._shim_dir is not None:
            shutil.rmtree(self._shim_dir, ignore_errors=True)
            self._shim_dir = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _acquire_lock(self):
        """One harness per database at a time, across processes.

        Two test runs at once (two engineers, two terminals) would otherwise
        install into, count in and configure the same database.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.state_dir / f"{self.database}.lock"
        self._lock_file = lock_path.open("w", encoding="utf-8")
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HarnessError(
                        f"Another harness holds {self.database} for more than "
                        f"{LOCK_TIMEOUT} s."
                    ) from None
                time.sleep(1)

    # --- database ----------------------------------------------------------------

    def _connect(self, dbname):
        params = {k: v for k, v in self.db_params.items() if v}
        return psycopg2.connect(dbname=dbname, **params)

    def _database_exists(self):
        conn = self._connect("postgres")
        try:
            with conn.cursor() as cr:
                cr.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
                )
                if not cr.fetchone():
                    return False
        finally:
            conn.close()
        conn = self._connect(self.database)
        try:
            with conn.cursor() as cr:
                cr.execute(
                    "SELECT state FROM ir_module_module WHERE name = 'crm_mollie'"
                )
                row = cr.fetchone()
        except psycopg2.Error:
            return False
        finally:
            conn.close()
        return bool(row) and row[0] == "installed"

    def _drop_database(self):
        conn = self._connect("postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cr:
                cr.execute(
                    pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        pgsql.Identifier(self.database)
                    )
                )
        finally:
            conn.close()

    def ensure_database(self):
        """Create, update or reuse the dedicated database (see module doc)."""
        stamp = addon_stamp(self.odoo_source)
        stamp_file = self.state_dir / f"{self.database}.stamp"
        old_stamp = stamp_file.read_text().strip() if stamp_file.exists() else None
        exists = self._database_exists()
        if exists and old_stamp == stamp:
            _logger.info("Database %s is up to date", self.database)
            return
        if exists and old_stamp:
            _logger.info("Updating crm_mollie in %s", self.database)
            self._run_odoo_bin("-u", "crm_mollie")
        else:
            _logger.info("Creating %s with crm_mollie (about 40 s)", self.database)
            self._drop_database()
            self._run_odoo_bin("-i", "crm_mollie", "--without-demo")
        stamp_file.write_text(stamp + "\n")

    def _run_odoo_bin(self, *args):
        logfile = self.state_dir / f"{self.database}-install.log"
        command = [
            sys.executable,
            str(self.odoo_bin),
            "-c",
            str(self.config_path),
            "-d",
            self.database,
            *args,
            "--stop-after-init",
            "--no-http",
            "--log-level=warn",
            f"--logfile={logfile}",
        ]
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if done.returncode:
            raise HarnessError(
                f"odoo-bin {' '.join(args)} failed ({done.returncode}); see {logfile}"
                f"\n{done.stderr[-2000:]}"
            )

    def sql(self, query, params=None):
        """Run one statement on the harness database; return all rows (or [])."""
        with self._db_lock:
            if self._db is None or self._db.closed:
                self._db = self._connect(self.database)
                self._db.autocommit = True
            with self._db.cursor() as cr:
                cr.execute(query, params)
                return cr.fetchall() if cr.description else []

    def _xmlid_res_id(self, xmlid):
        module, name = xmlid.split(".", 1)
        rows = self.sql(
            "SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s",
            [module, name],
        )
        if not rows:
            raise HarnessError(f"No record {xmlid} in {self.database}")
        return rows[0][0]

    def _reset_leftovers(self):
        """Forget what an earlier, interrupted run left behind.

        Its events point at a simulator that is gone and would wait on
        backoff; its native transactions would join this run's timings. The
        reconciliation walk is switched off: it is the safety net for lost
        webhooks, not under test here, and it would add unrelated load.
        Both processing crons (ours and the native post-processing) are
        switched on and due.
        """
        self.sql(
            "UPDATE mollie_event SET state = 'ignored',"
            " last_error = 'Left over by an earlier harness run'"
            " WHERE state = 'pending'"
        )
        self.sql(
            "UPDATE payment_transaction SET is_post_processed = true"
            " WHERE NOT is_post_processed"
        )
        # A run stopped half-way may have left crons switched off or moved
        # out of reach.
        self.sql(
            "UPDATE ir_cron SET active = true,"
            " nextcall = LEAST(nextcall, now() at time zone 'UTC')"
            " WHERE id IN (%s, %s)",
            [
                self._xmlid_res_id(PROCESS_CRON),
                self._xmlid_res_id(NATIVE_POST_PROCESS_CRON),
            ],
        )
        self.sql(
            "UPDATE ir_cron SET active = false WHERE id = %s",
            [self._xmlid_res_id(RECONCILE_CRON)],
        )

    # --- server --------------------------------------------------------------------

    def _start_server(self):
        port, gevent_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            str(self.odoo_bin),
            "-c",
            str(self.config_path),
            "-d",
            self.database,
            f"--db-filter=^{self.database}$",
            f"--workers={self.workers}",
            "--max-cron-threads=1",
            f"--http-port={port}",
            "--http-interface=127.0.0.1",
            f"--gevent-port={gevent_port}",
            "--limit-time-real=600",
            # A processing run started from the web (method_direct_trigger)
            # runs in an HTTP worker: let it use as much CPU as a cron may.
            "--limit-time-cpu=600",
            "--log-level=warn",
            f"--logfile={self.logfile}",
            # Every XML-RPC call logs a deprecation warning in Odoo 19.
            "--log-handler=odoo.addons.rpc.controllers.xmlrpc:ERROR",
            *self.server_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        shim = self._pkg_resources_shim()
        if shim:
            env["PYTHONPATH"] = os.pathsep.join(
                path for path in (shim, env.get("PYTHONPATH")) if path
            )
        # What Odoo prints before its logging starts goes to the log too.
        self.logfile.write_text("")
        with self.logfile.open("a", encoding="utf-8") as output:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
                env=env,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(
                    f"The Odoo server exited with {self.process.returncode}:\n"
                    + self.log_tail()
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _elapsed = self.request("GET", "/web/login", timeout=5)
                if status == 200:
                    return
            time.sleep(0.25)
        raise HarnessError(
            f"The Odoo server did not answer within {SERVER_START_TIMEOUT} s:\n"
            + self.log_tail()
        )

    def _pkg_resources_shim(self):
        """A folder with a stand-in ``pkg_resources``, when Python has none.

        With ``--workers``, Odoo also runs its gevent process (websockets).
        gevent 22.10 (Odoo 19's pin for Python 3.11) imports
        ``pkg_resources``, which setuptools 81 and later no longer ship: the
        process then dies at start and Odoo respawns it at once, in a loop
        that burns a CPU for as long as the server runs and skews every
        timing. gevent only asks it for plugin entry points; none is fine.
        """
        if importlib.util.find_spec("pkg_resources") is not None:
            return None
        self._shim_dir = tempfile.mkdtemp(prefix="crm_mollie_harness_")
        Path(self._shim_dir, "pkg_resources.py").write_text(
            '"""Stand-in written by crm_mollie\'s server harness."""\n\n\n'
            "def iter_entry_points(group, name=None):\n"
            "    return iter(())\n",
            encoding="utf-8",
        )
        return self._shim_dir

    def _stop_server(self):
        process, self.process = self.process, None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _logger.warning("The Odoo server ignored SIGTERM; killing it")
        # Workers left behind by a master that died are killed with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(SERVER_STOP_TIMEOUT)

    def log_tail(self, chars=4000):
        """The end of the server log, for failure messages."""
        with contextlib.suppress(OSError):
            return self.logfile.read_text(errors="replace")[-chars:]
        return ""

    def log_mark(self):
        """The current end of the server log, to scan from later."""
        with contextlib.suppress(OSError):
            return self.logfile.stat().st_size
        return 0

    def log_problems(self, since=0):
        """Log records at ERROR or CRITICAL, tracebacks and deadlocks since
        ``since`` (a :meth:`log_mark`), one string per record.

        Serialization failures are left out: under REPEATABLE READ they are
        how PostgreSQL tells Odoo that two transactions met, and Odoo logs
        the failed query at ERROR before it retries the request. What they
        lead to is visible elsewhere (a 5xx, an event parked for review).
        """
        text = ""
        with contextlib.suppress(OSError), self.logfile.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        records = LOG_RECORD_START_RE.split(text)
        return [
            record.strip()
            for record in records
            if LOG_PROBLEM_RE.search(record) and SERIALIZATION_FAILURE not in record
        ]

    # --- configuration --------------------------------------------------------

    def _configure(self):
        self.uid = self._authenticate()
        self.call(
            "ir.config_parameter",
            "set_param",
            "crm_mollie.api_endpoint",
            self.simulator.url,
        )
        user = self.call("res.users", "read", [self.uid], ["company_id"])[0]
        self.company_id = user["company_id"][0]
        self.call(
            "res.company",
            "write",
            [self.company_id],
            {
                "mollie_mode": "test",
                "mollie_test_api_key": API_KEY,
                "mollie_webhook_base_url": self.url,
            },
        )
        company = self.call("res.company", "read", [self.company_id], ["currency_id"])
        self.currency_id, self.currency = company[0]["currency_id"]
        # Odoo's own Mollie checkout: the addon gave it the key; a disabled
        # provider stays disabled until an administrator decides otherwise.
        self.provider_id = self.call(
            "payment.provider",
            "search",
            [("code", "=", "mollie"), ("company_id", "=", self.company_id)],
            limit=1,
        )[0]
        self.call("payment.provider", "write", [self.provider_id], {"state": "test"})
        self.card_method_id = self.call(
            "payment.method",
            "search",
            [("code", "=", "card")],
            limit=1,
            context={"active_test": False},
        )[0]
        self.secret = self.call("ir.config_parameter", "get_param", "database.secret")
        self.partner_id = self._harness_partner()
        self.webhook_url = self._signed_webhook_url()

    def _authenticate(self):
        common = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/common", transport=_TimeoutTransport(HTTP_TIMEOUT)
        )
        uid = common.authenticate(self.database, ADMIN_LOGIN, ADMIN_PASSWORD, {})
        if not uid:
            # A database whose admin password was changed: this one is ours,
            # set it back (Odoo re-hashes a plain-text password at login).
            self.sql(
                "UPDATE res_users SET password = %s WHERE login = %s",
                [ADMIN_PASSWORD, ADMIN_LOGIN],
            )
            uid = common.authenticate(self.database, ADMIN_LOGIN, ADMIN_PASSWORD, {})
        if not uid:
            raise HarnessError(f"Cannot log in to {self.database} as admin")
        return uid

    def _harness_partner(self):
        name = "Concurrency Harness Customer"
        found = self.call("res.partner", "search", [("name", "=", name)], limit=1)
        if found:
            return found[0]
        return self.call("res.partner", "create", {"name": name, "is_company": True})

    def _signed_webhook_url(self):
        """``env.company._mollie_webhook_url()``, computed by an odoo-bin shell."""
        script = f"print({URL_MARKER!r} + env.company._mollie_webhook_url())\n"
        done = subprocess.run(
            [
                sys.executable,
                str(self.odoo_bin),
                "shell",
                "-c",
                str(self.config_path),
                "-d",
                self.database,
                "--no-http",
                "--log-level=warn",
            ],
            input=script,
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT,
            check=False,
        )
        for line in done.stdout.splitlines():
            if line.startswith(URL_MARKER):
                return line[len(URL_MARKER) :].strip()
        raise HarnessError(f"odoo-bin shell printed no webhook URL:\n{done.stderr}")

    # --- calls into the server -------------------------------------------------

    def _object_proxy(self):
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            proxy = xmlrpc.client.ServerProxy(
                f"{self.url}/xmlrpc/2/object",
                transport=_TimeoutTransport(RPC_TIMEOUT),
                allow_none=True,
            )
            self._local.proxy = proxy
        return proxy

    def call(self, model, method, *args, **kwargs):
        """``execute_kw`` as admin (one XML-RPC connection per thread)."""
        return self._object_proxy().execute_kw(
            self.database, self.uid, ADMIN_PASSWORD, model, method, list(args), kwargs
        )

    def request(self, method, path, data=None, timeout=HTTP_TIMEOUT):
        """One HTTP request to the server on a new connection, as Mollie makes
        them; redirects are not followed.

        :return: ``(status, seconds)``
        """
        body = urlencode(data).encode() if data is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=timeout
        )
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, time.perf_counter() - started
        finally:
            connection.close()

    def webhook_path(self):
        """Path and query of our signed webhook URL."""
        parts = urlsplit(self.webhook_url)
        return f"{parts.path}?{parts.query}"

    def post_webhook(self, payment_id, timeout=HTTP_TIMEOUT):
        """POST ``id=<payment_id>`` to crm_mollie's webhook, as Mollie does."""
        return self.request("POST", self.webhook_path(), {"id": payment_id}, timeout)

    def post_native_webhook(self, reference, payment_id, timeout=HTTP_TIMEOUT):
        """POST ``id=<payment_id>`` to payment_mollie's webhook of a transaction."""
        path = f"/payment/mollie/webhook?{urlencode({'ref': reference})}"
        return self.request("POST", path, {"id": payment_id}, timeout)

    def get_native_return(self, reference, timeout=HTTP_TIMEOUT):
        """The customer's browser coming back from Mollie's checkout."""
        path = f"/payment/mollie/return?{urlencode({'ref': reference})}"
        return self.request("GET", path, timeout=timeout)

    def cron_id(self, xmlid):
        return self._xmlid_res_id(xmlid)

    def run_cron(self, cron_id):
        """Run a cron now, in an HTTP worker (``method_direct_trigger``).

        :return: ``True`` when it ran cleanly, the error text of an
            ``xmlrpc.client.Fault`` (e.g. "already executing"), or the
            exception dict Odoo returns when the run logged an error.
        """
        try:
            return self.call("ir.cron", "method_direct_trigger", [cron_id])
        except xmlrpc.client.Fault as fault:
            return fault.faultString

    def set_cron(self, cron_id, values, attempts=60):
        """Write a cron; a running cron refuses writes, so retry (bounded)."""
        for _attempt in range(attempts):
            try:
                self.call("ir.cron", "write", [cron_id], values)
                return
            except xmlrpc.client.Fault as fault:
                if "cannot be modified right now" not in fault.faultString:
                    raise
                time.sleep(0.5)
        raise HarnessError(f"Cron {cron_id} stayed busy; could not write {values}")

    def set_cron_active(self, cron_id, active):
        self.set_cron(cron_id, {"active": active})

    # --- documents -----------------------------------------------------------------

    def create_invoices(self, amounts):
        """Posted customer invoices of the harness customer, without taxes.

        :return: ``[{"id", "name", "amount_total"}]`` in the order of amounts.
        """
        ids = self.call(
            "account.move",
            "create",
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_id,
                    "currency_id": self.currency_id,
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "Concurrency harness service",
                                "quantity": 1,
                                "price_unit": amount,
                                "tax_ids": [(6, 0, [])],
                            },
                        )
                    ],
                }
                for amount in amounts
            ],
        )
        self.call("account.move", "action_post", ids)
        rows = self.call("account.move", "read", ids, ["name", "amount_total"])
        by_id = {row["id"]: row for row in rows}
        return [by_id[move_id] for move_id in ids]

    def create_mollie_payment(
        self, invoice, signed=True, webhook_url=True, description=None
    ):
        """Create an open creditcard payment at the simulator for an invoice.

        :param dict invoice: As returned by :meth:`create_invoices`.
        :param bool signed: Add our signed metadata naming the invoice.
        :param webhook_url: ``True`` for our signed webhook URL, a string for
            another one, ``False`` for none (then nothing calls a webhook).
        :return: The Mollie payment id (``tr_...``).
        """
        data = {
            "amount": {
                "currency": self.currency,
                "value": f"{invoice['amount_total']:.2f}",
            },
            "description": description or invoice["name"],
            "redirectUrl": f"{self.url}/my/invoices",
            "method": "creditcard",
        }
        if signed:
            data["metadata"] = utils.sign_metadata(
                self.secret, "account.move", invoice["id"]
            )
        if webhook_url:
            data["webhookUrl"] = (
                self.webhook_url if webhook_url is True else webhook_url
            )
        return self.simulator_api("POST", "/v2/payments", data)["id"]

    def simulator_api(self, method, path, data=None):
        """Call the simulator's Mollie API with the harness key."""
        parts = urlsplit(self.simulator.url)
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=HTTP_TIMEOUT
        )
        headers = {
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        try:
            body = json.dumps(data).encode() if data is not None else None
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        if response.status >= 300:
            raise HarnessError(f"Simulator answered {response.status}: {payload}")
        return payload

    def set_paid(self, payment_id):
        """The customer pays by card; the simulator calls the webhook, if any."""
        return self.simulator.set_payment_status(
            payment_id, "paid", method="creditcard"
        )

    def create_native_transactions(self, invoices, payment_ids):
        """Pending ``payment.transaction`` records of Odoo's Mollie checkout.

        Each names its invoice and its Mollie payment, as after the customer
        left for Mollie's checkout page.

        :return: ``[(transaction id, reference)]`` in the order of invoices.
        """
        references = [f"HARNESS-{uuid.uuid4().hex[:12]}" for _invoice in invoices]
        ids = self.call(
            "payment.transaction",
            "create",
            [
                {
                    "provider_id": self.provider_id,
                    "payment_method_id": self.card_method_id,
                    "reference": reference,
                    "provider_reference": payment_id,
                    "amount": invoice["amount_total"],
                    "currency_id": self.currency_id,
                    "partner_id": self.partner_id,
                    "operation": "online_redirect",
                    "state": "pending",
                    "invoice_ids": [(6, 0, [invoice["id"]])],
                }
                for invoice, payment_id, reference in zip(
                    invoices, payment_ids, references, strict=True
                )
            ],
        )
        return list(zip(ids, references, strict=True))

    def native_webhook_url(self, reference):
        """The webhook URL Odoo's Mollie checkout gives Mollie."""
        return f"{self.url}/payment/mollie/webhook?{urlencode({'ref': reference})}"

    # --- counting ------------------------------------------------------------------

    def bookings(self, payment_ids):
        """Number of ``account.payment`` per Mollie payment id.

        Ours carry the id as ``payment_reference``; the native checkout's are
        tied to a transaction whose ``provider_reference`` is the id.
        """
        rows = self.sql(
            """
            SELECT ref.id, count(DISTINCT p.id)
              FROM unnest(%s::varchar[]) AS ref(id)
              LEFT JOIN payment_transaction t ON t.provider_reference = ref.id
              LEFT JOIN account_payment p
                ON p.payment_reference = ref.id OR p.payment_transaction_id = t.id
             GROUP BY ref.id
            """,
            [list(payment_ids)],
        )
        return dict(rows)

    def mollie_payment_rows(self, payment_ids):
        """Number of ``mollie.payment`` rows per Mollie payment id."""
        rows = self.sql(
            """
            SELECT ref.id, count(m.id)
              FROM unnest(%s::varchar[]) AS ref(id)
              LEFT JOIN mollie_payment m ON m.mollie_id = ref.id
             GROUP BY ref.id
            """,
            [list(payment_ids)],
        )
        return dict(rows)

    def payment_states(self, invoice_ids):
        """``payment_state`` per invoice id."""
        rows = self.sql(
            "SELECT id, payment_state FROM account_move WHERE id = ANY(%s)",
            [list(invoice_ids)],
        )
        return dict(rows)

    def events(self, payment_ids):
        """``{resource_id: (state, hits, attempts, last_error)}`` of our inbox."""
        rows = self.sql(
            "SELECT resource_id, state, hits, attempts, last_error"
            "  FROM mollie_event WHERE resource_id = ANY(%s)",
            [list(payment_ids)],
        )
        return {row[0]: row[1:] for row in rows}

    def fetches(self, payment_id):
        """How many times the server fetched a payment from the simulator."""
        path = f"/v2/payments/{payment_id}"
        return sum(
            1
            for entry in list(self.simulator.requests)
            if entry["method"] == "GET" and entry["path"] == path
        )

    # --- waiting -------------------------------------------------------------------

    def wait_for(self, predicate, timeout=60.0, interval=0.1):
        """Poll ``predicate`` until it is true or ``timeout`` passed; its last
        value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(interval)

    def pending_events(self):
        return self.sql("SELECT count(*) FROM mollie_event WHERE state = 'pending'")[0][
            0
        ]

    def wait_until_processed(self, timeout=60.0):
        """Wait until no event of our inbox is pending; True if so."""
        return self.wait_for(lambda: self.pending_events() == 0, timeout)

    def settle(self, timeout=60.0, patience=3.0):
        """Wait until no event is pending, running the processor by hand
        when the scheduled cron leaves events behind.

        The cron worker runs a job for about 10 s (Odoo's MIN_TIME_PER_JOB),
        and a job left with work waits for the worker's next poll, up to
        69 s later, unless a new webhook wakes it. Up to 4d1992d an event
        stored in the very second a run started was also left behind until
        the cron's interval (see ``TestProcessingWakeUp``). After
        ``patience`` seconds without the inbox emptying, this starts a manual
        run at the beginning of a fresh second, as an administrator would,
        and repeats until ``timeout``.

        :return: ``(settled, manual_runs)``
        """
        cron_id = self.cron_id(PROCESS_CRON)
        deadline = time.monotonic() + timeout
        manual_runs = 0
        while True:
            remaining = deadline - time.monotonic()
            if self.wait_for(
                lambda: self.pending_events() == 0, min(patience, max(remaining, 0))
            ):
                return True, manual_runs
            if time.monotonic() >= deadline:
                return False, manual_runs
            self.sleep_to_next_second()
            self.run_cron(cron_id)
            manual_runs += 1

    @staticmethod
    def sleep_to_next_second(margin=0.02):
        """Sleep until just after the next whole second of the clock."""
        time.sleep(1 - time.time() % 1 + margin)

    def wait_until_paid(self, invoice_ids, timeout=60.0):
        """Wait until every invoice is paid or in payment; True if so."""

        def all_paid():
            states = self.payment_states(invoice_ids)
            return all(states.get(i) in ("paid", "in_payment") for i in invoice_ids)

        return self.wait_for(all_paid, timeout, interval=0.05)
