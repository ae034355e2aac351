"""Where commands find a region: flags and the environment, the run file, the defaults; and
a stale run file is not mistaken for a running region."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from interlocality.common.processes import process_info
from interlocality.common.testing import wait_until
from interlocality.operator.run_file import (
    BrokerRun,
    RegionNotRunning,
    RegionRun,
    ServiceRun,
    is_launcher,
    locate_region,
    read_run_file,
    run_file_path,
)
from interlocality.operator.services import SERVICE_PORTS


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    for service in SERVICE_PORTS:
        monkeypatch.delenv(f"{service.upper()}_PORT", raising=False)


def run_of(launcher_pid: int) -> RegionRun:
    return RegionRun(
        region="aarhus",
        launcher_pid=launcher_pid,
        started_at=datetime.now(UTC),
        broker=BrokerRun(bootstrap="127.0.0.1:23192", started="embedded", pid=launcher_pid),
        services={
            service: ServiceRun(url=f"http://127.0.0.1:{23100 + n}", pid=None, log="—")
            for n, service in enumerate(SERVICE_PORTS)
        },
    )


def gone_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_without_a_run_file_the_defaults_are_used(tmp_path: Path) -> None:
    located = locate_region("aarhus", tmp_path)
    assert located.bootstrap == "127.0.0.1:9092"
    assert located.url("matching") == "http://127.0.0.1:8003"


def test_a_stale_run_file_is_said_and_nothing_is_guessed(tmp_path: Path) -> None:
    pid = gone_pid()
    run_of(pid).write(run_file_path(tmp_path, "aarhus"))

    located = locate_region("aarhus", tmp_path)

    with pytest.raises(RegionNotRunning, match=r"region 'aarhus' is not running: .* is stale"):
        located.url("profiles")
    with pytest.raises(RegionNotRunning, match=rf"\(pid {pid}\) no longer runs"):
        _ = located.bootstrap


def test_flags_and_the_environment_win_over_a_stale_run_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_of(gone_pid()).write(run_file_path(tmp_path, "aarhus"))
    monkeypatch.setenv("MATCHING_PORT", "23503")

    located = locate_region("aarhus", tmp_path, bootstrap="kafka-0.aarhus:9092")

    assert located.bootstrap == "kafka-0.aarhus:9092"
    assert located.url("matching") == "http://127.0.0.1:23503"
    with pytest.raises(RegionNotRunning):
        located.url("vacancies")


def test_a_run_file_reads_back_as_written_and_a_broken_one_is_none(tmp_path: Path) -> None:
    path = run_file_path(tmp_path, "aarhus")
    run = run_of(12345)
    run.write(path)
    assert read_run_file(path) == run
    assert list(path.parent.iterdir()) == [path]
    path.write_text('{"region": "aar')
    assert read_run_file(path) is None


def test_a_running_launcher_s_run_file_is_used_unless_its_pid_now_names_another_process(
    tmp_path: Path,
) -> None:
    # A process with a launcher's command line: `… interlocality up`.
    launcher = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "interlocality", "up"]
    )
    try:
        # Until it has executed, a forked child still shows its parent's command line.
        wait_until(lambda: is_launcher(launcher.pid), 10)
        info = process_info(launcher.pid)
        assert info is not None
        run = run_of(launcher.pid).model_copy(update={"launcher_started": info.started})
        run.write(run_file_path(tmp_path, "aarhus"))
        located = locate_region("aarhus", tmp_path)
        assert located.bootstrap == "127.0.0.1:23192"
        assert located.url("vacancies") == "http://127.0.0.1:23101"

        # The same pid, started at another time: another process, the run file is stale.
        reused = run.model_copy(update={"launcher_started": info.started + 1})
        reused.write(run_file_path(tmp_path, "aarhus"))
        with pytest.raises(RegionNotRunning):
            locate_region("aarhus", tmp_path).url("vacancies")
    finally:
        launcher.kill()
        launcher.wait()
