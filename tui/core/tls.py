"""One TLS context for every HTTP client of the process.

httpx builds a context per client, and each one loads the whole CA bundle again (about 20 ms
of CPU here): the dashboard makes a client per provider and one for videos, and starts again
each time a provider is added. The context is only read once made, so one is shared.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default (certifi's bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR`), made once."""
    return httpx.create_ssl_context()
