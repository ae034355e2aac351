"""``interlocality up`` as an operator meets it: a taken broker port, a killed service, a killed
launcher, a broker an earlier launcher left behind, and the commands that must find the
region without flags. One region (one var dir) is started, killed and started again through
the tests of this module, in order; each start is the launcher's own embedded broker."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interlocality.common.embedded_broker import wait_for_port
from interlocality.common.esco import default_vocabulary
from interlocality.common.processes import is_alive, listening_pid
from interlocality.common.testing import broker_left_behind, read_topic, wait_until
from interlocality.common.topics_admin import planned_topics
from interlocality.operator.testing import REGION_SERVICES as SERVICES
from interlocality.operator.testing import LaunchedRegion

pytestmark = pytest.mark.e2e


class Launcher(LaunchedRegion):
    """The region under test, with the launcher's own embedded broker preferring a port."""

    def __init__(self, workdir: Path, broker_port: int) -> None:
        super().__init__(workdir, env={"INTERLOCALITY_BROKER_PORT": str(broker_port)})
        self.broker_port = broker_port
        self.profiles_preferred_port = 0

    def broker_port_in_use(self) -> int:
        """The port the running launcher said its embedded broker listens on."""
        said = re.findall(r"embedded broker \(Tansu, in memory\) on 127\.0\.0\.1:(\d+)", self.log())
        return int(said[-1])

    def post_student(self, name: str, email: str, skills: list[str]) -> str:
        created = self.post(
            "profiles",
            "/v1/students",
            {
                "name": name,
                "email": email,
                "skills": [{"uri": uri, "level": 3} for uri in skills],
                "languages": [{"code": "en", "level": "C1"}],
                "engagement_kinds": ["internship"],
                "consents": {"matching": True, "notifications": True, "analytics": True},
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["student_id"])

    def students_on_the_broker(self) -> set[str]:
        """Keys of the student snapshots on the running broker's students topic."""
        bootstrap = f"127.0.0.1:{self.broker_port_in_use()}"
        topic = f"{self.name}.profiles.students.v1"
        records = asyncio.run(read_topic(bootstrap, topic, count=10_000, timeout=5))
        return {record.key.decode() for record in records if record.value is not None}


@pytest.fixture(scope="module")
def taken_port() -> Iterator[socket.socket]:
    """A plain listening socket on the port the launcher is told to prefer for its broker."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield holder
    finally:
        holder.close()


@pytest.fixture(scope="module")
def launcher(
    tmp_path_factory: pytest.TempPathFactory, taken_port: socket.socket
) -> Iterator[Launcher]:
    region = Launcher(tmp_path_factory.mktemp("launcher"), taken_port.getsockname()[1])
    # The port profiles would listen on is taken too, by something that answers HTTP.
    region.profiles_preferred_port = region.ports["profiles"]
    with socket.create_server(("127.0.0.1", region.profiles_preferred_port)) as holder:
        region.start()
        try:
            yield region
        finally:
            region.close()
            holder.close()


def skills_of(occupation_label: str) -> list[str]:
    vocabulary = default_vocabulary()
    occupation = next(o for o in vocabulary.occupations.values() if o.label == occupation_label)
    return [uri for uri in occupation.essential_skills if uri in vocabulary][:4]


def test_a_taken_broker_port_moves_the_broker_and_commands_find_it(launcher: Launcher) -> None:
    taken = launcher.broker_port
    port = launcher.broker_port_in_use()

    assert port != taken
    assert f"port {taken} is taken by " in launcher.log()
    assert f"the embedded broker runs on port {port} instead" in launcher.log()
    run = launcher.run_file()
    broker = run["broker"]
    assert broker["bootstrap"] == f"127.0.0.1:{port}"
    assert broker["started"] == "embedded" and broker["pid"] == listening_pid(port)
    assert run["launcher_pid"] == launcher.process.pid  # type: ignore[union-attr]
    # So is a service's: it listens elsewhere, and the commands find it there too.
    taken_by_other = launcher.profiles_preferred_port
    moved = launcher.ports["profiles"]
    assert moved != taken_by_other
    assert f"port {taken_by_other} is taken by " in launcher.log()
    assert f"profiles listens on port {moved} instead" in launcher.log()
    assert run["services"]["profiles"]["url"] == f"http://127.0.0.1:{moved}"
    assert listening_pid(moved) == run["services"]["profiles"]["pid"]
    assert run["mail_sink"]["smtp"] == f"127.0.0.1:{launcher.smtp_port}"
    # The development issuer the services trust runs under the launcher too.
    assert run["issuer"]["url"] == f"http://127.0.0.1:{launcher.issuer_port}"
    assert run["issuer"]["started"] == "embedded"
    assert listening_pid(launcher.issuer_port) == run["issuer"]["pid"]
    assert (launcher.var_dir / "issuer" / "signing-key.pem").is_file()

    topics = launcher.cli("topics")
    assert topics.returncode == 0, topics.stdout + topics.stderr
    lines = topics.stdout.splitlines()
    assert len(lines) == len(planned_topics(launcher.name)) and all(
        line.endswith("exists") for line in lines
    ), topics.stdout
    replay = launcher.cli("replay")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert [line.split()[0] for line in replay.stdout.splitlines()] == list(SERVICES)


def test_a_killed_service_is_started_again_and_misses_nothing(launcher: Launcher) -> None:
    skills = skills_of("software developer")
    company = launcher.http.post(
        launcher.url("vacancies", "/v1/companies"),
        json={"name": "Ærø Søfart ApS", "city": "Marstal"},
    )
    assert company.status_code == 201, company.text
    vacancy = launcher.http.post(
        launcher.url("vacancies", "/v1/vacancies"),
        json={
            "company_id": company.json()["company_id"],
            "title": "Backend-udvikler, praktik",
            "kind": "internship",
            "required_skills": [{"uri": uri, "min_level": 2} for uri in skills],
            "languages": [{"code": "en", "min_level": "B2"}],
        },
    )
    assert vacancy.status_code == 201, vacancy.text
    vacancy_id = vacancy.json()["vacancy_id"]
    matches_url = launcher.url("matching", f"/v1/vacancies/{vacancy_id}/matches")
    wait_until(lambda: launcher.http.get(matches_url).status_code == 200)

    killed = listening_pid(launcher.ports["matching"])
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    killed_at = time.monotonic()
    student_id = launcher.post_student(
        "Íñigo Peña Muñoz", "inigo.pena@students.example.org", skills[:3]
    )

    wait_until(lambda: launcher.ready("matching"), timeout=30)
    serving_after = time.monotonic() - killed_at
    # Waiting out the consumer group's old member took 18 s; a generous bound for a busy machine.
    assert serving_after < 15, f"matching served again only after {serving_after:.1f} s"
    wait_until(lambda: re.search(r"matching is serving again \(pid \d+\)", launcher.log()))
    log = launcher.log()
    assert f"matching (pid {killed}) ended with code -9 (killed by SIGKILL)" in log, log
    assert "starting it again now. Its log: " in log and "matching.log" in log
    restarted = listening_pid(launcher.ports["matching"])
    assert restarted != killed and launcher.run_file()["services"]["matching"]["pid"] == restarted

    # The student posted while matching was down is applied once and notified once.
    student_matches = launcher.url("matching", f"/v1/students/{student_id}/matches")

    def matches() -> list[dict[str, Any]]:
        response = launcher.http.get(student_matches)
        return list(response.json()["items"]) if response.status_code == 200 else []

    assert [m["vacancy_id"] for m in wait_until(matches)] == [vacancy_id]
    feed_url = launcher.url("notifications", f"/v1/students/{student_id}/notifications")

    def feed() -> list[dict[str, Any]]:
        response = launcher.http.get(feed_url)
        return list(response.json()["items"]) if response.status_code == 200 else []

    wait_until(feed)
    time.sleep(3)  # a second delivery, were there one, would arrive by now
    assert [n["vacancy_id"] for n in feed()] == [vacancy_id]
    metrics = launcher.http.get(launcher.url("matching", "/metrics")).text
    applied = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("interlocality_events_applied_total{")
        and f'topic="{launcher.name}.profiles.students.v1"' in line
    ]
    assert applied == [1.0], metrics


def test_a_killed_launcher_takes_its_children_and_the_next_start_replays(
    launcher: Launcher,
) -> None:
    student_id = launcher.post_student(
        "Aslı Yılmaz", "asli.yilmaz@students.example.org", skills_of("data analyst")[:2]
    )
    wait_until(lambda: student_id in launcher.students_on_the_broker())
    ports = [
        launcher.broker_port_in_use(),
        launcher.smtp_port,
        launcher.issuer_port,
        *launcher.ports.values(),
    ]
    listening = {port: listening_pid(port) for port in ports}
    assert all(listening.values()), listening
    assert launcher.process is not None
    launcher_pid = launcher.process.pid
    # A Ctrl-C in the terminal goes to the launcher's process group: none of its children is
    # in it, so they stop when the launcher stops them, in order.
    terminal_group = os.getpgid(launcher_pid)
    assert all(os.getpgid(pid) != terminal_group for pid in listening.values() if pid)
    launcher.process.kill()
    launcher.process.wait()
    launcher.process = None

    def still_running() -> list[int]:
        return [pid for pid in listening.values() if pid is not None and is_alive(pid)]

    try:
        wait_until(lambda: not still_running(), timeout=5)
    finally:
        for pid in still_running():
            os.kill(pid, signal.SIGKILL)
    assert not any(wait_for_port("127.0.0.1", port, 0.2) for port in ports)
    run = launcher.run_file()  # left behind: stale
    assert run["launcher_pid"] == launcher_pid and not is_alive(run["fork_server_pid"])

    # The region is not running: commands say so rather than try the default ports.
    stale = launcher.cli("replay")
    assert stale.returncode == 1
    assert f"region {launcher.name!r} is not running: {launcher.run_path} is stale" in (
        stale.stderr
    )
    assert f"(pid {run['launcher_pid']}) no longer runs" in stale.stderr

    # The second start of a region started with --no-seed re-publishes its state.
    launcher.start()
    assert f"was left by a launcher that no longer runs (pid {run['launcher_pid']})" in (
        launcher.log()
    )
    assert "state re-published: profiles " in launcher.log(), launcher.log()
    assert student_id in launcher.students_on_the_broker()

    launcher.stop(ctrl_c=True)
    assert not launcher.run_path.exists()


def test_a_broker_left_behind_on_the_port_is_replaced(
    launcher: Launcher, taken_port: socket.socket
) -> None:
    if launcher.process is None:
        launcher.start()
    # State of its own to re-publish, whichever tests ran before.
    launcher.post_student("Søren Ødegård", "soren.odegard@example.dk", skills_of("data analyst"))
    launcher.stop()
    taken_port.close()
    port = launcher.broker_port
    left_behind = broker_left_behind(port)
    try:
        assert wait_for_port("127.0.0.1", port, 20)
        launcher.start()
        assert f"port {port} is held by an embedded broker an earlier launcher left running" in (
            launcher.log()
        )
        assert f"(Tansu, pid {left_behind})" in launcher.log()
        assert not is_alive(left_behind)
        assert launcher.run_file()["broker"]["bootstrap"] == f"127.0.0.1:{port}"
        assert "state re-published: profiles " in launcher.log(), launcher.log()
        assert launcher.students_on_the_broker()
        launcher.stop()
    finally:
        if is_alive(left_behind):
            os.kill(left_behind, signal.SIGKILL)
