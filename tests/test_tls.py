"""The one TLS context every client shares still checks certificates and host names."""

from __future__ import annotations

import ssl

from tui.core.tls import tls_context


def test_the_shared_context_verifies_certificates_and_host_names() -> None:
    context = tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded


def test_it_is_made_once_for_the_whole_process() -> None:
    assert tls_context() is tls_context()
