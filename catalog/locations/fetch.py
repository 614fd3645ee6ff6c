"""The one way the catalog fetches http(s) content: a guard against server-side request forgery.

Location URLs and `$text` placeholders come from untrusted descriptor files, so every request (and every
redirect hop) is checked before it is made: http/https only, a host on `PAVED_CATALOG_ALLOWED_HOSTS`, and
every address the host resolves to public (not loopback, private, link-local, reserved, multicast or
unspecified) unless `PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES` is on. Responses are streamed under a byte cap
and an overall deadline. Remaining risk: DNS may answer differently between our check and the connection
(rebinding); the allow-list of hosts is the main defence and must name hosts you trust.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from fnmatch import fnmatchcase
from typing import Final
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

MAX_REDIRECTS: Final = 3
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK: Final = 64 * 1024

_session: requests.Session | None = None


class FetchError(Exception):
    """A URL that may not or could not be fetched; the message names the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def session() -> requests.Session:
    """One client for every fetch; environment proxies and .netrc are ignored so that checks mean what they say."""
    global _session
    if _session is None:
        client = requests.Session()
        client.trust_env = False
        client.headers["User-Agent"] = "Paved-catalog/1"
        _session = client
    return _session


def host_allowed(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(fnmatchcase(host, pattern.lower()) for pattern in settings.PAVED_CATALOG_ALLOWED_HOSTS)


def _address_problem(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, label in (
        (ip.is_loopback, "a loopback"),
        (ip.is_link_local, "a link-local"),
        (ip.is_multicast, "a multicast"),
        (ip.is_unspecified, "an unspecified"),
        (ip.is_reserved, "a reserved"),
        (ip.is_private, "a private"),
    ):
        if flag:
            return f"resolves to {label} address {ip}"
    if not ip.is_global:
        return f"resolves to a non-public address {ip}"
    return None


def check_url(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """Raise FetchError unless `url` may be fetched under the rules in this module's docstring."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes:
        raise FetchError(url, f"scheme {parts.scheme or '(none)'!r} is not allowed, only {' and '.join(schemes)}")
    host = parts.hostname
    if not host:
        raise FetchError(url, "the URL has no host")
    if parts.username or parts.password:
        raise FetchError(url, "credentials in URLs are not allowed")
    if not host_allowed(host):
        raise FetchError(url, f"host not allowed: {host} is not in PAVED_CATALOG_ALLOWED_HOSTS")
    if settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        infos = socket.getaddrinfo(
            host, port or (443 if parts.scheme.lower() == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(url, f"host {host} could not be resolved ({exc})") from None
    for info in infos:
        problem = _address_problem(str(info[4][0]))
        if problem:
            raise FetchError(url, problem)


def fetch(url: str, *, max_bytes: int, timeout: float | None = None) -> bytes:
    """GET `url` and return its body, following at most MAX_REDIRECTS redirects, each checked like the first."""
    timeout = float(timeout if timeout is not None else settings.PAVED_CATALOG_FETCH_TIMEOUT_SECONDS)
    original = url
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url)
        response = _get(url, timeout)
        try:
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(url, f"answered a redirect ({response.status_code}) without a Location")
                target = urljoin(url, location)
                try:
                    check_url(target)
                except FetchError as exc:
                    raise FetchError(original, f"redirect to {target} refused: {exc.reason}") from None
                url = target
                continue
            if response.status_code >= 400:
                raise FetchError(url, f"answered HTTP {response.status_code} {response.reason or ''}".rstrip())
            return _body(url, response, max_bytes=max_bytes, timeout=timeout)
        finally:
            response.close()
    raise FetchError(original, f"more than {MAX_REDIRECTS} redirects")


def _get(url: str, timeout: float) -> requests.Response:
    try:
        return session().get(url, stream=True, allow_redirects=False, timeout=(min(timeout, 5.0), timeout))
    except requests.Timeout:
        raise FetchError(url, f"timed out after {_seconds(timeout)} s") from None
    except requests.ConnectionError as exc:
        raise FetchError(url, f"could not connect ({_root_cause(exc)})") from None
    except requests.RequestException as exc:
        raise FetchError(url, f"request failed ({exc})") from None


def _body(url: str, response: requests.Response, *, max_bytes: int, timeout: float) -> bytes:
    too_large = f"larger than {max_bytes} bytes"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, too_large)
    # The read timeout bounds each wait; the deadline bounds a server that trickles bytes forever.
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(url, too_large)
            if time.monotonic() > deadline:
                raise FetchError(url, f"timed out after {_seconds(timeout)} s")
            chunks.append(chunk)
    except requests.Timeout:
        raise FetchError(url, f"timed out after {_seconds(timeout)} s") from None
    except requests.RequestException as exc:
        raise FetchError(url, f"the response could not be read ({_root_cause(exc)})") from None
    return b"".join(chunks)


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc)
    # urllib3 wraps the OS error in long reprs; the last clause is what a person needs.
    if ": " in text and "Errno" in text:
        text = text[text.index("[Errno") :] if "[Errno" in text else text
    return text.rstrip(")'\"")
