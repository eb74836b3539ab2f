# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import PoFileReader, TranslationModuleReader

PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    """The template and the Dutch translation follow the code."""

    def _read_po(self, filename):
        path = file_path(f"crm_mollie/i18n/{filename}")
        with open(path, "rb") as po:
            return {entry["src"]: entry["value"] for entry in PoFileReader(po)}

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
        untranslated = [src for src in template if not dutch.get(src)]
        self.assertFalse(untranslated, "terms without Dutch translation")
        for src, value in dutch.items():
            self.assertEqual(
                sorted(PLACEHOLDER.findall(src)),
                sorted(PLACEHOLDER.findall(value)),
                f"placeholders differ in the Dutch of {src!r}",
            )
