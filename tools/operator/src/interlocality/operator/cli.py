"""The operator command: ``interlocality up | topics | replay | seed | import | export | token
| broker``.

``up`` runs a region on this machine and keeps it running: the embedded broker (unless a
cluster is configured), the SMTP sink (unless a relay is), the development issuer of access
tokens (unless ``INTERLOCALITY_OIDC_ISSUER`` names a provider), and the five services,
forked from one fork server, each started again when it ends. It writes
``var/<region>/run.json`` while it runs; the other commands find the region through it, and
call its services with tokens of the development issuer (or ``INTERLOCALITY_TOKEN``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType

import httpx
from aiokafka.errors import KafkaConnectionError

from interlocality.common.access import Role
from interlocality.common.consumer_groups import remove_group_members
from interlocality.common.embedded_broker import (
    EmbeddedBroker,
    EmbeddedBrokerError,
    free_port,
    port_taken,
    stale_broker_on,
    stop_stale_broker,
)
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.kafka_security import (
    KafkaSecurity,
    federation_security_from_environment,
)
from interlocality.common.processes import (
    die_with_parent,
    listening_pid,
    process_info,
)
from interlocality.common.settings import ServiceSettings
from interlocality.common.topics_admin import ensure_topics, planned_topics, shared_topics
from interlocality.common.work_rules import region_work_rules
from interlocality.notifications.settings import NotificationsSettings
from interlocality.operator.accounts import accounts_path, write_accounts
from interlocality.operator.credentials import (
    DEFAULT_ISSUER_PORT,
    ISSUER_PORT_VARIABLE,
    ISSUER_VARIABLE,
    GivenToken,
    NoCredentials,
    SignedTokens,
    credentials_for,
    development_tokens,
    given_token,
    issuer_key_path,
    issuer_url,
    region_issuer,
)
from interlocality.operator.demo import DemoSeedError
from interlocality.operator.forkserver import ForkServer, ForkServerError
from interlocality.operator.programmes import PROGRAMMES, SIZES, DemoSize, Programme
from interlocality.operator.run_file import (
    DEFAULT_BOOTSTRAP,
    BrokerRun,
    IssuerRun,
    MailSinkRun,
    RegionAddresses,
    RegionNotRunning,
    RegionRun,
    ServiceRun,
    locate_region,
    read_run_file,
    run_file_path,
)
from interlocality.operator.services import SERVICE_PORTS, SERVICES
from interlocality.operator.supervisor import Supervised, Supervisor

__all__ = ["main"]

DEFAULT_BROKER_PORT = int(DEFAULT_BOOTSTRAP.rsplit(":", 1)[1])
# Written on every start of a region: the next start re-publishes state instead of seeding.
STARTED_MARKER = "started"
# What ``up`` supervises for each region; and once for every region, the issuer.
CHILDREN = (*SERVICES, "mail-sink")
ISSUER_CHILD = "issuer"
REGION_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
# ``up --regions``: region i (from 1) prefers ports PORT_BASE + 100·i + 1 … 5, mail at + 25.
DEFAULT_PORT_BASE = 8000

# Where the command being run finds the region's services: set by main() (from flags, the
# environment and the run file) or by ``up`` (its own services).
_addresses: RegionAddresses | None = None
# The region (and var dir) the command works on, and what it calls its services with.
_region: tuple[str, Path] | None = None
_credentials: SignedTokens | GivenToken | None = None


def _say(message: str) -> None:
    # A closed terminal must not cut the region's orderly stop short.
    with contextlib.suppress(OSError):
        print(message, flush=True)


def _var_dir(value: str | None = None) -> Path:
    return Path(value or os.environ.get("INTERLOCALITY_VAR_DIR") or "var").resolve()


def _url(service: str, addresses: RegionAddresses | None = None) -> str:
    """The base URL of ``service`` in the region the command works on (or of ``addresses``)."""
    global _addresses
    if addresses is not None:
        return addresses.url(service)
    if _addresses is None:
        _addresses = locate_region(ServiceSettings().region, _var_dir())
    return _addresses.url(service)


def _auth(auth: httpx.Auth | None = None) -> httpx.Auth:
    """What the command calls the region's services with (or ``auth``): found at first use,
    so that a region that is not running is said so first."""
    global _credentials
    if auth is not None:
        return auth
    if _credentials is None:
        region, var_dir = _region or (ServiceSettings().region, _var_dir())
        _credentials = credentials_for(region, var_dir)
    return _credentials


def _port(service: str) -> int:
    return int(os.environ.get(f"{service.upper()}_PORT", SERVICE_PORTS[service]))


def _answers_ready(
    client: httpx.Client, service: str, addresses: RegionAddresses | None = None
) -> bool:
    try:
        return client.get(f"{_url(service, addresses)}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def seed_demo_region(
    region: str, var_dir: Path, timeout: float = 30.0, auth: httpx.Auth | None = None
) -> dict[str, int]:
    """Register the demo region over HTTP and write its people's accounts; what follows once
    matching has scored it (Company Dating, applications, a placement) is staged in the
    background and announced."""
    from interlocality.operator import demo

    urls = {service: _url(service) for service in SERVICES}
    with httpx.Client(timeout=timeout, auth=_auth(auth)) as client:
        seeded = demo.seed_demo_region(urls, client)
    write_accounts(accounts_path(var_dir, region), demo.demo_accounts(region, seeded))
    demo.stage_demo_activity_later(
        urls, seeded, say=_say, time_zone=NotificationsSettings().time_zone, auth=_auth(auth)
    )
    if seeded.outcomes:
        _say(
            f"demo: outcomes of {len(seeded.outcomes)} graduates recorded: "
            + ", ".join(f"{name} {kind.replace('_', ' ')}" for name, kind in seeded.outcomes)
        )
    return seeded.counts


def seed_programme(
    programme: Programme,
    size: DemoSize,
    addresses: RegionAddresses,
    var_dir: Path,
    auth: httpx.Auth,
    timeout: float = 120.0,
) -> dict[str, int]:
    """Import a partner programme's demo region through the bulk endpoints, saying how far
    each import has come, and write its people's accounts; its applications and placements
    follow in the background."""
    from interlocality.operator import programmes

    name = programme.region
    urls = {service: _url(service, addresses) for service in SERVICES}
    started = time.monotonic()

    def progress(kind: str, done: int, total: int) -> None:
        if done >= total:
            done_to = "recorded" if kind == "outcomes" else "imported"
            _say(f"  {name}: {done:,} {kind} {done_to} ({time.monotonic() - started:.1f} s)")

    region = programmes.build_programme_region(programme, size)
    with httpx.Client(timeout=httpx.Timeout(timeout, read=None), auth=auth) as client:
        seeded = programmes.seed_programme_region(urls, client, region, progress)
    write_accounts(accounts_path(var_dir, name), programmes.programme_accounts(seeded))
    programmes.stage_programme_activity_later(urls, seeded, say=_say, timeout=timeout, auth=auth)
    return seeded.counts


def replay_all(
    timeout: float = 120.0,
    addresses: RegionAddresses | None = None,
    auth: httpx.Auth | None = None,
) -> dict[str, int]:
    """Ask every service to re-publish the state it owns; returns counts per service."""
    counts: dict[str, int] = {}
    with httpx.Client(timeout=timeout, auth=_auth(auth)) as client:
        for service in SERVICES:
            response = client.post(f"{_url(service, addresses)}/v1/admin/replay")
            response.raise_for_status()
            counts[service] = int(response.json()["republished"])
    return counts


def _taken_by(port: int) -> str:
    """Who listens on ``port``, for a message."""
    pid = listening_pid(port)
    info = process_info(pid) if pid is not None else None
    return f"{info.name} (pid {pid})" if info is not None else "another program"


def _start_embedded_broker(preferred_port: int, log_path: Path, run_path: Path) -> EmbeddedBroker:
    """The embedded broker on ``preferred_port``, or on a free port when something else
    holds it; a stale broker of ours holding it is stopped and replaced."""
    port = preferred_port
    if port_taken("127.0.0.1", port):
        stale = stale_broker_on(port)
        if stale is not None:
            _say(
                f"port {port} is held by an embedded broker an earlier launcher left running "
                f"(Tansu, pid {stale.pid}): stopping it and starting a fresh one"
            )
            stop_stale_broker(stale)
            deadline = time.monotonic() + 10
            while port_taken("127.0.0.1", port) and time.monotonic() < deadline:
                time.sleep(0.1)
        else:
            holder = _taken_by(port)
            port = free_port()
            _say(
                f"port {preferred_port} is taken by {holder}: the embedded broker runs on "
                f"port {port} instead (every `interlocality` command finds it through "
                f"{run_path})"
            )
    return EmbeddedBroker(port=port, log_path=log_path).start()


def _free_port_for(what: str, preferred_port: int) -> int:
    """``preferred_port`` when nothing listens there, else a free port, said so."""
    if not port_taken("127.0.0.1", preferred_port):
        return preferred_port
    port = free_port()
    _say(
        f"port {preferred_port} is taken by {_taken_by(preferred_port)}: {what} listens on "
        f"port {port} instead"
    )
    return port


def _serves(
    client: httpx.Client, supervisor: Supervisor, service: str, launched: _LaunchedRegion
) -> bool:
    """Whether the process started as ``service`` of the region is ready, not another on
    its port."""
    port = int(launched.addresses.url(service).rsplit(":", 1)[1])
    return (
        _answers_ready(client, service, launched.addresses)
        and listening_pid(port) == supervisor.children[launched.child(service)].pid
    )


def _mail_sink(
    mail_dir: Path, port: int, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """The embedded SMTP sink; ``make run`` mails nobody."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "interlocality.notifications.mail_sink",
                "--dir",
                str(mail_dir),
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session, so Ctrl-C reaches only the launcher, which stops it in order.
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )


def _issuer_process(url: str, key_path: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The development issuer: its discovery document and key set, which the services
    fetch to verify the tokens it signs."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "interlocality.operator.dev_issuer",
                "--url",
                url,
                "--key",
                str(key_path),
                "--port",
                str(port),
                "--accounts",
                str(key_path.parent.parent),  # var/: its regions' var/<region>/accounts.json
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )


def _issuer_serves(client: httpx.Client, supervisor: Supervisor, url: str) -> bool:
    """Whether the issuer started at ``url`` publishes its discovery document."""
    try:
        answer = client.get(f"{url}/.well-known/openid-configuration", timeout=1.0)
        serves = answer.status_code == 200 and answer.json().get("issuer") == url
    except (httpx.HTTPError, ValueError):
        return False
    port = int(url.rsplit(":", 1)[1])
    return serves and listening_pid(port) == supervisor.children[ISSUER_CHILD].pid


def _clear_stale_run(run_path: Path) -> None:
    """Refuse to start a region that runs; replace the run file a killed launcher left."""
    run = read_run_file(run_path)
    if run is None:
        return
    if run.launcher_runs():
        raise SystemExit(
            f"region {run.region!r} is already running: launcher pid {run.launcher_pid} "
            f"({run_path}); stop it first (Ctrl-C in its terminal, or kill {run.launcher_pid})"
        )
    _say(f"{run_path} was left by a launcher that no longer runs (pid {run.launcher_pid})")
    run_path.unlink(missing_ok=True)


def _wait_until_up(
    supervisor: Supervisor,
    timeout: float,
    stop_if_requested: Callable[[], None],
    where: Mapping[str, str],
) -> None:
    """Keep the processes running until every one is ready; each is said once ready, with
    ``where`` it serves (by child name) or its pid."""
    deadline = time.monotonic() + timeout
    announced: set[str] = set()
    width = max(14, *(len(name) for name in supervisor.children))
    while True:
        stop_if_requested()
        supervisor.check()
        for name, child in supervisor.children.items():
            if child.given_up:
                raise SystemExit(f"{name} could not start; see {child.log}")
            if child.ready_at is not None and name not in announced:
                announced.add(name)
                _say(f"  {name:<{width}} ready  {where.get(name, f'pid {child.pid}')}")
        if supervisor.all_ready():
            return
        if time.monotonic() > deadline:
            pending = [name for name in supervisor.children if name not in announced]
            raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
        time.sleep(0.2)


def _leave_for(bootstrap: str, group_id: str) -> None:
    """Remove the members a dead service left in its consumer group."""
    try:
        asyncio.run(remove_group_members(bootstrap, group_id))
    except Exception as exc:
        _say(f"could not clear the consumer group {group_id} ({exc}); the restart may wait")


@dataclass
class _LaunchedRegion:
    """One region ``up`` runs: its name, rules, files and where its services listen.

    With one region (``up``, ``up --region x``) its supervised processes are named as the
    services are; with several (``up --regions``) each name is prefixed with the region's.
    """

    name: str
    var_dir: Path
    addresses: RegionAddresses
    smtp_port: int
    prefixed: bool
    rules: str | None = None
    programme: Programme | None = None
    mail_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    auth: SignedTokens | GivenToken | None = None

    @property
    def region_dir(self) -> Path:
        """``var/<region>``: its databases, run file, mail and logs."""
        return self.var_dir / self.name

    @property
    def log_dir(self) -> Path:
        """Where its processes log."""
        return self.region_dir / "logs"

    @property
    def run_path(self) -> Path:
        """Its run file."""
        return run_file_path(self.var_dir, self.name)

    def child(self, process: str) -> str:
        """The supervisor's name of one of its processes."""
        return f"{self.name}/{process}" if self.prefixed else process


def _parse_regions(value: str) -> list[tuple[str, str | None]]:
    """``aarhus,leipzig=de,x=/srv/rules.toml``: each region's name and the rules it was
    given (None: the programme's own)."""
    regions: list[tuple[str, str | None]] = []
    for part in value.split(","):
        name, _, rules = part.strip().partition("=")
        name = name.strip().lower()
        if not REGION_NAME.match(name):
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a region name (a lower-case letter, then 1–31 letters, "
                "digits or '-')"
            )
        if not rules and name not in PROGRAMMES:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a known programme ({', '.join(PROGRAMMES)}): name its "
                f"work rules, e.g. {name}=dk"
            )
        if name in (n for n, _ in regions):
            raise argparse.ArgumentTypeError(f"{name!r} is named twice")
        regions.append((name, rules.strip() or None))
    return regions


def _region_ports(index: int, port_base: int) -> tuple[dict[str, int], int]:
    """Where region ``index`` of ``up --regions`` prefers to listen: its services at
    ``port_base + 100·index + (the service's default port − 8000)`` (8101–8105, 8201–8205,
    …), its mail sink at ``… + 25``."""
    base = port_base + 100 * index
    return {s: base + SERVICE_PORTS[s] % 100 for s in SERVICES}, base + 25


def _plan_regions(args: argparse.Namespace, var_dir: Path) -> list[_LaunchedRegion]:
    """The regions to start, each on its ports: the region of ``--region`` on the
    services' own (or ``<SERVICE>_PORT``) ports, or every region of ``--regions`` by the
    port scheme. A port found taken moves to a free one, said so."""
    if not args.regions:
        return [
            _LaunchedRegion(
                name=args.region,
                var_dir=var_dir,
                addresses=RegionAddresses(
                    "",
                    {
                        service: f"http://127.0.0.1:{_free_port_for(service, _port(service))}"
                        for service in SERVICES
                    },
                ),
                smtp_port=args.smtp_port,
                prefixed=False,
            )
        ]
    planned = []
    for index, (name, rules) in enumerate(args.regions, start=1):
        ports, smtp_port = _region_ports(index, args.port_base)
        programme = PROGRAMMES.get(name)
        try:
            region_work_rules(rules or (programme.rules if programme else ""))
        except (OSError, ValueError) as exc:
            raise SystemExit(
                f"region {name!r}: cannot use the work rules {rules!r}: {exc}"
            ) from exc
        planned.append(
            _LaunchedRegion(
                name=name,
                var_dir=var_dir,
                addresses=RegionAddresses(
                    "",
                    {
                        service: "http://127.0.0.1:"
                        f"{_free_port_for(f'{name} {service}', ports[service])}"
                        for service in SERVICES
                    },
                ),
                smtp_port=smtp_port,
                prefixed=True,
                rules=rules or (programme.rules if programme else None),
                programme=programme,
            )
        )
    return planned


def _restart_embedded_broker(
    broker: EmbeddedBroker,
    regions: Sequence[_LaunchedRegion],
    supervisor: Supervisor,
    client: httpx.Client,
    timeout: float,
    stop_if_requested: Callable[[], None],
) -> None:
    """The in-memory broker lost its log: start it again and have every service re-publish."""
    _say("embedded broker stopped unexpectedly: restarting it and re-publishing state …")
    broker.stop()
    broker.start()
    for launched in regions:
        asyncio.run(ensure_topics(broker.bootstrap_servers, launched.name))
    deadline = time.monotonic() + timeout
    while not all(
        _answers_ready(client, s, launched.addresses)
        for launched in regions
        for s in SERVICES
        if not supervisor.children[launched.child(s)].given_up
    ):
        if time.monotonic() > deadline:
            raise SystemExit(f"the services did not reconnect within {timeout:.0f} s")
        stop_if_requested()
        supervisor.check()
        time.sleep(0.2)
    for launched in regions:
        counts = replay_all(addresses=launched.addresses, auth=launched.auth)
        _say(
            f"{launched.name}: state re-published: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )


def _up(args: argparse.Namespace) -> int:
    global _addresses
    started = time.monotonic()
    var_dir = _var_dir(args.var_dir)
    names = [name for name, _ in args.regions] if args.regions else [args.region]
    for name in names:
        (var_dir / name / "logs").mkdir(parents=True, exist_ok=True)
        _clear_stale_run(run_file_path(var_dir, name))
    # One region keeps the broker's and fork server's logs with its own; several share them.
    shared_logs = var_dir / names[0] / "logs" if not args.regions else var_dir / "logs"
    shared_logs.mkdir(parents=True, exist_ok=True)
    # The services trust the provider named, and the launcher calls them with the token it
    # gave; else the development issuer, which the launcher starts and signs with.
    configured_issuer = os.environ.get(ISSUER_VARIABLE, "").strip()
    given = given_token(configured_issuer) if configured_issuer else None

    stop_requested = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only noted here: an exception raised wherever the launcher happens to be could cut
        # a fork request or a read from the fork server in two. And `make run` passes a
        # Ctrl-C twice (the terminal's, and uv's), which changes nothing.
        nonlocal stop_requested
        stop_requested = True

    def stop_if_requested() -> None:
        if stop_requested:
            raise KeyboardInterrupt

    # Ctrl-C, SIGTERM and a closed terminal (SIGHUP) stop the regions in order, unless the
    # launcher was started with them ignored (nohup, a background job of a script).
    signal.signal(signal.SIGTERM, on_signal)
    for signum in (signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, on_signal)

    # Imports the services' code while the broker starts and the topics are created. Every
    # region's services are forks of it: each fork gets its region's environment whole.
    fork_server = ForkServer(SERVICES, shared_logs / "fork-server.log").start()
    broker: EmbeddedBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    regions = _plan_regions(args, var_dir)
    region_of = {launched.child(s): launched for launched in regions for s in CHILDREN}
    if args.regions:
        _say("regions (services profiles … analytics on consecutive ports, mail sink at +25):")
        for launched in regions:
            first = launched.addresses.url(SERVICES[0]).rsplit(":", 1)[1]
            _say(
                f"  {launched.name:<10} rules {launched.rules or 'default':<7} "
                f"{launched.programme.title if launched.programme else 'no demo programme'}"
                f"  (ports from {first})"
            )
    issuer: DevelopmentIssuer | None = None
    if configured_issuer:
        issuer_address = configured_issuer
    else:
        issuer_port = _free_port_for("the development issuer", args.issuer_port)
        issuer_address = issuer_url(issuer_port)
        issuer = DevelopmentIssuer(issuer_address, issuer_key_path(var_dir))
    for launched in regions:
        launched.auth = given if issuer is None else SignedTokens(issuer, launched.name)
    launched_at = datetime.now(UTC)
    launcher = process_info(os.getpid())

    def write_run_file(launched: _LaunchedRegion) -> None:
        children = supervisor.children
        sink = children.get(launched.child("mail-sink"))
        RegionRun(
            region=launched.name,
            launcher_pid=os.getpid(),
            launcher_started=launcher.started if launcher is not None else None,
            started_at=launched_at,
            broker=BrokerRun(
                bootstrap=bootstrap,
                started="embedded" if broker is not None else "configured",
                pid=broker.pid if broker is not None else None,
                command=broker.command if broker is not None else [],
            ),
            services={
                service: ServiceRun(
                    url=launched.addresses.url(service),
                    pid=children[name].pid
                    if (name := launched.child(service)) in children
                    else None,
                    log=str(launched.log_dir / f"{service}.log"),
                )
                for service in SERVICES
            },
            mail_sink=MailSinkRun(
                smtp=f"127.0.0.1:{launched.smtp_port}",
                pid=sink.pid if sink is not None else None,
                mail_dir=str(launched.mail_dir),
                mailbox=f"{launched.addresses.url('notifications')}/v1/mailbox",
            )
            if launched.mail_dir is not None
            else None,
            issuer=IssuerRun(
                url=issuer_address,
                started="embedded" if issuer is not None else "configured",
                pid=children[ISSUER_CHILD].pid if ISSUER_CHILD in children else None,
            ),
            fork_server_pid=fork_server.pid,
        ).write(launched.run_path)

    def on_start(child: Supervised) -> None:
        for launched in regions if child.name == ISSUER_CHILD else [region_of[child.name]]:
            write_run_file(launched)

    supervisor = Supervisor(_say, on_start=on_start)
    client = httpx.Client()
    where: dict[str, str] = {}
    try:
        if issuer is not None:
            supervisor.add(
                ISSUER_CHILD,
                start=partial(
                    _issuer_process,
                    issuer.url,
                    issuer.key_path,
                    issuer_port,
                    shared_logs / "issuer.log",
                ),
                ready=partial(_issuer_serves, client, supervisor, issuer.url),
                log=shared_logs / "issuer.log",
            )
            where[ISSUER_CHILD] = issuer.url
            _say(f"development issuer of access tokens on {issuer.url}")
        else:
            _say(f"the services accept the tokens of {configured_issuer}")
        if not bootstrap:
            broker = _start_embedded_broker(
                args.broker_port, shared_logs / "broker.log", regions[0].run_path
            )
            bootstrap = broker.bootstrap_servers
            _say(f"embedded broker (Tansu, in memory) on {bootstrap}")
        else:
            _say(f"using Kafka at {bootstrap}")
        for launched in regions:
            launched.addresses = RegionAddresses(bootstrap, launched.addresses.urls)
            write_run_file(launched)
            # the embedded broker is plaintext; a configured cluster is reached as the
            # services reach it
            security = None if broker is not None else KafkaSecurity()
            created = asyncio.run(ensure_topics(bootstrap, launched.name, security=security))
            planned = len(planned_topics(launched.name))
            _say(
                f"{launched.child('topics')}: {len(created)} created, "
                f"{planned - len(created)} existed"
            )
        if len(regions) == 1:
            _addresses = regions[0].addresses
        for launched in regions:
            log_dir = launched.log_dir
            env = launched.env = {
                **os.environ,
                "INTERLOCALITY_REGION": launched.name,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "INTERLOCALITY_VAR_DIR": str(var_dir),
                "INTERLOCALITY_DEPLOYMENT": "embedded",
                ISSUER_VARIABLE: issuer_address,
                **{
                    f"{service.upper()}_PORT": launched.addresses.url(service).rsplit(":", 1)[1]
                    for service in SERVICES
                },
            }
            if launched.rules is not None:
                env["INTERLOCALITY_WORK_RULES"] = launched.rules
            if launched.programme is not None:
                env["INTERLOCALITY_TIME_ZONE"] = launched.programme.time_zone
            if not os.environ.get("INTERLOCALITY_SMTP_HOST"):
                # A sink per region: each region's mailbox shows its own mail only.
                mail_dir = launched.mail_dir = launched.region_dir / "mail"
                smtp_port = launched.smtp_port = _free_port_for(
                    f"the mail sink of {launched.name}", launched.smtp_port
                )
                env["INTERLOCALITY_SMTP_HOST"] = "127.0.0.1"
                env["INTERLOCALITY_SMTP_PORT"] = str(smtp_port)
                env["INTERLOCALITY_MAIL_SINK_DIR"] = str(mail_dir)
                supervisor.add(
                    launched.child("mail-sink"),
                    start=partial(_mail_sink, mail_dir, smtp_port, env, log_dir / "mail-sink.log"),
                    ready=partial(port_taken, "127.0.0.1", smtp_port),
                    log=log_dir / "mail-sink.log",
                )
                of = f" of {launched.name}" if launched.prefixed else ""
                _say(f"embedded mail sink{of} on 127.0.0.1:{smtp_port}, mail kept in {mail_dir}")
            else:
                relay = NotificationsSettings()
                _say(f"sending e-mail through the relay {relay.smtp_host}:{relay.smtp_port}")
            for service in SERVICES:
                name = launched.child(service)
                where[name] = launched.addresses.url(service)
                supervisor.add(
                    name,
                    start=partial(fork_server.fork, service, env, log_dir / f"{service}.log"),
                    ready=partial(_serves, client, supervisor, service, launched),
                    log=log_dir / f"{service}.log",
                    # The embedded broker serves only the launcher's services: every member
                    # of a service's group went with its process, and the restarted one need
                    # not wait for their sessions to expire (see consumer_groups).
                    before_restart=partial(_leave_for, bootstrap, f"{launched.name}.{service}")
                    if broker is not None
                    else None,
                )
        supervisor.start_all()
        logs = regions[0].log_dir if len(regions) == 1 else var_dir / "<region>" / "logs"
        _say(f"starting {len(SERVICES) * len(regions)} services (logs in {logs}) …")
        _wait_until_up(supervisor, args.timeout, stop_if_requested, where)
        if len(regions) == 1:
            _start_region(regions[0], args)
        else:
            # Each region is seeded through its own services: side by side, not in turn.
            with ThreadPoolExecutor(len(regions), thread_name_prefix="seed") as pool:
                for seeding in [pool.submit(_start_region, r, args) for r in regions]:
                    seeding.result()
        for launched in regions:
            _say(f"region {launched.name!r} is up in {time.monotonic() - started:.1f} s:")
            for service in SERVICES:
                _say(f"  {service:<14} {launched.addresses.url(service)}/docs")
            if launched.mail_dir is not None:
                mailbox = f"{launched.addresses.url('notifications')}/v1/mailbox"
                _say(f"  {'mailbox':<14} {mailbox}")
            _say(f"  {'broker':<14} {bootstrap}")
            _say(f"  {'issuer':<14} {issuer_address}")
            _say(f"  {'run file':<14} {launched.run_path}")
        if issuer is not None:
            region_flag = f" --region {regions[0].name}" if len(regions) > 1 else ""
            _say(
                "an operator's access token for curl: "
                f"uv run interlocality{region_flag} token --role operator"
            )
        _say("Ctrl-C stops everything.")
        while True:
            stop_if_requested()
            supervisor.check()
            if broker is not None and not broker.running():
                _restart_embedded_broker(
                    broker, regions, supervisor, client, args.timeout, stop_if_requested
                )
                for launched in regions:
                    write_run_file(launched)
            time.sleep(0.25)
    except KeyboardInterrupt:
        return 0
    finally:
        _say("stopping …")
        supervisor.stop_all()
        if broker is not None:
            broker.stop()
        fork_server.close()
        client.close()
        for launched in regions:
            run = read_run_file(launched.run_path)
            if run is not None and run.launcher_pid == os.getpid():
                launched.run_path.unlink()
        _say("stopped")


def _start_region(launched: _LaunchedRegion, args: argparse.Namespace) -> None:
    """Once its services serve: a region that ran before re-publishes its state; a new one
    is seeded (the 25-student demo, or its programme's demo region)."""
    auth = launched.auth
    assert auth is not None
    counts = replay_all(addresses=launched.addresses, auth=launched.auth)
    prefix = f"{launched.name}: " if launched.prefixed else ""
    marker = launched.region_dir / STARTED_MARKER
    if any(counts.values()) or marker.exists():
        _say(f"{prefix}state re-published: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    elif args.seed and launched.programme is not None:
        seeded = seed_programme(
            launched.programme, args.demo_size, launched.addresses, launched.var_dir, auth
        )
        _say(f"{prefix}demo region seeded: " + ", ".join(f"{v} {k}" for k, v in seeded.items()))
    elif args.seed and not launched.prefixed:
        seeded = seed_demo_region(launched.name, launched.var_dir, auth=auth)
        _say("demo region seeded: " + ", ".join(f"{v} {k}" for k, v in seeded.items()))
    elif args.seed:
        _say(f"{prefix}no demo data: {launched.name!r} is not a known programme")
    marker.write_text(f"{datetime.now(UTC).isoformat()}\n")


def _bootstrap() -> str:
    assert _addresses is not None
    return _addresses.bootstrap


def _federation_bootstrap() -> str:
    """The cluster of the topics shared with partner regions; empty: the region's own."""
    return os.environ.get("INTERLOCALITY_FEDERATION_BOOTSTRAP_SERVERS", "")


def _ensure_topics(region: str) -> list[str]:
    """Create ``region``'s missing topics, connecting as the environment says
    (``KAFKA_SECURITY_PROTOCOL`` …, ``INTERLOCALITY_FEDERATION_KAFKA_*``)."""
    return asyncio.run(
        ensure_topics(
            _bootstrap(),
            region,
            federation_bootstrap_servers=_federation_bootstrap(),
            security=KafkaSecurity(),
            federation_security=federation_security_from_environment(),
        )
    )


def _topics(args: argparse.Namespace) -> int:
    federation = _federation_bootstrap()
    created = _ensure_topics(args.region)
    separate = bool(federation) and federation != _bootstrap()
    for topic in planned_topics(args.region, with_shared=not separate) + (
        shared_topics() if separate else []
    ):
        state = "created" if topic.name in created else "exists"
        _say(f"{topic.name:<48} {topic.num_partitions:>3} partitions  {state}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    created = _ensure_topics(args.region)
    if created:
        _say(f"created {len(created)} missing topics")
    for service, count in replay_all().items():
        _say(f"{service:<14} re-published {count} events")
    return 0


def _seed(args: argparse.Namespace) -> int:
    counts = seed_demo_region(args.region, _var_dir(args.var_dir))
    _say("seeded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


IMPORT_SERVICES = {"students": "profiles", "companies": "vacancies", "vacancies": "vacancies"}


def _progress_bar(done: int, total: int, failed: int, started: float) -> str:
    width = 30
    filled = width if total <= 0 else min(width, int(width * done / total))
    shown_total = f"{total:,}" if total > 0 else "?"
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{shown_total} rows"
        f"  {failed:,} failed  {time.monotonic() - started:.1f} s"
    )


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"no such file: {path}")
    fmt = args.format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")
    with open(path, "rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    total = lines - 1 if fmt == "csv" else lines
    service = IMPORT_SERVICES[args.kind]
    url = f"{_url(service)}/v1/imports/{args.kind}?format={fmt}"
    started = time.monotonic()
    interactive = sys.stderr.isatty()

    def upload() -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk

    report: dict[str, object] = {}
    with (
        httpx.Client(timeout=httpx.Timeout(30.0, read=None), auth=_auth()) as client,
        client.stream("POST", url, content=upload()) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.strip():
                continue
            message = json.loads(line)
            if "progress" in message:
                progress = message["progress"]
                bar = _progress_bar(progress["rows"], total, progress["failed"], started)
                if interactive:
                    print(bar, end="", file=sys.stderr, flush=True)
            elif "report" in message:
                report = message["report"]
    if interactive:
        print(file=sys.stderr)
    errors = report.get("errors", [])
    assert isinstance(errors, list)
    _say(
        f"{args.kind}: {report.get('rows', 0):,} rows — {report.get('created', 0):,} created, "
        f"{report.get('updated', 0):,} updated, {report.get('unchanged', 0):,} unchanged, "
        f"{report.get('failed', 0):,} failed ({time.monotonic() - started:.1f} s)"
    )
    if errors:
        target = Path(args.report or f"{path}.errors.csv")
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "field", "message"])
            for error in errors:
                writer.writerow([error["line"], error["field"], error["message"]])
        _say(f"every failed row, with its line and reason: {target}")
        for error in errors[:5]:
            _say(f"  line {error['line']}: {error['field'] or 'row'}: {error['message']}")
        return 2
    return 0


def _export(args: argparse.Namespace) -> int:
    holdings = {}
    with httpx.Client(timeout=30, auth=_auth()) as client:
        for service in SERVICES:
            response = client.get(f"{_url(service)}/v1/privacy/students/{args.student_id}")
            response.raise_for_status()
            holdings[service] = response.json()["holds"]
    print(json.dumps({"student_id": args.student_id, "services": holdings}, indent=2))
    return 0


def _token(args: argparse.Namespace) -> int:
    role = Role(args.role)
    for flag, owner, value in (
        ("--student", Role.STUDENT, args.student),
        ("--company", Role.COMPANY, args.company),
    ):
        if value is not None and role is not owner:
            raise SystemExit(
                f"interlocality token: {flag} names whose token it is, for --role {owner} "
                f"only (not --role {role})"
            )
        if value is None and role is owner:
            raise SystemExit(
                f"interlocality token: a {owner}'s token is for one {owner}: name it with {flag} ID"
            )
    if args.minutes <= 0:
        raise SystemExit("interlocality token: --minutes must be more than 0")
    var_dir = _var_dir(args.var_dir)
    url, development = region_issuer(args.region, var_dir)
    if not development:
        raise SystemExit(
            f"interlocality token: region {args.region!r} trusts the identity provider {url}; "
            "get a token from it (this machine signs tokens of the development issuer only)"
        )
    tokens = development_tokens(var_dir, url, args.region)
    print(
        tokens.token(
            role,
            student_id=args.student,
            company_id=args.company,
            lifetime=timedelta(minutes=args.minutes),
        )
    )
    return 0


def _broker(args: argparse.Namespace) -> int:
    with EmbeddedBroker(port=args.broker_port) as broker:
        _say(f"embedded broker on {broker.bootstrap_servers}; Ctrl-C stops it")
        try:
            while broker.running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``interlocality`` command."""
    global _addresses, _region
    default_region = ServiceSettings().region
    parser = argparse.ArgumentParser(prog="interlocality", description=__doc__)
    parser.add_argument("--region", default=default_region, help="region (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    # Every command but ``broker`` works on a region: the run file under the var dir says
    # where its broker and services are.
    located = argparse.ArgumentParser(add_help=False)
    located.add_argument(
        "--var-dir",
        default=None,
        help="where the region's files are ($INTERLOCALITY_VAR_DIR, else var)",
    )
    default_broker_port = int(os.environ.get("INTERLOCALITY_BROKER_PORT", DEFAULT_BROKER_PORT))

    up = commands.add_parser(
        "up", parents=[located], help="start a region: broker, topics, mail sink, five services"
    )
    up.add_argument(
        "--broker-port",
        type=int,
        default=default_broker_port,
        help="port of the embedded broker; another one is used when it is taken "
        "($INTERLOCALITY_BROKER_PORT, else %(default)s)",
    )
    up.add_argument(
        "--smtp-port", type=int, default=8025, help="port of the embedded mail sink (SMTP)"
    )
    up.add_argument(
        "--regions",
        type=_parse_regions,
        default=None,
        help="start several regions on this machine sharing one broker, e.g. "
        f"'{','.join(PROGRAMMES)}' (the known programmes, each seeded with demo data shaped "
        "like it) or 'name=rules' for another region (rules: dk, de, nl, be-vlg, fi, it or "
        "a TOML file); region i's services prefer ports PORT_BASE+100·i+1 … +5, its mail "
        "sink +25",
    )
    up.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("INTERLOCALITY_PORT_BASE", DEFAULT_PORT_BASE)),
        help="with --regions: region 1 listens from PORT_BASE+101, region 2 from +201 … "
        "($INTERLOCALITY_PORT_BASE, else %(default)s)",
    )
    up.add_argument(
        "--demo-size",
        choices=sorted(SIZES),
        default="full",
        help="with --regions: how large each programme's demo region is "
        "(full: about 300 students, 70 vacancies, 36 companies)",
    )
    up.add_argument(
        "--issuer-port",
        type=int,
        default=int(os.environ.get(ISSUER_PORT_VARIABLE) or DEFAULT_ISSUER_PORT),
        help="port of the development issuer of access tokens, one for every region; "
        f"another one is used when it is taken (${ISSUER_PORT_VARIABLE}, else %(default)s). "
        f"With ${ISSUER_VARIABLE} set, the services trust that provider instead",
    )
    up.add_argument("--no-seed", dest="seed", action="store_false", help="skip the demo data")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    up.set_defaults(run=_up)

    topics = commands.add_parser("topics", parents=[located], help="create the region's topics")
    topics.add_argument(
        "--bootstrap", default="", help="Kafka bootstrap servers (default: the running region's)"
    )
    topics.set_defaults(run=_topics)

    replay = commands.add_parser(
        "replay", parents=[located], help="every service re-publishes the state it owns"
    )
    replay.add_argument(
        "--bootstrap", default="", help="Kafka bootstrap servers (default: the running region's)"
    )
    replay.set_defaults(run=_replay)

    seed = commands.add_parser(
        "seed", parents=[located], help="post the demo region to running services"
    )
    seed.set_defaults(run=_seed)

    imports = commands.add_parser(
        "import",
        parents=[located],
        help="import students, companies or vacancies from CSV or JSON Lines",
        description="Streams FILE to the service; every bad row is reported with its line "
        "and reason in FILE.errors.csv. Exit code 2 when some rows failed. Students get only "
        "the consents their row gives (columns consent_matching, consent_notifications, "
        "consent_analytics: yes/no); without them a student has given none.",
    )
    imports.add_argument("kind", choices=sorted(IMPORT_SERVICES))
    imports.add_argument("file")
    imports.add_argument("--format", choices=["csv", "jsonl"], help="default: from the suffix")
    imports.add_argument("--report", help="where to write the error report")
    imports.set_defaults(run=_import)

    export = commands.add_parser(
        "export",
        parents=[located],
        help="everything every service holds on a student (GDPR access request)",
    )
    export.add_argument("student_id")
    export.set_defaults(run=_export)

    token = commands.add_parser(
        "token",
        parents=[located],
        help="print an access token of the development issuer, for curl and the API docs",
        description="Signs a token with the key of the development issuer `up` runs "
        "(var/issuer); the region's services accept it as `Authorization: Bearer TOKEN`.",
    )
    token.add_argument(
        "--region",
        default=argparse.SUPPRESS,
        help="the region it is for (default: the command's --region)",
    )
    token.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="who the caller is"
    )
    token.add_argument("--student", metavar="ID", help="with --role student: whose token")
    token.add_argument("--company", metavar="ID", help="with --role company: whose token")
    token.add_argument("--minutes", type=int, default=480, help="lifetime (default: 8 hours)")
    token.set_defaults(run=_token)

    broker = commands.add_parser("broker", help="run the embedded broker in the foreground")
    broker.add_argument("--broker-port", type=int, default=default_broker_port)
    broker.set_defaults(run=_broker)

    args = parser.parse_args(argv)
    # A broker that does not answer is said once, below, not once per connection attempt.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if args.command not in ("up", "broker", "token"):
        _addresses = locate_region(
            args.region, _var_dir(args.var_dir), getattr(args, "bootstrap", "")
        )
        _region = (args.region, _var_dir(args.var_dir))
    try:
        return int(args.run(args))
    except KafkaConnectionError as exc:
        print(f"interlocality: cannot reach Kafka: {exc}", file=sys.stderr)
    except httpx.ConnectError as exc:
        print(
            f"interlocality: a service does not answer ({exc}); is the region up?",
            file=sys.stderr,
        )
    except httpx.HTTPStatusError as exc:
        print(
            f"interlocality: {exc.request.url} answered {exc.response.status_code}: "
            f"{exc.response.text[:500]}",
            file=sys.stderr,
        )
        if exc.response.status_code in (401, 403):
            print(
                "interlocality: the region refused the command's token; a region trusting "
                f"another provider ({ISSUER_VARIABLE}) is called with the token in "
                "INTERLOCALITY_TOKEN",
                file=sys.stderr,
            )
    except (
        EmbeddedBrokerError,
        ForkServerError,
        RegionNotRunning,
        DemoSeedError,
        NoCredentials,
    ) as exc:
        print(f"interlocality: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
