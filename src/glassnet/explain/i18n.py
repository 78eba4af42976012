"""English and Chinese for the traces, through gettext message catalogues.

The English text is the message id; ``src/glassnet/locale/zh/LC_MESSAGES/glassnet.po`` holds
the Chinese, compiled to ``glassnet.mo`` by ``tools/compile_catalogues.py`` (Babel). A renderer
given ``lang="zh"`` makes that catalogue current while it builds its document (a context
variable, as the notation presets do); ``t(message)`` looks a message up in it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
from collections.abc import Iterator
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = ["LANGS", "LOCALE_DIR", "t", "using", "check_lang", "current"]

LANGS = ("en", "zh")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "glassnet"

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("glassnet_lang", default="en")


def check_lang(lang: str | None) -> str:
    """``lang`` checked: "en" (also for None) or "zh"."""
    if lang is None:
        return "en"
    if lang not in LANGS:
        raise InvalidArgumentError(
            f"lang must be one of {', '.join(LANGS)}, received lang={lang!r}"
        )
    return lang


@functools.cache
def _catalogue(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang])


def current() -> str:
    """The language in use ("en" unless a renderer set another)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Make ``lang`` current while a document is built and rendered."""
    token = _CURRENT.set(check_lang(lang))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def t(message: str) -> str:
    """``message`` in the current language (the English itself when it has no translation)."""
    return _catalogue(_CURRENT.get()).gettext(message)
