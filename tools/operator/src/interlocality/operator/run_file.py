"""The run file of a running region: where its broker and services are, for every command.

``interlocality up`` writes ``var/<region>/run.json`` while the region runs — its own pid,
the broker's bootstrap servers, pid and how it was started, each service's URL and pid, the
mail sink, the issuer of the tokens the services accept — and removes it on a clean stop.
Every command reads it to find the region without flags; flags and the environment still
win. A run file whose launcher no longer
runs (it was killed) is stale: commands say the region is not running rather than guess,
and the next ``up`` replaces it. What the launcher started died with it (a parent-death
signal), so nothing it names is stopped by pid, which another process may have by now.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError

from interlocality.common.processes import process_info
from interlocality.operator.services import SERVICE_PORTS

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "BrokerRun",
    "IssuerRun",
    "MailSinkRun",
    "RegionAddresses",
    "RegionNotRunning",
    "RegionRun",
    "ServiceRun",
    "is_launcher",
    "locate_region",
    "read_run_file",
    "run_file_path",
]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def is_launcher(pid: int) -> bool:
    """True when ``pid`` is a running ``interlocality up``."""
    info = process_info(pid)
    if info is None or info.state == "Z":
        return False
    runs_cli = any(
        part == "interlocality.operator.cli" or Path(part).name == "interlocality"
        for part in info.command
    )
    return runs_cli and "up" in info.command


class BrokerRun(BaseModel):
    """The region's broker."""

    bootstrap: Annotated[str, Field(description="host:port list clients connect to")]
    started: Annotated[
        Literal["embedded", "configured"],
        Field(description="embedded: Tansu started by the launcher; configured: a cluster"),
    ]
    pid: int | None = None
    command: list[str] = []


class ServiceRun(BaseModel):
    """One service process of the region."""

    url: str
    pid: int | None = None
    log: str


class MailSinkRun(BaseModel):
    """The embedded SMTP sink, when the region mails nobody."""

    smtp: Annotated[str, Field(description="host:port of the sink's SMTP listener")]
    pid: int | None = None
    mail_dir: str
    mailbox: Annotated[str, Field(description="where notifications serves the mail it kept")]


class IssuerRun(BaseModel):
    """The identity provider whose tokens the region's services accept."""

    url: Annotated[str, Field(description="the issuer (INTERLOCALITY_OIDC_ISSUER)")]
    started: Annotated[
        Literal["embedded", "configured"],
        Field(
            description="embedded: the development issuer started by the launcher, its key "
            "in var/issuer; configured: a provider of its own"
        ),
    ]
    pid: int | None = None


class RegionRun(BaseModel):
    """What ``var/<region>/run.json`` holds."""

    region: str
    launcher_pid: int
    launcher_started: Annotated[
        int | None, Field(description="the launcher's start in clock ticks after boot (/proc)")
    ] = None
    started_at: datetime
    broker: BrokerRun
    services: dict[str, ServiceRun] = {}
    mail_sink: MailSinkRun | None = None
    issuer: IssuerRun | None = None
    fork_server_pid: int | None = None

    def launcher_runs(self) -> bool:
        """True while the launcher that wrote it runs (not another process with its pid)."""
        if not is_launcher(self.launcher_pid):
            return False
        info = process_info(self.launcher_pid)
        return self.launcher_started is None or (
            info is not None and info.started == self.launcher_started
        )

    def write(self, path: Path) -> None:
        """Write the run file at once (a reader never sees half of it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        partial.replace(path)


def run_file_path(var_dir: Path, region: str) -> Path:
    """Where the run file of ``region`` lives."""
    return var_dir / region / "run.json"


def read_run_file(path: Path) -> RegionRun | None:
    """The run file at ``path``; None when there is none or it cannot be read."""
    try:
        return RegionRun.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, json.JSONDecodeError):
        return None


class RegionNotRunning(RuntimeError):
    """The region's run file is stale and nothing else says where the region is."""


@dataclass(frozen=True)
class RegionAddresses:
    """Where a command finds the region's broker and services.

    ``None`` is a place nobody knows: the run file was stale and neither a flag nor the
    environment named it; using it raises :class:`RegionNotRunning` with ``stale`` as reason.
    """

    bootstrap_servers: str | None
    urls: dict[str, str | None]
    stale: str = ""

    @property
    def bootstrap(self) -> str:
        """The broker's bootstrap servers."""
        if self.bootstrap_servers is None:
            raise RegionNotRunning(self.stale)
        return self.bootstrap_servers

    def url(self, service: str) -> str:
        """The base URL of ``service``."""
        url = self.urls[service]
        if url is None:
            raise RegionNotRunning(self.stale)
        return url


def locate_region(region: str, var_dir: Path, bootstrap: str = "") -> RegionAddresses:
    """The region's broker and services: ``bootstrap`` (a flag) or the environment
    (``KAFKA_BOOTSTRAP_SERVERS``, ``<SERVICE>_PORT``) first, then the run file of the
    running region, then the defaults (``127.0.0.1:9092``, each service's own port).

    When the run file is stale the region is not running: what neither a flag nor the
    environment names is unknown rather than a default, so that a command does not talk to
    whatever else listens there.
    """
    path = run_file_path(var_dir, region)
    run = read_run_file(path)
    stale = ""
    if run is not None and not run.launcher_runs():
        stale = (
            f"region {region!r} is not running: {path} is stale, the launcher that wrote it "
            f"(pid {run.launcher_pid}) no longer runs. Start the region with "
            "`interlocality up`, or name its broker and services (--bootstrap, "
            "KAFKA_BOOTSTRAP_SERVERS, <SERVICE>_PORT)."
        )
        run = None
    urls: dict[str, str | None] = {}
    for service, default_port in SERVICE_PORTS.items():
        port = os.environ.get(f"{service.upper()}_PORT")
        if port:
            urls[service] = f"http://127.0.0.1:{int(port)}"
        elif run is not None and service in run.services:
            urls[service] = run.services[service].url
        else:
            urls[service] = None if stale else f"http://127.0.0.1:{default_port}"
    named = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if named:
        bootstrap_servers: str | None = named
    elif run is not None:
        bootstrap_servers = run.broker.bootstrap
    else:
        bootstrap_servers = None if stale else DEFAULT_BOOTSTRAP
    return RegionAddresses(bootstrap_servers, urls, stale)
