"""The webhook channel: which URLs may be called, how a delivery is signed, sent and retried.

A delivery is one HTTP POST of a JSON body carrying four headers: the delivery id, the event
kind, a Unix timestamp and an HMAC-SHA256 signature of ``"<timestamp>." + body``. Retries are
scheduled by the caller with :func:`retry_delay`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import random
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Resolver",
    "WebhookResult",
    "WebhookUrlRefused",
    "check_webhook_url",
    "post_webhook",
    "retry_delay",
    "sign",
    "verify",
]

DELIVERY_HEADER = "Interlocality-Delivery"
EVENT_HEADER = "Interlocality-Event"
TIMESTAMP_HEADER = "Interlocality-Timestamp"
SIGNATURE_HEADER = "Interlocality-Signature"

MAX_URL_LENGTH = 2000

Resolver = Callable[[str, int], list[str]]
"""Every address a host name resolves to, given the name and the port to be called."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The well-known NAT64 prefix (RFC 6052) embeds an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookUrlRefused(ValueError):
    """A webhook URL that may not be called; ``str()`` of it says why."""


def check_webhook_url(url: str, deployment: str, *, resolve: Resolver | None = None) -> str:
    """``url`` with its scheme and host lower-cased, or :class:`WebhookUrlRefused`.

    Every deployment needs an absolute http or https URL of at most 2000 characters with a
    host, no user name or password and no fragment. In ``"embedded"`` that is all (plain http
    and local receivers are fine, and nothing is looked up). Any other deployment is treated
    as production: https only, no ``localhost`` names, and the host, a literal address or a
    name looked up with ``resolve`` (default: the system resolver), must only have public
    addresses.
    """
    target = _target(url, deployment)
    if deployment != "embedded":
        _public_addresses(target.host, target.port, resolve or _system_resolve)
    return target.url


@dataclass(frozen=True)
class _Target:
    url: str
    host: str
    port: int


def _target(url: str, deployment: str) -> _Target:
    """The checks of :func:`check_webhook_url` that need no lookup."""
    production = deployment != "embedded"
    parts = _split(url, {"https"} if production else {"http", "https"})
    host = _ascii_host(parts)
    try:
        port = parts.port
    except ValueError:
        raise WebhookUrlRefused(f"{url!r} has an invalid port") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    checked = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    if not _client_reads_host(checked, host):
        # The address checked must be the one called, whichever URL parser reads it.
        raise WebhookUrlRefused(f"{url!r} names its host ambiguously")
    return _Target(checked, host, port or _DEFAULT_PORTS[parts.scheme])


def _addresses(target: _Target, deployment: str, resolve: Resolver) -> list[str]:
    """The addresses to call ``target`` at: looked up once, and in production only if every
    one of them is public. The request goes to these, so a name that resolves elsewhere by
    the time the client connects (DNS rebinding) is never called there."""
    if deployment != "embedded":
        return _public_addresses(target.host, target.port, resolve)
    if _literal_address(target.host) is not None:
        return [target.host]
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{target.host} does not resolve")
    return addresses


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header: ``sha256=`` and the hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: int,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp``, no more than ``tolerance`` seconds
    from ``now`` (default: the current time), which turns away replays of old deliveries."""
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (1, 2, …).

    "Full jitter": a uniform draw up to ``min(cap, base * 2 ** (attempt - 1))``, so deliveries
    failing together spread out instead of retrying in step; but drawn from ``base / 2`` (or
    the ceiling, if lower) upwards, so a retry is never immediate.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    growth = attempt - 1
    # Compare exponents rather than compute 2 ** growth, which overflows a float for long runs.
    ceiling = cap if growth >= math.log2(cap / base) else base * 2.0**growth
    floor = min(base / 2, ceiling)
    draw = rng.uniform if rng is not None else random.uniform
    return min(max(draw(floor, ceiling), floor), ceiling)


@dataclass(frozen=True)
class WebhookResult:
    """How one webhook delivery went."""

    ok: bool
    status: int | None
    """The HTTP status, when a response came back."""
    error: str | None
    """Why it failed, in words: ``"HTTP 500"``, ``"timed out after 5 s"``, …"""
    seconds: float
    permanent: bool = False
    """Retrying cannot help: the URL is refused, or the endpoint answered 410 Gone."""


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    secret: str,
    delivery_id: str,
    event: str,
    timeout: float,
    deployment: str,
    resolve: Resolver | None = None,
    now: Callable[[], float] = time.time,
) -> WebhookResult:
    """POST ``body`` to ``url``, signed with ``secret``; never raises for network failures.

    The URL is checked again first, since a name may resolve elsewhere by now. Its name is
    looked up once (in production, every address must be public) and the request goes to
    those addresses, the first that accepts a connection, with the name in its ``Host``
    header and in TLS, where the certificate must match it.
    Redirects are not followed. The check and the request together take at most ``timeout``
    seconds, so a slow endpoint holds up nothing but its own delivery.
    """
    started = time.perf_counter()

    def result(status: int | None, error: str | None, *, permanent: bool = False) -> WebhookResult:
        elapsed = time.perf_counter() - started
        return WebhookResult(error is None, status, error, elapsed, permanent)

    try:
        async with asyncio.timeout(timeout):
            target = _target(url, deployment)
            # The lookup blocks; a thread keeps the loop free.
            addresses = await asyncio.to_thread(
                _addresses, target, deployment, resolve or _system_resolve
            )
            timestamp = int(now())
            headers = {
                "Content-Type": "application/json",
                DELIVERY_HEADER: delivery_id,
                EVENT_HEADER: event,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            response = await _post_to_first(client, target, addresses, body, headers, timeout)
    except WebhookUrlRefused as refused:
        return result(None, f"refused: {refused}", permanent=True)
    except (TimeoutError, httpx.TimeoutException):
        return result(None, f"timed out after {timeout:g} s")
    except httpx.HTTPError as failure:
        return result(None, _describe(failure))
    except socket.gaierror:
        return result(None, "the host does not resolve")
    except OSError as failure:
        return result(None, f"network error: {failure.strerror or failure}")

    status = response.status_code
    if 200 <= status < 300:
        return result(status, None)
    if 300 <= status < 400:
        return result(status, f"HTTP {status}: redirects are not followed")
    return result(status, f"HTTP {status}", permanent=status == 410)


async def _post_to_first(
    client: httpx.AsyncClient,
    target: _Target,
    addresses: list[str],
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response:
    """POST to ``target`` at the first of ``addresses`` that accepts a connection."""
    named = _literal_address(target.host) is None
    parts = urlsplit(target.url)
    if named:
        # The connection is made to an address, so it must not be pooled and later
        # reused for another name whose certificate it was never checked against.
        headers = {**headers, "Host": parts.netloc, "Connection": "close"}
    failure: httpx.ConnectError | None = None
    for address in addresses:
        literal = f"[{address}]" if ":" in address else address
        request = client.build_request(
            "POST",
            urlunsplit(parts._replace(netloc=f"{literal}:{target.port}")),
            content=body,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            extensions={"sni_hostname": target.host} if named else None,
        )
        try:
            # The response body is never read: only the status matters, whatever its size.
            response = await client.send(request, follow_redirects=False, stream=True)
        except httpx.ConnectError as error:
            failure = error
            continue
        await response.aclose()
        return response
    assert failure is not None
    raise failure


def _split(url: str, schemes: set[str]) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"webhook URLs may have at most {MAX_URL_LENGTH} characters")
    if any(c <= " " or c in "\\\x7f" for c in url):
        raise WebhookUrlRefused("webhook URLs may not contain spaces, control characters or \\")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise WebhookUrlRefused(f"{url!r} is not a valid URL: {error}") from None
    if not parts.scheme or not url[len(parts.scheme) + 1 :].startswith("//"):
        raise WebhookUrlRefused(f"{url!r} is not an absolute URL like https://example.com/hook")
    if parts.scheme.lower() not in schemes:
        raise WebhookUrlRefused(f"webhook URLs must use {' or '.join(sorted(schemes))}")
    if "#" in url:
        raise WebhookUrlRefused("webhook URLs may not have a fragment (#…)")
    if "@" in parts.netloc:
        raise WebhookUrlRefused("webhook URLs may not carry a user name or password")
    return parts._replace(scheme=parts.scheme.lower())


def _ascii_host(parts: SplitResult) -> str:
    """The host lower-cased, international names in their ASCII (punycode) form."""
    host = parts.hostname
    if not host:
        raise WebhookUrlRefused("webhook URLs need a host")
    if _literal_address(host) is not None:
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise WebhookUrlRefused(f"{host!r} is not a valid host name") from None
    if not all(c.isalnum() or c in "-._" for c in ascii_host):
        raise WebhookUrlRefused(f"{host!r} is not a valid host name")
    return ascii_host


def _client_reads_host(url: str, host: str) -> bool:
    try:
        read = httpx.URL(url).raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError):
        return False
    literal = _literal_address(host)
    return read == host if literal is None else _literal_address(read) == literal


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _public_addresses(host: str, port: int, resolve: Resolver) -> list[str]:
    literal = _literal_address(host)
    if literal is not None:
        kind = _non_public_kind(literal)
        if kind is not None:
            raise WebhookUrlRefused(f"{host} is {kind} address")
        return [host]
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise WebhookUrlRefused(f"{host} is a local name")
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise WebhookUrlRefused(f"{host} does not resolve")
    for address in addresses:
        resolved = _literal_address(address)
        if resolved is None:
            raise WebhookUrlRefused(f"{host} resolves to {address!r}, which is not an address")
        kind = _non_public_kind(resolved)
        if kind is not None:
            raise WebhookUrlRefused(f"{host} resolves to {address}, {kind} address")
    return addresses


def _non_public_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """``None`` for a public address, else its kind with an article: ``"a private"``, …"""
    if isinstance(address, ipaddress.IPv6Address):
        # These IPv6 addresses lead to the IPv4 address they carry; that one must be public.
        if address.ipv4_mapped is not None:
            return _non_public_kind(address.ipv4_mapped)
        if address in _NAT64:
            return _non_public_kind(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        tunnelled = [address.sixtofour, address.teredo[1] if address.teredo else None]
        for inner in tunnelled:
            kind = None if inner is None else _non_public_kind(inner)
            if kind is not None:
                return kind
    for kind, applies in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
        ("a non-public", not address.is_global),
    ):
        if applies:
            return kind
    return None


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _describe(failure: httpx.HTTPError) -> str:
    """A network failure in words, from the OS error underneath when there is one."""
    cause: BaseException | None = failure
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return "the host does not resolve"
        cause = cause.__cause__ or cause.__context__
    if isinstance(failure, httpx.ConnectError):
        return f"could not connect: {failure}" if str(failure) else "could not connect"
    return f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
