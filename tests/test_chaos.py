"""A region under faults, briefly (``bench/chaos.py`` at its smallest): replicas killed with
SIGKILL and started again, the broker killed and its state replayed, poison on a topic;
then every notification held to the load's ground truth."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parent.parent / "bench"


def chaos_harness() -> ModuleType:
    """``bench/chaos.py``, which is a script beside the benches, not a package."""
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("chaos", BENCH / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chaos"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_nothing_is_lost_duplicated_or_sent_wrongly_when_replicas_and_the_broker_die(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    chaos = chaos_harness()
    plan = chaos.Plan(
        kills=4,
        students=30,
        vacancies=6,
        kill_gap=(1.0, 3.0),
        down=(0.2, 1.5),
        seed=11,
        settle_timeout=90.0,
    )
    report = chaos.run_chaos(plan, tmp_path, postgres_url=postgres_admin_url)
    chaos.print_report(plan, report)
    assert report.kills == 4 and report.broker_restarts == 1
    assert report.expected_notifications > 0
    assert report.lost == []
    assert report.duplicated == []
    assert report.wrong == []
    assert report.match_differences == []
    assert report.analytics_differences == []
    assert not any(report.unpublished.values()), report.unpublished
    assert report.unexpected_dead_letters == []
    assert report.poison_dead_letters > 0
