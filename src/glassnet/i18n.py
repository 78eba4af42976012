"""English and Chinese for glassnet's output (traces, worksheets, diagrams, the doctor's
findings, the report, plots, the command), through gettext message catalogues.

Below every layer of the package (training's progress lines use it too). The English text is
the message id; ``src/glassnet/locale/zh/LC_MESSAGES/glassnet.po`` holds
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
from typing import Any

from .errors import InvalidArgumentError

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

LANGS = ("en", "zh")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "glassnet"

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("glassnet_lang", default="en")
# Messages looked up in another language than English that its catalogue lacks (the tests read
# it: every message a Chinese document uses must have its translation).
_UNTRANSLATED: set[tuple[str, str]] = set()


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


def in_lang(lang: str | None) -> contextlib.AbstractContextManager[str]:
    """``using(lang)`` when a language is given, else the current one kept (for renderers
    called inside a document that already chose its language)."""
    return using(lang if lang is not None else _CURRENT.get())


def t(message: str) -> str:
    """``message`` in the current language (the English itself when it has no translation)."""
    lang = _CURRENT.get()
    if lang == "en":
        return message
    found = _catalogue(lang).gettext(message)
    if found == message and message:
        _UNTRANSLATED.add((lang, message))
    return found


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue where it is written, translated later by ``t``
    (gettext's convention for messages kept in tables)."""
    return message


class Message(str):
    """English text (it is a ``str``: it prints, compares and serialises as the English) that
    keeps its message id and arguments, so that a renderer can show it in another language:
    ``localise(note)``. For notes made once (when a trace is built) and rendered later."""

    message: str
    args: dict[str, Any]

    def __new__(cls, message: str, **args: Any) -> Message:
        self = super().__new__(cls, message.format(**args))
        self.message = message
        self.args = args
        return self

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, Any]]:  # copy, deepcopy, pickle
        return (self.message,), self.args


def localise(text: str) -> str:
    """``text`` in the current language when it is a ``Message``; other text as it is."""
    if not isinstance(text, Message):
        return text
    return t(text.message).format(**{k: localise(v) for k, v in text.args.items()})


def untranslated() -> set[tuple[str, str]]:
    """(language, message) for every message looked up so far that had no translation."""
    return set(_UNTRANSLATED)
