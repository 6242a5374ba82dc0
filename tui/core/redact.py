"""Secrets out of every message: signed URLs lose their query string, an API key becomes `***`.

A video URL's query string (`X-Tos-Signature`, `X-Amz-Signature`, ...) is a credential until it
expires, and an API key is one for good. Events, stored errors, log lines and the `httpx`
logger (which logs every request URL at INFO) only ever see `scheme://host/path`, and a key a
server echoes back is masked before the message is kept. The downloader and the poller both
clean their messages here, so there is one rule and one pattern.
"""

from __future__ import annotations

import logging
import re
from typing import TypeGuard
from urllib.parse import urlsplit, urlunsplit

import httpx

# A URL inside free text, split at its `?`: group 1 is what may be shown.
_URL_WITH_QUERY = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*")


def redact_url(url: str | httpx.URL | None) -> str:
    """`scheme://host/path` only: a signed query string is a credential until it expires."""
    if url is None:
        return ""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact_urls_in(text: str) -> str:
    """`text` with the query string of every http(s) URL in it removed."""
    return _URL_WITH_QUERY.sub(r"\1", text)


def exception_text(exc: BaseException) -> str:
    """An exception as one short reason, without signed query strings (httpx puts the
    request URL into some of its messages)."""
    return redact_urls_in(str(exc) or type(exc).__name__)


def mask_secret(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` (an API key a server echoed) replaced by `***`."""
    return text.replace(secret, "***") if secret else text


class RedactSignedUrls(logging.Filter):
    """Strips query strings from URLs in the `httpx` logger's records (it logs every request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(a) if isinstance(a, httpx.URL) or _looks_like_url(a) else a
                for a in record.args
            )
        elif isinstance(record.msg, str) and _looks_like_url(record.msg):
            record.msg = redact_urls_in(record.msg)
        return True


def quiet_httpx_urls() -> None:
    """Install `RedactSignedUrls` on the `httpx` logger once per process."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSignedUrls) for f in logger.filters):
        logger.addFilter(RedactSignedUrls())


def _looks_like_url(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and "://" in value and "?" in value
