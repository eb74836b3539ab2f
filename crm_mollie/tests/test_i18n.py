# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader

PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")
# Terms spelled the same in Dutch. oca-checks-po empties a translation equal
# to its source, so these stay without msgstr on purpose.
SAME_IN_DUTCH = {
    "Contact",
    "Cursors",
    "ID",
    "In Odoo",
    "Live",
    "Mollie",
    "Open",
    "Status",
    "Test",
    "Webhook",
    "access_...",
    "live_...",
    "test_...",
    "whsec_...",
}


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    """The template and the Dutch translation follow the code."""

    def _read_po(self, filename):
        path = file_path(f"crm_mollie/i18n/{filename}")
        return {entry.msgid: entry.msgstr for entry in polib.pofile(path)}

    def test_template_lists_exactly_the_terms_of_the_code_and_views(self):
        extracted = {
            entry[4]
            for entry in TranslationModuleReader(self.env.cr, modules=["crm_mollie"])
        }
        template = set(self._read_po("crm_mollie.pot"))
        self.assertFalse(extracted - template, "missing from the .pot: ./dev pot")
        self.assertFalse(template - extracted, "stale in the .pot: ./dev pot")

    def test_every_term_has_a_dutch_translation_with_the_same_placeholders(self):
        template = self._read_po("crm_mollie.pot")
        dutch = self._read_po("nl.po")
        untranslated = [
            src for src in template if not dutch.get(src) and src not in SAME_IN_DUTCH
        ]
        self.assertFalse(untranslated, "terms without Dutch translation")
        for src, value in dutch.items():
            self.assertEqual(
                sorted(PLACEHOLDER.findall(src)),
                sorted(PLACEHOLDER.findall(value)),
                f"placeholders differ in the Dutch of {src!r}",
            )
