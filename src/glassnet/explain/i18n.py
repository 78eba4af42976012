"""English and Chinese for the traces: glassnet.i18n (below every layer, so that training's
progress lines can use it too), kept importable here."""

from ..i18n import (
    LANGS,
    LOCALE_DIR,
    N_,
    Message,
    check_lang,
    current,
    in_lang,
    localise,
    t,
    untranslated,
    using,
)

__all__ = [
    "LANGS",
    "LOCALE_DIR",
    "t",
    "using",
    "check_lang",
    "current",
    "untranslated",
    "in_lang",
    "N_",
    "Message",
    "localise",
]
