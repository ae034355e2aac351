"""A region launched for a test as an operator runs it: ``interlocality up`` as a process
of its own, driven over HTTP like a user, with the tokens of the development issuer the
launcher runs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import httpx

from interlocality.common.access import Role
from interlocality.common.embedded_broker import free_port
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.operator.credentials import (
    ISSUER_PORT_VARIABLE,
    ISSUER_VARIABLE,
    TOKEN_VARIABLE,
    SignedTokens,
    issuer_key_path,
)
from interlocality.operator.services import SERVICES

__all__ = ["REGION_SERVICES", "LaunchedRegion", "launched_region"]

REGION_SERVICES = SERVICES


class _AsOperator(httpx.Auth):
    """Signs each request in as the tools do (:func:`role_of_path`): as the region's
    operator, or as the service role on the operations endpoints."""

    def __init__(self, region: LaunchedRegion) -> None:
        self.region = region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        tokens = self.region.tokens
        assert tokens is not None, "the region has not been started"
        yield from tokens.auth_flow(request)


class LaunchedRegion:
    """A region as an operator runs it: ``interlocality up`` as a process of its own, its
    services and issuer on free ports, its state in ``workdir``, driven over HTTP like a
    user: :attr:`http` as the region's operator (and as the service role on ``/v1/admin/*``
    and ``/metrics``, as the operator's tools call them), :meth:`as_role` as anyone else.

    ``kafka_bootstrap``: a running cluster to use; none, the launcher's own embedded broker.
    ``seed``: the demo region. ``env``: more of the launcher's environment. Each
    :meth:`start` writes its output to a log of its own (``up-1.log``, ``up-2.log``, …);
    commands (:meth:`cli`) get nothing but the region's name and var dir: they find the rest.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        kafka_bootstrap: str | None = None,
        seed: bool = False,
        env: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.name = name or f"r{uuid.uuid4().hex[:10]}"
        self.seed = seed
        self.var_dir = workdir / "var"
        self.ports = {service: free_port() for service in REGION_SERVICES}
        self.urls = {service: f"http://127.0.0.1:{port}" for service, port in self.ports.items()}
        self.smtp_port = free_port()
        outside = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "KAFKA_BOOTSTRAP_SERVERS",
                "INTERLOCALITY_SMTP_HOST",
                ISSUER_VARIABLE,
                "INTERLOCALITY_OIDC_AUDIENCE",
                "INTERLOCALITY_OIDC_JWKS_URL",
                TOKEN_VARIABLE,
            )
            and not k.endswith("_PORT")
        }
        self.command_env = {
            **outside,
            "INTERLOCALITY_REGION": self.name,
            "INTERLOCALITY_VAR_DIR": str(self.var_dir),
            **({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap} if kafka_bootstrap else {}),
        }
        self.issuer_port = free_port()
        self.up_env = {
            **self.command_env,
            **{f"{service.upper()}_PORT": str(port) for service, port in self.ports.items()},
            ISSUER_PORT_VARIABLE: str(self.issuer_port),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_path = workdir / "up-0.log"
        self.tokens: SignedTokens | None = None
        self._clients: list[httpx.Client] = []
        self.http = httpx.Client(timeout=10, auth=_AsOperator(self))

    @property
    def logs_dir(self) -> Path:
        """Where the launcher writes the services' logs."""
        return self.var_dir / self.name / "logs"

    @property
    def run_path(self) -> Path:
        """The run file of the region while it runs."""
        return self.var_dir / self.name / "run.json"

    def start(self, up_when: str = r"is up in", timeout: float = 180.0) -> None:
        """Start the launcher and wait until its output matches ``up_when``."""
        self.starts += 1
        self.log_path = self.workdir / f"up-{self.starts}.log"
        with open(self.log_path, "wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "interlocality.operator.cli",
                    "up",
                    *([] if self.seed else ["--no-seed"]),
                    "--smtp-port",
                    str(self.smtp_port),
                ],
                env=self.up_env,
                stdout=output,
                stderr=subprocess.STDOUT,
                # A process group of its own, as a shell gives a command in a terminal.
                process_group=0,
            )
        process = self.process
        pattern = re.compile(up_when, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while process.poll() is None and not pattern.search(self.log()):
            assert time.monotonic() < deadline, f"not up within {timeout} s:\n{self.trouble()}"
            time.sleep(0.2)
        assert process.poll() is None, self.trouble()
        # Where the services listen: a port found taken moves, and the run file says where.
        run = self.run_file()
        self.urls = {s: r["url"] for s, r in run["services"].items()}
        self.ports = {s: int(url.rsplit(":", 1)[1]) for s, url in self.urls.items()}
        issuer = DevelopmentIssuer(run["issuer"]["url"], issuer_key_path(self.var_dir))
        self.tokens = SignedTokens(issuer, self.name)

    @property
    def issuer_url(self) -> str:
        """The issuer whose tokens the region's services accept."""
        assert self.tokens is not None, "the region has not been started"
        return self.tokens.issuer.url

    def token(
        self,
        role: Role | str = Role.OPERATOR,
        *,
        student_id: str | None = None,
        company_id: str | None = None,
    ) -> str:
        """A token of the region's development issuer for ``role`` (a student's or a
        company's own with ``student_id`` or ``company_id``)."""
        assert self.tokens is not None, "the region has not been started"
        return self.tokens.token(Role(role), student_id=student_id, company_id=company_id)

    def as_role(
        self,
        role: Role | str,
        *,
        student_id: str | None = None,
        company_id: str | None = None,
    ) -> httpx.Client:
        """An HTTP client calling the region as ``role`` (closed with the region)."""
        token = self.token(role, student_id=student_id, company_id=company_id)
        client = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"})
        self._clients.append(client)
        return client

    def stop(self, ctrl_c: bool = False) -> None:
        """SIGTERM, as a service manager stops it, or a Ctrl-C in its terminal as ``make run``
        passes it on: SIGINT to its process group, then again, as ``uv run`` forwards it.
        Either stops everything in order."""
        assert self.process is not None
        if ctrl_c:
            os.killpg(self.process.pid, signal.SIGINT)
            time.sleep(0.05)  # not at once: the kernel would merge the two into one
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGTERM)
        code = self._ended()
        assert code == 0, self.log()
        assert "stopped" in self.log()

    def _ended(self, timeout: float = 60.0) -> int:
        """The launcher's exit code once it ended (killed after ``timeout``)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.process = None

    def close(self) -> None:
        """Stop the launcher if it runs (without judging how: a test that failed says why),
        and the HTTP client."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                self._ended()
        finally:
            self.http.close()
            for client in self._clients:
                client.close()

    def log(self) -> str:
        """What the current (or last) start of the launcher printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def trouble(self) -> str:
        """For a failure message: the launcher's output and what the services logged above
        info."""
        lines = [
            f"{path.stem}: {line[:500]}"
            for path in sorted(self.logs_dir.glob("*.log"))
            for line in path.read_text(errors="replace").splitlines()
            if '"level": "info"' not in line and '"level": "debug"' not in line
        ]
        return self.log() + "\n".join(lines[-40:])

    def run_file(self) -> dict[str, Any]:
        """The run file, as the launcher wrote it."""
        return dict(json.loads(self.run_path.read_text()))

    def url(self, service: str, path: str) -> str:
        """The URL of ``path`` on ``service``."""
        return self.urls[service] + path

    def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET ``path`` of ``service``."""
        return self.http.get(self.url(service, path), params=params)

    def post(self, service: str, path: str, body: Any = None) -> httpx.Response:
        """POST ``body`` as JSON to ``path`` of ``service``."""
        return self.http.post(self.url(service, path), json=body)

    def put(self, service: str, path: str, body: Any = None) -> httpx.Response:
        """PUT ``body`` as JSON to ``path`` of ``service``."""
        return self.http.put(self.url(service, path), json=body)

    def delete(self, service: str, path: str) -> httpx.Response:
        """DELETE ``path`` of ``service``."""
        return self.http.delete(self.url(service, path))

    def read(self, service: str, path: str, **params: Any) -> Any:
        """The JSON of a GET that must answer 200."""
        response = self.get(service, path, params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def ready(self, service: str) -> bool:
        """Whether ``service`` answers its readiness probe with 200."""
        try:
            return self.get(service, "/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def wait_for(
        self, what: Callable[[], Any], timeout: float = 60.0, until: Callable[[Any], bool] = bool
    ) -> Any:
        """``what()`` once ``until`` holds for it; fails with the region's trouble."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = what()
            if until(value):
                return value
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout} s; last value {value!r}\n{self.trouble()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """An ``interlocality`` command, given only the region's name and var dir."""
        return subprocess.run(
            [sys.executable, "-m", "interlocality.operator.cli", *args],
            env=self.command_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )


@contextlib.contextmanager
def launched_region(
    workdir: Path, up_when: str = r"is up in", **options: Any
) -> Iterator[LaunchedRegion]:
    """A :class:`LaunchedRegion` started for the block (until its output matches
    ``up_when``) and stopped in order after it."""
    region = LaunchedRegion(workdir, **options)
    try:
        region.start(up_when)
        yield region
    finally:
        region.close()
