"""Every service starts as its Deployment runs the image: on a read-only root filesystem,
as user 10001, with only /tmp writable and the environment the manifest gives it.

Where a container engine answers, the image is built and each service is run from it
(`--read-only --tmpfs /tmp --user 10001`). Elsewhere the same start-up runs in a mount
namespace of its own with the root filesystem remounted read-only, a fresh tmpfs on /tmp,
the user dropped to 10001 and the working directory one it cannot write (the image's
`/app`): what the container would meet, without the image. Neither available fails the
test; it is never skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from interlocality.common.embedded_broker import free_port
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.testing import fresh_databases, served_issuer
from interlocality.common.topics_admin import ensure_topics
from interlocality.operator.manifests import service_manifests
from interlocality.operator.services import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[1]
USER = "10001"
START_SECONDS = 180
# The shell run inside the new mount namespace: what the container's runtime would set up.
# What the container's runtime would set up, in the new mount namespace: the working
# directory is entered first and the code (this checkout and its virtual environment) bound
# aside, since the new /tmp hides whatever was under it (a checkout in /tmp included);
# then / is read-only, /tmp a fresh tmpfs, the code back in place read-only, user 10001.
AS_THE_CONTAINER = (
    'cd "$1" && code="$2" && aside="$3" && shift 3 && '
    'mount --bind "$code" "$aside" && '
    "mount -o remount,bind,ro / && "
    "mount -t tmpfs -o mode=1777 tmpfs /tmp && "
    'case "$code" in /tmp/*) mkdir -p "$code" && mount --bind "$aside" "$code" && '
    'mount -o remount,bind,ro "$code" ;; esac && '
    f'exec setpriv --reuid {USER} --regid {USER} --clear-groups -- "$@"'
)


# a shell in a mount namespace of its own, whose mounts never reach the machine's
OWN_MOUNTS = ("unshare", "-m", "--propagation", "private", "sh", "-c")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _read_only_root_works() -> bool:
    """Whether this machine lets the test remount / read-only in a namespace of its own."""
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    probe = subprocess.run(
        [*OWN_MOUNTS, "mount -o remount,bind,ro / && ! touch /.interlocality-probe 2>/dev/null"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def environment_of(service: str, values: dict[str, str]) -> dict[str, str]:
    """The container's environment as its generated Deployment declares it: plain values
    as written, secrets and the region's configuration from ``values``."""
    [deployment] = [m for m in service_manifests(service) if m["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        reference = entry["valueFrom"]["secretKeyRef"]
        key = f"{reference['name']}/{reference['key']}"
        if key in values:
            env[entry["name"]] = values[key]
        else:
            assert reference.get("optional"), f"{service} needs the secret {key}"
    env.update({k: v for k, v in values.items() if "/" not in k})
    return env


@contextmanager
def _databases(admin_url: str) -> Iterator[dict[str, str]]:
    names = [f"il_start_{service}_{uuid.uuid4().hex[:8]}" for service in SERVICE_PORTS]
    with fresh_databases(admin_url, names) as urls:
        yield dict(zip(SERVICE_PORTS, urls, strict=True))


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevelopmentIssuer]:
    with served_issuer() as served:
        yield served


def _region_configuration(kafka_bootstrap: str, issuer: DevelopmentIssuer) -> dict[str, str]:
    region = f"t{uuid.uuid4().hex[:10]}"
    asyncio.run(ensure_topics(kafka_bootstrap, region))
    return {
        # the overlay's ConfigMap
        "INTERLOCALITY_REGION": region,
        "INTERLOCALITY_OIDC_ISSUER": issuer.url,
        "INTERLOCALITY_OIDC_AUDIENCE": "interlocality",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INTERLOCALITY_PUBLIC_URL": "https://notifications.region.example",
        "INTERLOCALITY_SMTP_HOST": "127.0.0.1",
        "INTERLOCALITY_SMTP_PORT": str(free_port()),
        "INTERLOCALITY_LOG_FORMAT": "json",
        # what the region's secrets hold
        "notifications-signing-key/key": secrets.token_urlsafe(32),
    }


def _start_in_namespace(
    service: str, env: dict[str, str], workdir: Path, aside: Path, log: Path
) -> Any:
    command = [
        *OWN_MOUNTS,
        AS_THE_CONTAINER,
        "sh",
        str(workdir),
        str(ROOT),
        str(aside),
        sys.executable,
        "-m",
        f"interlocality.{service}",
    ]
    with open(log, "wb") as output:
        return subprocess.Popen(
            command,
            env={"PATH": os.environ["PATH"], **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _image() -> str:
    tag = "interlocality:start-test"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    return tag


def _start_in_container(image: str, service: str, env: dict[str, str], log: Path) -> Any:
    arguments = [f"--env={name}={value}" for name, value in env.items()]
    command = [
        "docker",
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--user",
        USER,
        "--network",
        "host",
        *arguments,
        image,
        f"interlocality.{service}",
    ]
    with open(log, "wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)


def test_every_service_starts_on_a_read_only_root_as_its_deployment_runs_it(
    kafka_bootstrap: str,
    postgres_admin_url: str,
    issuer: DevelopmentIssuer,
    tmp_path: Path,
) -> None:
    in_container = _docker_answers()
    assert in_container or _read_only_root_works(), (
        "neither a container engine nor a mount namespace with a read-only root is available"
    )
    image = _image() if in_container else ""
    configuration = _region_configuration(kafka_bootstrap, issuer)
    processes: dict[str, Any] = {}
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        # The image's /app, where the process may not write: outside /tmp, which the new
        # tmpfs replaces (a relative path made absolute there would land in that tmpfs).
        workdir = Path(tempfile.mkdtemp(prefix="interlocality-app-", dir="/var/tmp"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        aside = Path(tempfile.mkdtemp(prefix="interlocality-code-", dir="/var/tmp"))
        stack.callback(shutil.rmtree, aside, ignore_errors=True)
        databases = stack.enter_context(_databases(postgres_admin_url))
        for service in SERVICE_PORTS:
            port = free_port()
            values = {
                **configuration,
                f"{service}-database/url": databases[service],
                f"{service.upper()}_PORT": str(port),
                "INTERLOCALITY_HOST": "127.0.0.1",
            }
            env = environment_of(service, values)
            log = tmp_path / f"{service}.log"
            processes[service] = (
                _start_in_container(image, service, env, log)
                if in_container
                else _start_in_namespace(service, env, workdir, aside, log)
            )
            stack.callback(_stop, processes[service])
            urls[service] = f"http://127.0.0.1:{port}"
        ready = _wait_until_ready(processes, urls, tmp_path)
        assert ready == set(SERVICE_PORTS), {
            service: (tmp_path / f"{service}.log").read_text()[-3000:]
            for service in set(SERVICE_PORTS) - ready
        }
        assert not any(workdir.iterdir()), "a service wrote into its working directory"


def _wait_until_ready(processes: dict[str, Any], urls: dict[str, str], logs: Path) -> set[str]:
    ready: set[str] = set()
    deadline = time.monotonic() + START_SECONDS
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline and len(ready) < len(processes):
            for service, process in processes.items():
                if service in ready or process.poll() is not None:
                    continue
                try:
                    if http.get(urls[service] + "/readyz").status_code == 200:
                        ready.add(service)
                except httpx.HTTPError:
                    pass
            if all(p.poll() is not None for s, p in processes.items() if s not in ready):
                break
            time.sleep(0.5)
    return ready


def _stop(process: Any) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
