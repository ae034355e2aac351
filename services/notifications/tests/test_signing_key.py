"""The key of signed links, when no key is configured: made by the first process that needs
it and kept under var/<region>/. Replicas starting at once on an empty directory must all
sign with one key, and none may read a key another is still writing."""

from __future__ import annotations

from pathlib import Path

from interlocality.common.settings import load_settings
from interlocality.common.testing import processes_at_once, trusting_tests_issuer
from interlocality.notifications.links import signing_key
from interlocality.notifications.settings import NotificationsSettings

PROCESSES = 12
ROUNDS = 8


def start_and_sign(var_dir: Path, start: object, keys: object) -> None:
    """One replica: settings without a key, then the key, at the same moment as the rest."""
    settings = load_settings(
        NotificationsSettings, region="aarhus", var_dir=var_dir, **trusting_tests_issuer()
    )
    start.wait(timeout=30)  # type: ignore[attr-defined]
    keys.put(signing_key(settings).decode())  # type: ignore[attr-defined]


def test_replicas_starting_at_once_sign_with_one_whole_key(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        var_dir = tmp_path / f"var-{round_}"
        seen = processes_at_once(start_and_sign, [var_dir], PROCESSES)

        kept = (var_dir / "aarhus" / "notifications.key").read_text().strip()
        assert len(kept) == 43, "a key of 32 random bytes, URL-safe base64"
        assert seen == [kept] * PROCESSES, f"round {round_}: replicas disagree on the key"
        assert sorted(path.name for path in (var_dir / "aarhus").iterdir()) == [
            "notifications.key"
        ], "a temporary file was left behind"
