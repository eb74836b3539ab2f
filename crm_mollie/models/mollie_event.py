# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re
from collections import Counter
from datetime import timedelta

from psycopg2.extensions import (
    ISOLATION_LEVEL_READ_COMMITTED,
    TransactionRollbackError,
)

from odoo import api, fields, models, sql_db
from odoo.tools import SQL

from odoo.addons.payment.logging import get_payment_logger

from .. import const
from ..exceptions import MollieError

_logger = get_payment_logger(__name__, const.SENSITIVE_KEYS)

RESOURCE_ID_RE = re.compile(const.WEBHOOK_ID_PATTERN)


class MollieEvent(models.Model):
    """The inbox between Mollie and the books.

    A webhook only stores (or merges) one row per Mollie object and answers;
    the processing cron is the single writer that fetches the object from
    Mollie and applies it. Rows are kept after processing: they are the audit
    trail of what Mollie told us, when, and what came of it.
    """

    _name = "mollie.event"
    _description = "Mollie Event"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _rec_name = "resource_id"

    company_id = fields.Many2one(
        comodel_name="res.company", required=True, index=True, readonly=True
    )
    resource_id = fields.Char(
        string="Mollie ID",
        required=True,
        readonly=True,
        help="The Mollie object the notification is about (tr_..., re_..., chb_...).",
    )
    source = fields.Selection(
        selection=[
            ("webhook", "Webhook"),
            ("signed_event", "Signed event"),
            ("reconciliation", "Reconciliation"),
            ("manual", "Manual"),
        ],
        required=True,
        readonly=True,
        default="webhook",
    )
    state = fields.Selection(
        selection=[
            ("pending", "Pending"),
            ("done", "Done"),
            ("ignored", "Ignored"),
            ("review", "To review"),
        ],
        required=True,
        default="pending",
        index=True,
        readonly=True,
    )
    hits = fields.Integer(
        default=1,
        readonly=True,
        help="How many notifications were merged into this row.",
    )
    attempts = fields.Integer(
        readonly=True, help="Processing attempts since the last notification."
    )
    received_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    next_attempt_at = fields.Datetime(
        default=fields.Datetime.now, readonly=True, index=True
    )
    processed_at = fields.Datetime(readonly=True)
    last_error = fields.Text(readonly=True)
    payment_id = fields.Many2one(
        comodel_name="mollie.payment", readonly=True, index="btree_not_null"
    )

    _resource_company_unique = models.Constraint(
        "UNIQUE(company_id, resource_id)",
        "Mollie sends one object once per company: its events merge into one row.",
    )
    _pending_index = models.Index("(next_attempt_at) WHERE state = 'pending'")

    # === BUSINESS METHODS === #

    @api.model
    def _mollie_enqueue(self, cr, company_id, resource_id, source="webhook"):
        """Store or merge the event for one Mollie object, at once.

        Runs on a cursor of its own in READ COMMITTED: concurrent duplicates of
        one webhook then wait for each other's row lock instead of failing
        with serialization errors (REPEATABLE READ, Odoo's default, would make
        49 of 50 simultaneous duplicates retry the whole request).

        :param cr: A fresh cursor on which no statement ran yet.
        :param int company_id: The company the signed URL names.
        :param str resource_id: A Mollie id that passed the allow-list.
        :param str source: Where the notification came from.
        :return: ``True`` when the row was created or reopened, i.e. when the
            processor has new work.
        :rtype: bool
        """
        if isinstance(cr, sql_db.Cursor):
            # A real, fresh cursor (tests hand out a shared test cursor, whose
            # transaction is already under way).
            cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
        cr.execute(self._mollie_upsert_sql(company_id, [resource_id], source, True))
        created, state = cr.fetchone()
        return bool(created) or state == "pending"

    @api.model
    def _mollie_upsert_sql(self, company_id, resource_ids, source, hurry):
        """Insert or reopen one pending row per Mollie id.

        Times are whole seconds, as Odoo's own datetimes, so that an event is
        due the very second it arrives. A row under review stays there: only
        a person puts it back.

        :param bool hurry: A fresh notification makes a waiting event due at
            once (a webhook); otherwise its backoff is kept (reconciliation).
        """
        waiting = "e.next_attempt_at" if not hurry else "EXCLUDED.next_attempt_at"
        return SQL(
            """
            INSERT INTO mollie_event AS e (
                company_id, resource_id, source, state, hits, attempts,
                received_at, next_attempt_at, create_date, write_date,
                create_uid, write_uid
            )
            SELECT %(company)s, rid, %(source)s, 'pending', 1, 0,
                   n.t, n.t, n.t, n.t, %(uid)s, %(uid)s
              FROM unnest(%(ids)s::varchar[]) AS rid,
                   (SELECT date_trunc('second', clock_timestamp() at time zone 'UTC')
                        AS t) AS n
            ON CONFLICT (company_id, resource_id) DO UPDATE
               SET hits = e.hits + 1,
                   received_at = EXCLUDED.received_at,
                   write_date = EXCLUDED.write_date,
                   state = CASE WHEN e.state = 'review' THEN e.state
                                ELSE 'pending' END,
                   attempts = CASE WHEN e.state = 'pending' THEN e.attempts
                                   ELSE 0 END,
                   next_attempt_at = CASE
                       WHEN e.state = 'review' THEN e.next_attempt_at
                       WHEN e.state = 'pending' THEN %(waiting)s
                       ELSE EXCLUDED.next_attempt_at END
            RETURNING (xmax = 0) AS created, state
            """,
            company=company_id,
            ids=resource_ids,
            source=source,
            uid=self.env.uid,
            waiting=SQL(waiting),
        )

    @api.model
    def _mollie_enqueue_many(self, company, resource_ids, source):
        """Enqueue ids found by the reconciliation walk, in this transaction.

        :return: The number of ids that became (or stayed) pending.
        """
        if not resource_ids:
            return 0
        self.env.flush_all()
        self.env.cr.execute(
            self._mollie_upsert_sql(company.id, list(resource_ids), source, False)
        )
        self.invalidate_model()
        return self.env.cr.rowcount

    @api.model
    def _mollie_trigger_processing(self):
        """Wake the processing cron now rather than at its next interval."""
        cron = self.env.ref(
            "crm_mollie.ir_cron_crm_mollie_process_events", raise_if_not_found=False
        )
        if cron:
            cron.sudo()._trigger()

    @api.model
    def _cron_process_events(self, limit=None):
        """Process due events one by one, each in its own transaction.

        Each row is locked with SKIP LOCKED and re-read just before it is
        applied, so overlapping runs (a manual run beside the scheduled one,
        two servers) split the backlog instead of doing anything twice, and a
        row processed by someone else since the batch was read is skipped.
        """
        limit = limit or const.EVENT_BATCH_SIZE
        cron = self.env["ir.cron"]
        processed = 0
        conflicts = Counter()
        while True:
            event = self._mollie_lock_next_due_event()
            if not event:
                break
            event_id = event.id
            try:
                event._mollie_process()
            except TransactionRollbackError:
                # Another writer (Odoo's own Mollie checkout, another server's
                # processor) changed a row this transaction read: its
                # snapshot is stale. Start the event over in a fresh one.
                self.env.cr.rollback()
                conflicts[event_id] += 1
                _logger.info(
                    "Mollie event %(event)s met a concurrent update; retrying",
                    {"event": event_id},
                )
                if conflicts[event_id] >= const.EVENT_CONFLICT_RETRIES:
                    self.browse(event_id)._mollie_postpone()
                    cron._commit_progress(0)
                continue
            processed += 1
            remaining = self.search_count(self._mollie_due_domain())
            if cron._commit_progress(processed=1, remaining=remaining) <= 0:
                break
            if processed >= limit:
                break
        self._mollie_check_backlog_alerts()
        if self.search_count(self._mollie_due_domain(), limit=1):
            # Stopped by the time budget or the batch size with work left:
            # ask for the next run now rather than at the next interval.
            self._mollie_trigger_processing()
        return processed

    def _mollie_postpone(self):
        """Retry later an event that keeps meeting concurrent updates."""
        self.write(
            {
                "attempts": self.attempts + 1,
                "last_error": "concurrent update",
                "next_attempt_at": fields.Datetime.now()
                + timedelta(seconds=const.EVENT_RETRY_FIRST_DELAY),
            }
        )

    @api.model
    def _mollie_due_domain(self):
        return [
            ("state", "=", "pending"),
            ("next_attempt_at", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _mollie_lock_next_due_event(self):
        """Lock and return the oldest due event nobody else holds."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM mollie_event
                 WHERE state = 'pending'
                   AND next_attempt_at <= clock_timestamp() at time zone 'UTC'
                 ORDER BY next_attempt_at, id
                 LIMIT 1
                 FOR NO KEY UPDATE SKIP LOCKED
                """
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        event = self.browse(row[0])
        event.invalidate_recordset()
        return event

    def _mollie_process(self):
        """Fetch this event's object from Mollie and apply it.

        Transient failures (network, 5xx, 429, 401) keep the event pending
        with exponential backoff; a 404 that lasts marks it ignored. Any other
        error is logged and parks the event for review: one bad object never
        stops the run.

        Note: ``self.ensure_one()``; the row is locked by the caller.
        """
        self.ensure_one()
        if self.state != "pending":
            return
        company = self.company_id
        Payment = self.env["mollie.payment"].with_company(company)
        try:
            with self.env.cr.savepoint():
                payment = Payment._mollie_sync_from_resource(self.resource_id)
                company.sudo()._mollie_note_api_success()
        except MollieError as error:
            self._mollie_handle_api_error(error)
            return
        except TransactionRollbackError:
            raise  # Transient: the caller starts the event over.
        except Exception as error:  # noqa: BLE001 - one bad event must not stop the run
            _logger.exception(
                "Mollie event %(event)s for %(resource)s failed; kept for review",
                {"event": self.id, "resource": self.resource_id},
            )
            self.write(
                {
                    "state": "review",
                    "last_error": f"{type(error).__name__}: {error}",
                    "processed_at": fields.Datetime.now(),
                }
            )
            return
        self.write(
            {
                "state": "done",
                "attempts": self.attempts + 1,
                "processed_at": fields.Datetime.now(),
                "last_error": False,
                "payment_id": payment.id if payment else False,
            }
        )

    def _mollie_handle_api_error(self, error):
        """Back off on transient errors, give up on a lasting 404."""
        self.ensure_one()
        attempts = self.attempts + 1
        message = str(error.args[0] if error.args else error)
        if error.kind == "not_found" and attempts >= const.NOT_FOUND_MAX_ATTEMPTS:
            _logger.warning(
                "Mollie does not know %(resource)s for company %(company)s after "
                "%(attempts)d attempts: event ignored",
                {
                    "resource": self.resource_id,
                    "company": self.company_id.id,
                    "attempts": attempts,
                },
            )
            self.write(
                {
                    "state": "ignored",
                    "attempts": attempts,
                    "last_error": message,
                    "processed_at": fields.Datetime.now(),
                }
            )
            return
        if error.kind in ("authentication", "unreachable", "server", "rate_limited"):
            self.company_id.sudo()._mollie_note_api_failure()
        delay = min(
            const.EVENT_RETRY_FIRST_DELAY * 2 ** (attempts - 1),
            const.EVENT_RETRY_MAX_DELAY,
        )
        if error.retry_after:
            delay = max(delay, error.retry_after)
        _logger.info(
            "Mollie event %(resource)s stays pending (%(kind)s), retry in %(delay)d s",
            {"resource": self.resource_id, "kind": error.kind, "delay": delay},
        )
        self.write(
            {
                "attempts": attempts,
                "last_error": message,
                "next_attempt_at": fields.Datetime.now() + timedelta(seconds=delay),
            }
        )

    @api.model
    def _mollie_check_backlog_alerts(self):
        """Tell Mollie administrators when the inbox is stuck.

        Alerts when the oldest pending event waits longer than
        ``const.ALERT_PENDING_AGE``, or a company's API calls failed
        ``const.ALERT_CONSECUTIVE_FAILURES`` times in a row. One open alert
        activity at a time: a stuck queue must not flood anyone's inbox.
        """
        limit = fields.Datetime.now() - timedelta(seconds=const.ALERT_PENDING_AGE)
        oldest = self.search(
            [("state", "=", "pending"), ("received_at", "<", limit)],
            order="received_at",
            limit=1,
        )
        if oldest:
            oldest._mollie_alert_administrators(
                self.env._(
                    "Mollie events are waiting for more than %(minutes)s minutes "
                    "(oldest: %(resource)s, last error: %(error)s).",
                    minutes=const.ALERT_PENDING_AGE // 60,
                    resource=oldest.resource_id,
                    error=oldest.last_error or "-",
                )
            )
        failing = (
            self.env["res.company"]
            .sudo()
            .search(
                [("mollie_api_failure_count", ">=", const.ALERT_CONSECUTIVE_FAILURES)]
            )
        )
        for company in failing:
            event = self.search(
                [("company_id", "=", company.id)], order="id desc", limit=1
            )
            if event:
                event._mollie_alert_administrators(
                    self.env._(
                        "Calls to Mollie for %(company)s failed %(count)s times in a "
                        "row. Check the API key and Mollie's status.",
                        company=company.name,
                        count=company.mollie_api_failure_count,
                    )
                )

    def _mollie_alert_administrators(self, message):
        self.ensure_one()
        activity_type = self.env.ref("mail.mail_activity_data_warning")
        group = self.env.ref("crm_mollie.group_mollie_manager")
        open_alerts = (
            self.env["mail.activity"]
            .sudo()
            .search_count(
                [
                    ("res_model", "=", self._name),
                    ("activity_type_id", "=", activity_type.id),
                    ("summary", "=", const.ALERT_SUMMARY),
                ]
            )
        )
        if open_alerts:
            return
        _logger.warning("Mollie alert: %(message)s", {"message": message})
        for user in group.all_user_ids.filtered(
            lambda u: self.company_id in u.company_ids and not u.share
        )[: const.ALERT_MAX_RECIPIENTS]:
            self.sudo().activity_schedule(
                activity_type_id=activity_type.id,
                summary=const.ALERT_SUMMARY,
                note=message,
                user_id=user.id,
            )

    def action_retry(self):
        """Put events back in the queue now (from the list or the form)."""
        self.write(
            {
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": fields.Datetime.now(),
            }
        )
        self._mollie_trigger_processing()
