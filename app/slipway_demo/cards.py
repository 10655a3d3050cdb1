"""What a card is: its slug rules, how its markdown becomes HTML, and its public view."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

# Lowercase words joined by single hyphens: safe in a URL path and a MongoDB key as is.
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX_LENGTH = 64


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= SLUG_MAX_LENGTH and _SLUG.fullmatch(slug) is not None


_SAFE_URL_SCHEMES = frozenset({"", "http", "https", "mailto"})


def _is_safe_url(url: str) -> bool:
    # The serializer keeps character references in attributes as written, so the URL is
    # judged as a browser reads it: references decoded, and control characters or blanks
    # ("java&#9;script:", which browsers read as "javascript:") refused outright.
    url = html.unescape(url)
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return False
    return urlsplit(url).scheme.lower() in _SAFE_URL_SCHEMES


class _DropUnsafeUrls(Treeprocessor):
    def run(self, root: Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                url = element.get(attribute)
                if url is not None and not _is_safe_url(url):
                    del element.attrib[attribute]


class _NoRawHtml(Extension):
    """Card text is shown to every visitor, so raw HTML in it is escaped, not passed
    through, and links and images may only use harmless URL schemes."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_DropUnsafeUrls(md), "slipway_drop_unsafe_urls", 0)


def render_markdown(text: str) -> str:
    return markdown.markdown(text, extensions=["fenced_code", "tables", _NoRawHtml()])


def source_digest(text: str) -> str:
    """Names the markdown a card's HTML was made from, so a stale rendering shows."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_rendered(card: Mapping[str, Any]) -> bool:
    return card.get("html") is not None and card.get("html_source") == source_digest(card["markdown"])


def public_view(card: Mapping[str, Any]) -> dict[str, Any]:
    """The API's view of a stored card: HTML only while it matches the current markdown."""
    rendered = is_rendered(card)
    return {
        "slug": card["slug"],
        "title": card["title"],
        "markdown": card["markdown"],
        "html": card["html"] if rendered else None,
        "rendered": rendered,
    }
