"""Webhook deliveries to a real local HTTP receiver, URL checks, signatures and retry delays."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import socket
import ssl
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import trustme

from interlocality.common.embedded_broker import free_port
from interlocality.common.testing import Receiver, recording_receiver
from interlocality.notifications.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookResult,
    WebhookUrlRefused,
    check_webhook_url,
    post_webhook,
    retry_delay,
    sign,
    verify,
)

SECRET = "whsec-test"
BODY = b'{"student_id": "s-1", "vacancy_id": "v-1", "score": 0.75}'
SLOW_SECONDS = 10.0


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with recording_receiver(SLOW_SECONDS) as recorder:
        yield recorder


async def deliver(
    url: str,
    *,
    timeout: float = 5.0,
    deployment: str = "embedded",
    delivery_id: str = "d-1",
    resolve: Callable[[str, int], list[str]] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> WebhookResult:
    async with httpx.AsyncClient(trust_env=False, verify=verify) as client:
        return await post_webhook(
            client,
            url,
            BODY,
            secret=SECRET,
            delivery_id=delivery_id,
            event="match.found",
            timeout=timeout,
            deployment=deployment,
            resolve=resolve,
        )


def resolving_to(*addresses: str) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def not_resolving(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


class CountingResolver:
    """Answers ``addresses`` for every name, and counts the lookups."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.addresses


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_receiver(authority: trustme.CA) -> Iterator[Receiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("hooks.example.test").configure_cert(context)
    with recording_receiver(SLOW_SECONDS, tls=context) as recorder:
        yield recorder


async def test_delivery_arrives_signed_with_the_four_headers(receiver: Receiver) -> None:
    result = await deliver(f"{receiver.base_url}/hook", delivery_id="d-signed")

    assert result.ok, result
    assert result.status == 204
    assert result.error is None
    [request] = [r for r in receiver.received("/hook") if r.headers[DELIVERY_HEADER] == "d-signed"]
    assert request.body == BODY
    assert request.headers[EVENT_HEADER] == "match.found"
    assert request.headers["Content-Type"] == "application/json"
    timestamp = int(request.headers[TIMESTAMP_HEADER])
    signature = request.headers[SIGNATURE_HEADER]
    assert signature.startswith("sha256=")
    assert verify(SECRET, timestamp, request.body, signature)
    assert not verify(SECRET, timestamp, request.body + b" ", signature)
    assert not verify("another secret", timestamp, request.body, signature)
    assert not verify(SECRET, timestamp, request.body, signature, now=timestamp + 301)
    assert verify(SECRET, timestamp, request.body, signature, now=timestamp + 299)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    signature = sign("key", 1_700_000_000, b"{}")
    expected = hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify("key", 1_700_000_000, b"{}", signature, now=1_700_000_000)
    assert not verify("key", 1_699_000_000, b"{}", sign("key", 1_699_000_000, b"{}"))
    assert not verify("key", 1_700_000_000, b"{}", "sha256=ünïcode", now=1_700_000_000)


async def test_slow_endpoint_times_out_without_holding_up_a_fast_one(receiver: Receiver) -> None:
    finished: list[str] = []

    async def timed(name: str, path: str, timeout: float) -> WebhookResult:
        result = await deliver(f"{receiver.base_url}{path}", timeout=timeout, delivery_id=name)
        finished.append(name)
        return result

    slow, fast = await asyncio.gather(timed("slow", "/slow", 1.0), timed("fast", "/hook", 5.0))

    assert not slow.ok
    assert slow.status is None
    assert slow.error == "timed out after 1 s"
    assert not slow.permanent
    assert slow.seconds < SLOW_SECONDS
    assert fast.ok, fast
    assert finished == ["fast", "slow"]
    assert fast.seconds < slow.seconds


@pytest.mark.parametrize(
    ("status", "error", "permanent"),
    [
        (500, "HTTP 500", False),
        (503, "HTTP 503", False),
        (404, "HTTP 404", False),
        (410, "HTTP 410", True),
        (302, "HTTP 302: redirects are not followed", False),
    ],
)
async def test_failing_answers(
    receiver: Receiver, status: int, error: str, permanent: bool
) -> None:
    result = await deliver(f"{receiver.base_url}/status/{status}")

    assert not result.ok
    assert result.status == status
    assert result.error == error
    assert result.permanent is permanent


async def test_redirect_is_not_followed(receiver: Receiver) -> None:
    before = len(receiver.received("/hook"))

    await deliver(f"{receiver.base_url}/status/302", delivery_id="d-redirected")

    assert len(receiver.received("/hook")) == before


async def test_connection_refused_is_a_failure_not_an_exception() -> None:
    result = await deliver(f"http://127.0.0.1:{free_port()}/hook")

    assert not result.ok
    assert result.status is None
    assert result.error == "connection refused"
    assert not result.permanent


async def test_request_goes_to_the_address_the_check_looked_up(receiver: Receiver) -> None:
    # The name exists only for this resolver: the client cannot have looked it up again.
    port = urlsplit(receiver.base_url).port
    resolve = CountingResolver("127.0.0.1")

    result = await deliver(
        f"http://hooks.example.test:{port}/hook", delivery_id="d-pinned", resolve=resolve
    )

    assert result.ok, result
    assert resolve.lookups == ["hooks.example.test"]
    [request] = [r for r in receiver.received("/hook") if r.headers[DELIVERY_HEADER] == "d-pinned"]
    assert request.headers["Host"] == f"hooks.example.test:{port}"
    assert request.body == BODY


async def test_next_address_is_tried_when_one_refuses_the_connection(receiver: Receiver) -> None:
    port = urlsplit(receiver.base_url).port
    # nothing listens on 127.0.0.2: the receiver is bound to 127.0.0.1 only
    resolve = CountingResolver("127.0.0.2", "127.0.0.1")

    result = await deliver(
        f"http://hooks.example.test:{port}/hook", delivery_id="d-second", resolve=resolve
    )

    assert result.ok, result
    sent = [r for r in receiver.received("/hook") if r.headers[DELIVERY_HEADER] == "d-second"]
    assert len(sent) == 1


async def test_unresolvable_name_is_a_failure_to_retry() -> None:
    result = await deliver("http://nowhere.example.test/hook", resolve=not_resolving)

    assert not result.ok
    assert result.error == "the host does not resolve"
    assert not result.permanent


async def test_tls_certificate_is_checked_against_the_name_not_the_address(
    tls_receiver: Receiver, authority: trustme.CA
) -> None:
    port = urlsplit(tls_receiver.base_url).port
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    loopback = CountingResolver("127.0.0.1")

    named = await deliver(
        f"https://hooks.example.test:{port}/hook",
        delivery_id="d-tls",
        resolve=loopback,
        verify=trusted,
    )
    other = await deliver(
        f"https://other.example.test:{port}/hook",
        delivery_id="d-other",
        resolve=loopback,
        verify=trusted,
    )

    assert named.ok, named
    assert [r.headers["Host"] for r in tls_receiver.received("/hook")] == [
        f"hooks.example.test:{port}"
    ]
    assert not other.ok
    assert other.error is not None and other.error.startswith("TLS failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in other.error


async def test_refused_url_is_permanent_and_never_called(receiver: Receiver) -> None:
    before = len(receiver.requests)

    result = await deliver(f"{receiver.base_url}/hook", deployment="production")

    assert not result.ok
    assert result.permanent
    assert result.error == "refused: webhook URLs must use https"
    assert len(receiver.requests) == before


@pytest.mark.parametrize(
    ("url", "resolve", "reason"),
    [
        ("http://example.com/hook", None, "must use https"),
        ("https://localhost/hook", None, "local name"),
        ("https://api.localhost./hook", None, "local name"),
        ("https://127.0.0.1/hook", None, "loopback"),
        ("https://10.1.2.3/hook", None, "private"),
        ("https://169.254.169.254/latest/meta-data", None, "link-local"),
        ("https://0.0.0.0/hook", None, "unspecified"),
        ("https://224.0.0.1/hook", None, "multicast"),
        ("https://100.64.0.1/hook", None, "non-public"),
        ("https://[::1]/hook", None, "loopback"),
        ("https://[::ffff:192.168.0.1]/hook", None, "private"),
        ("https://[fe80::1]/hook", None, "link-local"),
        ("https://[fc00::1]/hook", None, "private"),
        ("https://[2002:c0a8:1::1]/hook", None, "private"),
        ("https://example.internal/hook", resolving_to("10.0.0.5"), "resolves to 10.0.0.5"),
        ("https://rebind.example/hook", resolving_to("93.184.215.14", "127.0.0.1"), "loopback"),
        ("https://example.com/hook", resolving_to("::ffff:127.0.0.1"), "loopback"),
        ("https://nowhere.invalid/hook", not_resolving, "does not resolve"),
        ("https://empty.example/hook", resolving_to(), "does not resolve"),
    ],
)
def test_production_refuses(
    url: str, resolve: Callable[[str, int], list[str]] | None, reason: str
) -> None:
    with pytest.raises(WebhookUrlRefused, match=reason):
        check_webhook_url(url, "production", resolve=resolve)


def test_production_refusal_reads_well() -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        check_webhook_url(
            "https://example.internal/", "production", resolve=resolving_to("10.0.0.5")
        )
    assert str(refused.value) == "example.internal resolves to 10.0.0.5, a private address"


def test_production_accepts_a_public_host_and_normalises_it() -> None:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    url = "HTTPS://Hooks.Example.COM:8443/In/Box?Student=S-1"
    checked = check_webhook_url(url, "production", resolve=resolve)

    assert checked == "https://hooks.example.com:8443/In/Box?Student=S-1"
    assert asked == [("hooks.example.com", 8443)]
    assert check_webhook_url("https://93.184.215.14/hook", "production") == (
        "https://93.184.215.14/hook"
    )


def test_embedded_allows_local_http_without_lookups() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise AssertionError("embedded looks nothing up")

    url = "http://127.0.0.1:8765/hook"
    assert check_webhook_url(url, "embedded", resolve=resolve) == url
    assert check_webhook_url("http://LocalHost:8765/", "embedded") == "http://localhost:8765/"


@pytest.mark.parametrize("deployment", ["embedded", "production"])
@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "not a url",
        "example.com/hook",
        "https:///hook",
        "https://user:pass@example.com/hook",
        "https://user@example.com/hook",
        "https://example.com/hook#part",
        "https://example.com:99999/hook",
        "https://example.com/" + "a" * 2000,
        "https://exa mple.com/hook",
        "https://%31%32%37.0.0.1/hook",
    ],
)
def test_every_deployment_refuses(url: str, deployment: str) -> None:
    with pytest.raises(WebhookUrlRefused):
        check_webhook_url(url, deployment, resolve=resolving_to("93.184.215.14"))


def test_retry_delay_grows_up_to_the_cap_and_stays_in_bounds() -> None:
    rng = random.Random(20240611)
    base, cap = 5.0, 60.0
    means = []
    for attempt in range(1, 10):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        draws = [retry_delay(attempt, base, cap, rng) for _ in range(2000)]
        assert all(base / 2 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.95
        means.append(sum(draws) / len(draws))
    assert means[:5] == sorted(means[:5])
    assert means[4] > means[0] * 5
    assert abs(means[-1] - means[-2]) < 2.0  # capped: the spread no longer grows
    assert base / 2 <= retry_delay(10_000, base, cap) <= cap


def test_retry_delay_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(0, 5.0, 60.0)
