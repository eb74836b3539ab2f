# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Session-wide guard of the test run: no Mollie secret may reach the log.

Every log record of the whole run, from every logger, is copied to a file. At
the end the file is searched for each secret the tests use; one hit fails the
run, whatever the tests themselves said.
"""

import logging
import tempfile

_capture = {}


class _FileCopyHandler(logging.Handler):
    def __init__(self, stream):
        super().__init__(level=logging.NOTSET)
        self.stream = stream
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record):
        try:
            self.stream.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - a log copy must never break a test
            self.handleError(record)


def pytest_configure(config):
    stream = tempfile.NamedTemporaryFile(
        "w+", prefix="crm_mollie-test-log-", suffix=".log", delete=False
    )
    handler = _FileCopyHandler(stream)
    logging.getLogger().addHandler(handler)
    _capture.update(stream=stream, handler=handler)


def pytest_sessionfinish(session, exitstatus):
    stream = _capture.get("stream")
    if stream is None:
        return
    logging.getLogger().removeHandler(_capture["handler"])
    stream.flush()
    stream.seek(0)
    text = stream.read()
    stream.close()
    from odoo.addons.crm_mollie.tests import test_mollie_simulator as sim_tests
    from odoo.addons.crm_mollie.tests.common import ALL_SECRETS

    secrets = (*ALL_SECRETS, sim_tests.TEST_KEY, sim_tests.LIVE_KEY, sim_tests.TOKEN)
    leaks = [secret[:9] + "..." for secret in secrets if secret in text]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = text.count("\n")
    if leaks:
        session.exitstatus = 1
        message = (
            f"SECRET LEAK: {len(leaks)} Mollie secret(s) found in the log of this "
            f"run ({', '.join(leaks)}); full log: {stream.name}"
        )
    else:
        message = (
            f"log secret check: {lines} log lines scanned for "
            f"{len(secrets)} secrets, none found ({stream.name})"
        )
    if reporter:
        reporter.write_line(message)
