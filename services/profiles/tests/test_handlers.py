"""The Kafka side of profiles: preferences changed through a notification's link."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from interlocality.common.cloudevents import encode_event
from interlocality.common.testing import eventually, read_topic, signed_in
from interlocality.contracts.notifications import (
    NotificationPreferencesChanged,
    PreferencesChange,
)
from interlocality.contracts.students import NotificationPreferences
from interlocality.contracts.topics import PREFERENCES, STUDENTS
from interlocality.profiles.app import create_app

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
STUDENT = {
    "name": "Priya Natarajan",
    "email": "priya.natarajan@students.example.org",
    "skills": [{"uri": PYTHON, "level": 4}],
    "engagement_kinds": ["internship", "thesis"],
    "consents": {"matching": True, "notifications": True, "analytics": True},
}


def test_preferences_changed_through_a_link_are_applied_and_published(
    service_settings: Callable[..., object], kafka_bootstrap: str
) -> None:
    settings = service_settings("profiles")
    region = settings.region  # type: ignore[attr-defined]
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        student_id = client.post("/v1/students", json=STUDENT).json()["student_id"]
        change = NotificationPreferencesChanged(
            source=f"/interlocality/{region}/notifications",
            region=region,
            subject=student_id,
            data=PreferencesChange(
                student_id=student_id,
                preferences=NotificationPreferences(frequency="weekly", channels=["email"]),
                notifications_consent=False,
                changed_at=datetime.now(UTC),
            ),
        )

        async def publish() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                for _ in range(2):  # redelivered: applied once
                    record = encode_event(change, PREFERENCES.name(region))
                    await producer.send_and_wait(
                        record.topic, value=record.value, key=record.key, headers=record.headers
                    )
            finally:
                await producer.stop()

        asyncio.run(publish())

        def applied() -> dict[str, Any] | None:
            profile = client.get(f"/v1/students/{student_id}").json()
            return profile if profile["version"] == 2 else None

        profile = asyncio.run(eventually(applied))
        assert profile["notification_preferences"]["frequency"] == "weekly"
        assert profile["consents"]["notifications"]["granted"] is False
        assert profile["consents"]["matching"]["granted"] is True
        records = asyncio.run(read_topic(kafka_bootstrap, STUDENTS.name(region), count=2))
        assert [json.loads(r.value)["version"] for r in records] == [1, 2]
        time.sleep(1.0)
        assert client.get(f"/v1/students/{student_id}").json()["version"] == 2
