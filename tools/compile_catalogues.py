"""Compile the message catalogues (src/glassnet/locale/*/LC_MESSAGES/glassnet.po → .mo).

Run after editing a .po file: ``python tools/compile_catalogues.py`` (needs Babel, a
development dependency; the compiled .mo files are committed so that users do not need it).
"""

from __future__ import annotations

import sys
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[1] / "src" / "glassnet" / "locale"


def compile_all() -> list[Path]:
    """Compile every glassnet.po under LOCALE; returns the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/glassnet.po")):
        with po.open("rb") as handle:
            catalogue = read_po(handle)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as handle:
            write_mo(handle, catalogue, use_fuzzy=False)
        written.append(mo)
    return written


if __name__ == "__main__":
    for path in compile_all():
        print(f"wrote {path}")
    sys.exit(0)
