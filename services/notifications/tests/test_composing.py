"""A due delivery made into the message and the webhook body that go."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlmodel import select

from interlocality.common.testing import found, upserted
from interlocality.contracts.matches import MatchExplanation, SkillCoverage
from interlocality.contracts.students import NotificationPreferences
from interlocality.notifications.composing import NothingToSend, carried
from interlocality.notifications.store import DeliveryRecord, Recipient

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]
SKILL = "http://data.europa.eu/esco/skill/"
DATABASES = SKILL + "4463a721-69f3-413d-8321-43e3af13a4f1"  # use databases
PYTHON = SKILL + "ccd0a1d9-afda-43d9-b901-96344886e14d"
JAVA = SKILL + "19a8293b-8e95-4de3-983f-77484079c389"
SQL = SKILL + "598de5b0-5b58-4ea7-8058-a4bc4d18c742"


def test_a_match_is_told_in_the_students_language_with_why_and_what_is_missing(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    german = NotificationPreferences(channels=["email"], locale="de")
    related = SkillCoverage(uri=PYTHON, required=True, min_level=2, via=JAVA, relation="sibling")
    match = found(region, "s-1", "v-1", matched=(DATABASES, PYTHON), missing=(SQL,)).data
    match = match.model_copy(update={"explanation": MatchExplanation(skills=[related])})
    with parts.runtime.transaction() as session:
        service.take_profile(session, upserted(region, "s-1", preferences=german).data)
    with parts.runtime.transaction() as session:
        service.notify(session, [match])

    with parts.session() as session:
        delivery = session.exec(select(DeliveryRecord)).one()
        student = session.get_one(Recipient, "s-1")
        outgoing = service.composer.compose(session, delivery, student)
        assert outgoing.message is not None
        text = outgoing.message.text
        assert match.vacancy_title in outgoing.message.subject
        assert "use databases" in text and "Java (computer programming)" in text and "SQL" in text
        # the student's own unsubscribe link (signed at a second's resolution: compared by
        # what it names, not character by character, which a tick between would change)
        base, _, token = (outgoing.unsubscribe_url or "").partition("?token=")
        assert base == parts.signer.base_url + "/v1/unsubscribe"
        assert parts.signer.student_of(token, "unsubscribe") == "s-1"
        assert outgoing.notifications == [(delivery.notification_ids[0], "v-1")]
        body = json.loads(outgoing.body)
        assert (body["region"], body["kind"], body["delivery_id"]) == (region, "match", delivery.id)
        [told] = body["notifications"]
        assert told["missing_skills"] == ["SQL"]
        assert told["matched_skills"][1] == {
            "skill": "Python (computer programming)",
            "via": "Java (computer programming)",
            "relation": "sibling",
        }

    with parts.runtime.transaction() as session:
        service.withdraw_match(session, "s-1", "v-1")
    with parts.session() as session, pytest.raises(NothingToSend, match="withdrawn"):
        service.composer.compose(session, delivery, student)
    assert carried(delivery) == [(delivery.notification_ids[0], None)]
