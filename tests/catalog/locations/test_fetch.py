"""The fetch guard: which URLs may be fetched, redirects, timeouts and size caps."""

from __future__ import annotations

import socket
import threading

import pytest

from catalog.locations import fetch
from tests.catalog.remotes import http_server


@pytest.fixture
def open_local(settings):
    """Allowed-path tests: a local server is reachable only with the private-address override on."""
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    return settings


@pytest.fixture
def strict(settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["*.example.com", "127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = False
    return settings


def test_fetch_returns_the_body_from_an_allowed_host(open_local):
    with http_server({"/a.yaml": (200, {}, b"kind: Component\n")}) as base:
        assert fetch.fetch(f"{base}/a.yaml", max_bytes=1000) == b"kind: Component\n"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("ftp://files.example.com/x", "scheme 'ftp' is not allowed"),
        ("gopher://a.example.com/", "scheme 'gopher' is not allowed"),
        ("https://evil.test/catalog.yaml", "host not allowed: evil.test"),
        ("https://example.com.evil.test/x", "host not allowed"),
        ("https://user:secret@a.example.com/x", "credentials in URLs are not allowed"),
        ("http:///nohost", "the URL has no host"),
        ("http://127.0.0.1/x", "resolves to a loopback address 127.0.0.1"),
        ("http://10.0.0.5/x", "resolves to a private address 10.0.0.5"),
        ("http://169.254.169.254/latest/meta-data/", "resolves to a link-local address 169.254.169.254"),
        ("http://[::1]/x", "resolves to a loopback address ::1"),
    ],
)
def test_check_url_refuses_forbidden_urls_naming_the_reason(strict, url, reason):
    with pytest.raises(fetch.FetchError) as caught:
        fetch.check_url(url)

    assert reason in str(caught.value)
    assert str(caught.value).startswith(url)


def test_check_url_refuses_a_host_whose_dns_answers_a_private_address(strict, monkeypatch):
    monkeypatch.setattr(
        fetch.socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443))]
    )

    with pytest.raises(fetch.FetchError, match=r"internal\.example\.com.*resolves to a private address 10\.0\.0\.5"):
        fetch.check_url("https://internal.example.com/catalog-info.yaml")


def test_check_url_refuses_ipv4_mapped_ipv6_loopback(strict, monkeypatch):
    monkeypatch.setattr(
        fetch.socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", 443, 0, 0))],
    )

    with pytest.raises(fetch.FetchError, match=r"loopback address 127\.0\.0\.1"):
        fetch.check_url("https://sneaky.example.com/")


def test_check_url_matches_host_globs(strict, monkeypatch):
    monkeypatch.setattr(
        fetch.socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))],
    )

    fetch.check_url("https://git.example.com/acme/catalog-info.yaml")  # no error


def test_fetch_follows_a_redirect_to_an_allowed_target(open_local):
    routes = {"/old": (302, {"Location": "/new"}, b""), "/new": (200, {}, b"moved here")}
    with http_server(routes) as base:
        assert fetch.fetch(f"{base}/old", max_bytes=100) == b"moved here"


def test_fetch_refuses_a_redirect_to_a_forbidden_host(open_local):
    routes = {"/r": (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")}
    open_local.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    with http_server(routes) as base, pytest.raises(fetch.FetchError) as caught:
        fetch.fetch(f"{base}/r", max_bytes=100)

    assert "redirect to http://169.254.169.254/latest/meta-data/ refused: host not allowed" in str(caught.value)


def test_fetch_refuses_a_redirect_to_a_private_address_when_the_override_is_off(settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = False
    # The first hop is checked too: the local server itself is refused without the override.
    with (
        http_server({"/r": (302, {"Location": "http://localhost/x"}, b"")}) as base,
        pytest.raises(fetch.FetchError, match=r"loopback address 127\.0\.0\.1"),
    ):
        fetch.fetch(f"{base}/r", max_bytes=100)


def test_fetch_stops_after_three_redirects(open_local):
    routes = {f"/{i}": (302, {"Location": f"/{i + 1}"}, b"") for i in range(5)}
    with http_server(routes) as base, pytest.raises(fetch.FetchError, match="more than 3 redirects"):
        fetch.fetch(f"{base}/0", max_bytes=100)


def test_fetch_refuses_a_body_larger_than_the_cap(open_local):
    with (
        http_server({"/big": (200, {}, b"x" * 5000)}) as base,
        pytest.raises(fetch.FetchError, match="larger than 1000 bytes"),
    ):
        fetch.fetch(f"{base}/big", max_bytes=1000)


def test_fetch_refuses_a_body_larger_than_the_cap_without_content_length(open_local):
    routes = {"/big": (200, {"Content-Length": "10"}, b"x" * 10)}
    with http_server(routes) as base, pytest.raises(fetch.FetchError, match="larger than 5 bytes"):
        fetch.fetch(f"{base}/big", max_bytes=5)


def test_fetch_reports_http_errors(open_local):
    with http_server({}) as base, pytest.raises(fetch.FetchError, match="answered HTTP 404"):
        fetch.fetch(f"{base}/missing.yaml", max_bytes=100)


def test_fetch_reports_an_unreachable_host(open_local):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(fetch.FetchError, match=rf"127\.0\.0\.1:{port}/x: could not connect"):
        fetch.fetch(f"http://127.0.0.1:{port}/x", max_bytes=100)


def test_fetch_times_out_on_a_silent_server(open_local):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        with pytest.raises(fetch.FetchError, match="timed out after 1 s"):
            fetch.fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/x", max_bytes=100, timeout=1)
    finally:
        for conn in accepted:
            conn.close()
        listener.close()
