"""Reading the notebook displays back with the standard library's HTML parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any


class Page(HTMLParser):
    """Tables (rows of cell texts), tags with their attributes, and the text outside tables."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._depth = 0  # inside how many tables
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._depth += 1
            self.tables.append([])
        elif tag == "tr" and self._depth:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._depth:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        else:
            self.text.append(data)

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def find(self, tag: str) -> list[dict[str, Any]]:
        return [attrs for name, attrs in self.tags if name == tag]


def polyline_points(attrs: dict[str, Any]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in attrs["points"].split())]


_REMOTE_URL = re.compile(r"url\(\s*['\"]?\s*(https?:|//)")
_FETCHING = ("src", "href", "xlink:href", "action", "data", "poster", "srcset", "formaction")


class _Remote(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            text = (value or "").strip().lower()
            if name in _FETCHING and (text.startswith(("http:", "https:", "//", "ftp:"))):
                self.found.append(f"{tag} {name}={value}")
            if name == "style" and (_REMOTE_URL.search(text) or "@import" in text):
                self.found.append(f"{tag} style={value}")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and ("@import" in data or _REMOTE_URL.search(data.lower())):
            self.found.append(f"<style> {data[:80]}")


def remote_references(html: str) -> list[str]:
    """Everything in ``html`` that would load from elsewhere: scripts, stylesheets, frames,
    and http(s):// or protocol-relative src/href (an xmlns names a namespace; it loads
    nothing)."""
    parser = _Remote()
    parser.feed(html)
    parser.close()
    return parser.found
