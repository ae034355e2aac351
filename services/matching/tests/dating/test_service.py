"""DatingService: an event planned on matching's scores, stored and sent in one transaction,
or refused with nothing stored or sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from interlocality.common.cloudevents import decode_event
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import publish, read_topic, signed_in, upserted, wait_until
from interlocality.contracts.dating import DatingAgendaIssued
from interlocality.contracts.students import Consent, Consents
from interlocality.contracts.topics import DATING_AGENDAS
from interlocality.matching.app import create_app
from interlocality.matching.dating.models import DatingEventRequest
from interlocality.matching.dating.plan import DatingInfeasible
from interlocality.matching.dating.service import DatingService, ParticipantsUnknown
from interlocality.matching.dating.store import load_dating_event
from interlocality.matching.store import StudentView

NO_MATCHING = Consents(matching=Consent(granted=False))
Body = Callable[..., dict[str, Any]]


def test_an_event_is_planned_on_matching_scores_stored_and_sent_to_every_participant(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    region: str,
    start: datetime,
    event_body: Body,
    register: Callable[..., None],
    seed_matches: Callable[..., None],
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    with signed_in(TestClient(app)):
        register(runtime)
        seed_matches(
            runtime,
            [
                ("kwame", "v-1", "nordlys", 0.6),
                ("kwame", "v-2", "nordlys", 0.8),  # the company's best match for kwame
                ("ana", "v-1", "nordlys", 0.5),
                ("ana", "v-3", "vestas", 0.9),
                ("li", "v-9", "elsewhere", 0.95),  # a company that is not at the event
            ],
        )
        body = event_body()
        body["students"][1]["name"] = "Ana Souza"
        schedule = DatingService(runtime).create_event(DatingEventRequest.model_validate(body))

        assert {(d.student_id, d.company_id, d.score, d.must_meet) for d in schedule.dates} == {
            ("kwame", "nordlys", 0.8, False),
            ("ana", "nordlys", 0.5, False),
            ("ana", "vestas", 0.9, False),
            ("li", "vestas", 0.0, True),
        }
        totals = schedule.totals
        assert (totals.score, totals.dates, totals.students_with_a_date) == (2.2, 4, 3)
        assert totals.capacity == 6  # three tables, two slots that are not breaks
        assert totals.greedy_score <= totals.score
        assert all(d.slot in (1, 3) for d in schedule.dates)
        ana = schedule.agenda("student", "ana")
        assert ana is not None
        assert [e.slot for e in ana.dates] == [1, 3]
        assert [e.starts_at for e in ana.dates] == [start, start + timedelta(minutes=20)]

        # Stored: the same schedule comes back from the database.
        with runtime.reading() as session:
            assert load_dating_event(session, schedule.event_id) == schedule

        records = asyncio.run(read_topic(kafka_bootstrap, DATING_AGENDAS.name(region), count=5))
        events = [decode_event(DATING_AGENDAS, list(r.headers), r.value) for r in records]
        assert all(isinstance(e, DatingAgendaIssued) for e in events)
        pairs = zip(records, events, strict=True)
        keyed = sorted((r.key.decode(), e.data.participant_kind) for r, e in pairs)
        assert keyed == [
            ("ana", "student"),
            ("kwame", "student"),
            ("li", "student"),
            ("nordlys", "company"),
            ("vestas", "company"),
        ]
        sent = {e.data.participant_id: e.data for e in events}
        assert [(s.counterpart_id, s.score) for s in sent["ana"].slots] == [
            (e.counterpart_id, e.score) for e in ana.dates
        ]
        assert sent["li"].slots[0].must_meet
        assert sent["vestas"].slots[0].counterpart_kind == "student"
        # A company's agenda names the students it meets, where the operator gave names.
        nordlys = {(s.counterpart_id, s.counterpart_name) for s in sent["nordlys"].slots}
        assert nordlys == {("kwame", None), ("ana", "Ana Souza")}
        attached = Calendar.from_ical(sent["ana"].icalendar).walk("VEVENT")
        assert len(attached) == 2 and {e.data.dating_event_id for e in events} == {
            schedule.event_id
        }


def test_participants_matching_does_not_know_are_refused_and_sent_nothing(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    region: str,
    event_body: Body,
    register: Callable[..., None],
    stored_events: Callable[[ServiceRuntime], int],
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    dating = DatingService(runtime)
    with signed_in(TestClient(app)):
        register(runtime, students=["kwame", "ana"], companies=["nordlys"])
        unknown = event_body(
            students=[
                {"student_id": "kwame", "max_dates": 2},
                {"student_id": "ana", "max_dates": 2},
                {"student_id": "li", "max_dates": 1},
                {"student_id": "ghost", "max_dates": 1},
            ],
            must_meet=[
                {"student_id": "li", "company_id": "vestas"},
                {"student_id": "ana", "company_id": "nordlys"},
            ],
        )
        with pytest.raises(ParticipantsUnknown) as refused:
            dating.create_event(DatingEventRequest.model_validate(unknown))
        assert [(u.kind, u.participant_id) for u in refused.value.unknown] == [
            ("student", "li"),
            ("student", "ghost"),
            ("company", "vestas"),
            ("student", "li"),
            ("company", "vestas"),
        ]
        assert stored_events(runtime) == 0

        # A student who withdraws consent to matching is no longer known to it either.
        asyncio.run(
            publish(kafka_bootstrap, [upserted(region, "ana", 2, name="Ana", consents=NO_MATCHING)])
        )

        def ana_forgotten() -> bool:
            with runtime.reading() as session:
                return session.get(StudentView, "ana") is None

        wait_until(ana_forgotten)
        known = event_body(
            companies=[{"company_id": "nordlys", "name": "Nordlys Software ApS", "tables": 2}],
            students=[
                {"student_id": "kwame", "max_dates": 2},
                {"student_id": "ana", "max_dates": 1},
            ],
            must_meet=[],
        )
        with pytest.raises(ParticipantsUnknown) as withdrawn:
            dating.create_event(DatingEventRequest.model_validate(known))
        assert [u.field for u in withdrawn.value.unknown] == [("body", "students", 1, "student_id")]
        assert stored_events(runtime) == 0

        # Only the event of known participants is sent: nothing went out for the refused.
        known["students"] = known["students"][:1]
        created = dating.create_event(DatingEventRequest.model_validate(known))
        records = asyncio.run(
            read_topic(kafka_bootstrap, DATING_AGENDAS.name(region), count=3, timeout=5)
        )
        sent = [decode_event(DATING_AGENDAS, list(r.headers), r.value) for r in records]
        assert sorted(e.data.participant_id for e in sent) == ["kwame", "nordlys"]
        assert {e.data.dating_event_id for e in sent} == {created.event_id}
        assert stored_events(runtime) == 1


def test_must_meet_pairs_no_schedule_fits_are_refused_and_nothing_is_stored(
    service_settings: Callable[..., Any],
    event_body: Body,
    register: Callable[..., None],
    stored_events: Callable[[ServiceRuntime], int],
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    with signed_in(TestClient(app)):
        register(runtime)
        crowded = event_body(
            must_meet=[{"student_id": s, "company_id": "vestas"} for s in ("kwame", "ana", "li")]
        )
        with pytest.raises(DatingInfeasible) as refused:
            DatingService(runtime).create_event(DatingEventRequest.model_validate(crowded))
        assert [(p.constraint, p.participant_id) for p in refused.value.problems] == [
            ("company_capacity", "vestas")
        ]
        assert stored_events(runtime) == 0
