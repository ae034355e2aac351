"""The federation through a real broker and over HTTP: a snapshot published on demand and
on schedule reaches the federation topic keyed by the region and comes back as a region of
the cross-region view; a partner's snapshot mirrored by MirrorMaker 2 is read too; a record
that is no valid snapshot goes to the region's dead-letter topic; refusals say why; and
with a federation cluster of its own (a second embedded broker) snapshots go and are read
there only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.analytics.federation import previous_month
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.common.cloudevents import encode_event
from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.testing import publish, read_topic, signed_in, wait_until
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.federation import RegionAggregates
from interlocality.contracts.topics import SNAPSHOTS

from .conftest import Skills, Snapshots, at
from .test_federation import MONTH, crowd, snapshot_of

TOPIC = SNAPSHOTS.name("")


def regions(client: TestClient) -> dict[str, Any]:
    return {r["region"]: r for r in client.get("/v1/federation/regions").json()["regions"]}


def test_a_snapshot_on_demand_and_on_schedule_reaches_the_topic_and_every_region(
    service_settings: Callable[..., object],
    kafka_bootstrap: str,
    region: str,
    snapshots: Snapshots,
    esco: Skills,
) -> None:
    settings = service_settings(
        "analytics", federation_epsilon_per_snapshot=1.0, federation_yearly_epsilon=2.5
    )
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        asyncio.run(publish(kafka_bootstrap, crowd(snapshots, esco)))
        answer = client.post("/v1/federation/snapshots", json={"month": MONTH})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["topic"], body["key"]) == (TOPIC, region)
        assert body["snapshot"]["period"] == MONTH

        # the scheduled one (last month's) and the one asked for come back from the topic
        scheduled = previous_month(datetime.now(UTC))
        wait_until(lambda: set(regions(client).get(region, {}).get("months", [])) >= {MONTH})
        wait_until(lambda: scheduled in regions(client)[region]["months"])
        mine = regions(client)[region]
        assert mine["budget"] == {
            "year": datetime.now(UTC).year,
            "yearly_epsilon": 2.5,
            "spent": mine["budget"]["spent"],
            "left": mine["budget"]["left"],
        }
        assert set(mine["latest"]) == {"period", "produced_at", "privacy", "tables", "suppressed"}
        history = client.get(f"/v1/federation/regions/{region}").json()
        assert {m["period"] for m in history["months"]} == {MONTH, scheduled}
        assert history["budget"]["spent"] == 2.0 and history["budget"]["left"] == 0.5

        records = asyncio.run(read_topic(kafka_bootstrap, TOPIC, 10_000, timeout=5))
        [record] = [r for r in records if dict(r.headers).get("ce_id") == body["event_id"].encode()]
        assert record.key == region.encode()
        assert (
            RegionAggregates.model_validate_json(record.value).model_dump(mode="json")
            == body["snapshot"]
        )

        refused = client.post("/v1/federation/snapshots", json={})
        assert refused.status_code == 409
        assert "2 is spent, 0.5 is left" in refused.json()["detail"]


def test_bad_requests_say_what_was_expected(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("analytics")))) as client:  # type: ignore[arg-type]
        bad_month = client.post("/v1/federation/snapshots", json={"month": "2026-13"})
        assert bad_month.status_code == 422
        assert bad_month.json()["detail"][0]["field"] == "body.month"
        next_year = f"{datetime.now(UTC).year + 1}-01"
        future = client.post("/v1/federation/snapshots", json={"month": next_year})
        assert future.status_code == 422
        [problem] = future.json()["detail"]
        assert (problem["field"], problem["type"]) == ("body.month", "month_in_future")
        bad_region = client.get("/v1/federation/regions/Ærø")
        assert bad_region.status_code == 422
        assert bad_region.json()["detail"][0]["field"] == "path.region"
        unknown = client.get("/v1/federation/regions/nowhere-at-all")
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == "no snapshot of region nowhere-at-all is held"


async def _mirror_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(name, SNAPSHOTS.partitions, 1, topic_configs=SNAPSHOTS.config())
        await admin.create_topics([topic])
    finally:
        await admin.close()


async def _send(bootstrap: str, topic: str, key: bytes, value: bytes, headers: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def test_mirrored_partners_are_read_and_a_bad_snapshot_is_dead_lettered(
    service_settings: Callable[..., object],
    kafka_bootstrap: str,
    region: str,
    taxonomy: SkillTaxonomy,
) -> None:
    partner = f"p{region}"
    mirrored = f"{partner}.{TOPIC}"
    asyncio.run(_mirror_topic(kafka_bootstrap, mirrored))  # as MirrorMaker 2 names its copy
    copy = encode_event(snapshot_of(partner, MONTH, at("2026-04", 1), 0.0, taxonomy), mirrored)
    asyncio.run(_send(kafka_bootstrap, mirrored, copy.key or b"", copy.value or b"", copy.headers))
    # a snapshot of this test's region that says more than the schema allows
    bad = encode_event(snapshot_of(region, MONTH, at("2026-04", 1), 0.0, taxonomy), TOPIC)
    leaking = (bad.value or b"").replace(b'"measure":"students"', b'"measure":"begona@example.org"')
    assert leaking != bad.value
    asyncio.run(_send(kafka_bootstrap, TOPIC, region.encode(), leaking, bad.headers))

    with signed_in(TestClient(create_app(service_settings("analytics")))) as client:  # type: ignore[arg-type]
        wait_until(lambda: partner in regions(client))
        assert regions(client)[partner]["months"] == [MONTH]
        dead = asyncio.run(read_topic(kafka_bootstrap, SNAPSHOTS.dlq_name(region), 1))
        [record] = [r for r in dead if r.key == region.encode()]
        headers = dict(record.headers)
        assert headers["dlq_original_topic"] == TOPIC.encode()
        assert headers["dlq_reason"].startswith(b"unparseable: not a valid snapshots event")
        # the bad record is not kept (the scheduled snapshot of last month may be)
        assert MONTH not in regions(client).get(region, {}).get("months", [])


def test_with_a_federation_cluster_of_its_own_snapshots_go_there_and_are_read_there(
    service_settings: Callable[..., object],
    kafka_bootstrap: str,
    region: str,
    tmp_path: Path,
) -> None:
    with EmbeddedBroker(log_path=tmp_path / "federation.log") as federation:
        shared = federation.bootstrap_servers
        created = asyncio.run(
            ensure_topics(kafka_bootstrap, region, federation_bootstrap_servers=shared)
        )
        assert TOPIC in created  # on the federation cluster: the region's has it already
        settings = service_settings("analytics", federation_bootstrap_servers=shared)
        with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
            answer = client.post("/v1/federation/snapshots", json={"month": MONTH})
            assert answer.status_code == 201, answer.text
            event_id = answer.json()["event_id"].encode()
            wait_until(lambda: MONTH in regions(client).get(region, {}).get("months", []))

        def ids(bootstrap: str) -> set[bytes]:
            records = asyncio.run(read_topic(bootstrap, TOPIC, 10_000, timeout=3))
            return {dict(r.headers).get("ce_id", b"") for r in records}

        assert event_id in ids(shared)
        assert event_id not in ids(kafka_bootstrap)
