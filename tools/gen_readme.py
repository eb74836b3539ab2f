# Copyright 2026 crm_mollie contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Build crm_mollie/README.rst from the Markdown fragments in readme/.

OCA builds README.rst with oca-gen-addon-readme, which is not on PyPI; this
does the same for the small Markdown subset our fragments use: paragraphs,
bullet and numbered lists, ``**bold**``, ``*italic*``, inline code and
``##`` headings.

    python tools/gen_readme.py          # rewrite README.rst
    python tools/gen_readme.py --check  # exit 1 if README.rst is stale
"""

import ast
import re
import sys
from pathlib import Path

ADDON = Path(__file__).resolve().parent.parent / "crm_mollie"
SECTIONS = [
    ("DESCRIPTION.md", None),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("ROADMAP.md", "Known issues / Roadmap"),
    ("HISTORY.md", "Changelog"),
    ("CONTRIBUTORS.md", "Contributors"),
]


def _inline(text):
    text = re.sub(r"`([^`]+)`", r"``\1``", text)
    return text


def _heading(title, char):
    return [title, char * len(title), ""]


def convert(markdown, sub_char="~"):
    """Convert one fragment's Markdown to reStructuredText lines."""
    out = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        match = re.match(r"^(#+)\s+(.*)$", line)
        if match:
            if out and out[-1] != "":
                out.append("")
            out.extend(_heading(_inline(match.group(2)), sub_char))
            continue
        out.append(_inline(line))
    while out and out[-1] == "":
        out.pop()
    return out


def build():
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text())
    lines = ["=" * len(manifest["name"]), manifest["name"], "=" * len(manifest["name"])]
    lines += [
        "",
        "|badge1| |badge2|",
        "",
        f".. |badge1| image:: https://img.shields.io/badge/maturity-"
        f"{manifest['development_status']}-red.png",
        "    :alt: " + manifest["development_status"],
        f".. |badge2| image:: https://img.shields.io/badge/license-"
        f"{manifest['license']}-blue.png",
        "    :alt: License: " + manifest["license"],
        "",
    ]
    for filename, title in SECTIONS:
        path = ADDON / "readme" / filename
        if not path.exists():
            continue
        if title:
            lines += _heading(title, "=")
        else:
            lines += [".. contents::", "   :local:", ""]
        lines += convert(path.read_text()) + [""]
    lines += _heading("Maintainers", "=")
    lines += [
        f"This module is maintained by {manifest['author']}, version "
        f"{manifest['version']}, license {manifest['license']}.",
        "",
    ]
    return "\n".join(lines)


def main():
    target = ADDON / "README.rst"
    text = build()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            sys.stderr.write(
                "crm_mollie/README.rst is out of date: run python tools/gen_readme.py\n"
            )
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
