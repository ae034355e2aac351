"""The operator command: ``interlocality up | topics | replay | seed | broker``."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import httpx
from aiokafka.errors import KafkaConnectionError

from interlocality.common.embedded_broker import EmbeddedBroker, EmbeddedBrokerError, wait_for_port
from interlocality.common.settings import SERVICE_PORTS, ServiceSettings
from interlocality.common.topics_admin import ensure_topics, planned_topics

__all__ = ["main"]

SERVICES = tuple(SERVICE_PORTS)


def _say(message: str) -> None:
    print(message, flush=True)


def _port(service: str) -> int:
    return int(os.environ.get(f"{service.upper()}_PORT", SERVICE_PORTS[service]))


def _url(service: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{_port(service)}"


def _wait_ready(
    services: Sequence[str], processes: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for service in list(pending):
                process = processes.get(service)
                if process is not None and process.poll() is not None:
                    raise SystemExit(
                        f"{service} exited with code {process.returncode} while starting; "
                        "see its log"
                    )
                try:
                    if client.get(f"{_url(service)}/readyz").status_code == 200:
                        pending.remove(service)
                        _say(f"  {service:<14} ready  {_url(service)}")
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.2)


def seed_demo_region(timeout: float = 30.0) -> dict[str, int]:
    """Register the demo region over HTTP; what follows once matching has scored it (Company
    Dating, applications, a placement) is staged in the background and announced."""
    from interlocality.common import demo

    urls = {service: _url(service) for service in SERVICES}
    with httpx.Client(timeout=timeout) as client:
        seeded = demo.seed_demo_region(urls, client)
    demo.stage_demo_activity_later(urls, seeded, say=_say, time_zone=ServiceSettings().time_zone)
    return seeded.counts


def replay_all(timeout: float = 120.0) -> dict[str, int]:
    """Ask every service to re-publish the state it owns; returns counts per service."""
    counts: dict[str, int] = {}
    with httpx.Client(timeout=timeout) as client:
        for service in SERVICES:
            response = client.post(f"{_url(service)}/v1/admin/replay")
            response.raise_for_status()
            counts[service] = int(response.json()["republished"])
    return counts


def _restart_embedded_broker(
    broker: EmbeddedBroker,
    region: str,
    processes: dict[str, subprocess.Popen[bytes]],
    timeout: float,
) -> None:
    """The in-memory broker lost its log: start it again and have every service re-publish."""
    _say("embedded broker stopped unexpectedly: restarting it and re-publishing state …")
    broker.stop()
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap_servers, region))
    _wait_ready(SERVICES, processes, timeout)
    counts = replay_all()
    _say("state re-published: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _start_mail_sink(
    mail_dir: Path, port: int, env: dict[str, str], log_dir: Path
) -> subprocess.Popen[bytes]:
    """The embedded SMTP sink, once its port answers; ``make run`` mails nobody."""
    with open(log_dir / "mail-sink.log", "ab") as log:
        process = subprocess.Popen(
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
        )
    deadline = time.monotonic() + 30
    while not wait_for_port("127.0.0.1", port, 0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the mail sink did not start; see {log_dir / 'mail-sink.log'}")
    return process


def _up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    region = args.region
    var_dir = Path(args.var_dir).resolve()
    log_dir = var_dir / region / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    seeded_marker = var_dir / region / "seeded"

    mail_dir: Path | None = None
    if not os.environ.get("INTERLOCALITY_SMTP_HOST"):
        if wait_for_port("127.0.0.1", args.smtp_port, 0.2):
            raise SystemExit(
                f"port {args.smtp_port} is taken; pass --smtp-port or set INTERLOCALITY_SMTP_HOST"
            )
        mail_dir = var_dir / region / "mail"

    broker: EmbeddedBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap:
        port = args.broker_port
        if wait_for_port("127.0.0.1", port, 0.2):
            raise SystemExit(
                f"port {port} is taken; pass --broker-port or set KAFKA_BOOTSTRAP_SERVERS"
            )
        broker = EmbeddedBroker(port=port, log_path=log_dir / "broker.log").start()
        bootstrap = broker.bootstrap_servers
        _say(f"embedded broker (Tansu, in memory) on {bootstrap}")
    else:
        _say(f"using Kafka at {bootstrap}")

    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def shutdown(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        # A second Ctrl-C or SIGTERM must not cut the shutdown short and orphan the broker.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("stopping …")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        if broker is not None:
            broker.stop()
        _say("stopped")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        created = asyncio.run(ensure_topics(bootstrap, region))
        _say(
            f"topics: {len(created)} created, {len(planned_topics(region)) - len(created)} existed"
        )
        env = {
            **os.environ,
            "INTERLOCALITY_REGION": region,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "INTERLOCALITY_VAR_DIR": str(var_dir),
            "INTERLOCALITY_DEPLOYMENT": "embedded",
        }
        if mail_dir is not None:
            env["INTERLOCALITY_SMTP_HOST"] = "127.0.0.1"
            env["INTERLOCALITY_SMTP_PORT"] = str(args.smtp_port)
            env["INTERLOCALITY_MAIL_SINK_DIR"] = str(mail_dir)
            processes["mail-sink"] = _start_mail_sink(mail_dir, args.smtp_port, env, log_dir)
            _say(f"embedded mail sink on 127.0.0.1:{args.smtp_port}, mail kept in {mail_dir}")
        else:
            relay = ServiceSettings()
            _say(f"sending e-mail through the relay {relay.smtp_host}:{relay.smtp_port}")
        for service in SERVICES:
            with open(log_dir / f"{service}.log", "ab") as log:
                processes[service] = subprocess.Popen(
                    [sys.executable, "-m", f"interlocality.{service}"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        _say(f"starting {len(SERVICES)} services (logs in {log_dir}) …")
        _wait_ready(SERVICES, processes, timeout=args.timeout)
        if seeded_marker.exists():
            counts = replay_all()
            _say("state re-published: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        elif args.seed:
            seeded = seed_demo_region()
            seeded_marker.write_text("demo\n")
            _say("demo region seeded: " + ", ".join(f"{v} {k}" for k, v in seeded.items()))
        _say(f"region {region!r} is up in {time.monotonic() - started:.1f} s:")
        for service in SERVICES:
            _say(f"  {service:<14} {_url(service)}/docs")
        if mail_dir is not None:
            _say(f"  {'mailbox':<14} {_url('notifications')}/v1/mailbox")
        _say("Ctrl-C stops everything.")
        while True:
            for service, process in processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{service} exited with code {process.returncode}")
            if broker is not None and not broker.running():
                _restart_embedded_broker(broker, region, processes, args.timeout)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        shutdown()


def _topics(args: argparse.Namespace) -> int:
    bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    created = asyncio.run(ensure_topics(bootstrap, args.region))
    for topic in planned_topics(args.region):
        state = "created" if topic.name in created else "exists"
        _say(f"{topic.name:<48} {topic.num_partitions:>3} partitions  {state}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    created = asyncio.run(ensure_topics(bootstrap, args.region))
    if created:
        _say(f"created {len(created)} missing topics")
    for service, count in replay_all().items():
        _say(f"{service:<14} re-published {count} events")
    return 0


def _seed(_: argparse.Namespace) -> int:
    counts = seed_demo_region()
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
        httpx.Client(timeout=httpx.Timeout(30.0, read=None)) as client,
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
    with httpx.Client(timeout=30) as client:
        for service in SERVICES:
            response = client.get(f"{_url(service)}/v1/privacy/students/{args.student_id}")
            response.raise_for_status()
            holdings[service] = response.json()["holds"]
    print(json.dumps({"student_id": args.student_id, "services": holdings}, indent=2))
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
    default_region = ServiceSettings().region
    parser = argparse.ArgumentParser(prog="interlocality", description=__doc__)
    parser.add_argument("--region", default=default_region, help="region (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start a region: broker, topics, mail sink, five services")
    up.add_argument("--var-dir", default=os.environ.get("INTERLOCALITY_VAR_DIR", "var"))
    up.add_argument("--broker-port", type=int, default=9092)
    up.add_argument(
        "--smtp-port", type=int, default=8025, help="port of the embedded mail sink (SMTP)"
    )
    up.add_argument("--no-seed", dest="seed", action="store_false", help="skip the demo data")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    up.set_defaults(run=_up)

    topics = commands.add_parser("topics", help="create the region's topics")
    topics.add_argument("--bootstrap", default="", help="Kafka bootstrap servers")
    topics.set_defaults(run=_topics)

    replay = commands.add_parser("replay", help="every service re-publishes the state it owns")
    replay.add_argument("--bootstrap", default="", help="Kafka bootstrap servers")
    replay.set_defaults(run=_replay)

    seed = commands.add_parser("seed", help="post the demo region to running services")
    seed.set_defaults(run=_seed)

    imports = commands.add_parser(
        "import",
        help="import students, companies or vacancies from CSV or JSON Lines",
        description="Streams FILE to the service; every bad row is reported with its line "
        "and reason in FILE.errors.csv. Exit code 2 when some rows failed.",
    )
    imports.add_argument("kind", choices=sorted(IMPORT_SERVICES))
    imports.add_argument("file")
    imports.add_argument("--format", choices=["csv", "jsonl"], help="default: from the suffix")
    imports.add_argument("--report", help="where to write the error report")
    imports.set_defaults(run=_import)

    export = commands.add_parser(
        "export", help="everything every service holds on a student (GDPR access request)"
    )
    export.add_argument("student_id")
    export.set_defaults(run=_export)

    broker = commands.add_parser("broker", help="run the embedded broker in the foreground")
    broker.add_argument("--broker-port", type=int, default=9092)
    broker.set_defaults(run=_broker)

    args = parser.parse_args(argv)
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
    except EmbeddedBrokerError as exc:
        print(f"interlocality: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
