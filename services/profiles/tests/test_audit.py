"""Who read, exported or erased a student's data is written down, and the student sees it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from interlocality.common.access import Role
from interlocality.common.testing import issuer_of_tests, signed_in
from interlocality.profiles.app import create_app

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def bearer(region: str, role: Role, **claims: str) -> dict[str, str]:
    token = issuer_of_tests().token(region=region, roles=[role], subject=f"{role}:Şükrü", **claims)
    return {"Authorization": f"Bearer {token}"}


def test_reads_exports_and_erasures_by_others_are_logged_and_exported_with_the_data(
    service_settings: Callable[..., object],
) -> None:
    settings = service_settings("profiles")
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        region = settings.region  # type: ignore[attr-defined]
        operator = bearer(region, Role.OPERATOR)
        created = client.post(
            "/v1/students",
            json={
                "name": "Åsa Ørsted-Yılmaz",
                "email": "asa.orsted@example.dk",
                "skills": [{"uri": PYTHON, "level": 3}],
                "languages": [{"code": "da", "level": "C2"}],
                "engagement_kinds": ["internship"],
            },
            headers=operator,
        )
        assert created.status_code == 201, created.text
        student_id = created.json()["student_id"]
        student = bearer(region, Role.STUDENT, student_id=student_id)

        assert client.get(f"/v1/students/{student_id}", headers=operator).status_code == 200
        assert client.get("/v1/students", headers=operator).status_code == 200
        # the student's own reads are theirs: nothing to log
        assert client.get(f"/v1/students/{student_id}", headers=student).status_code == 200

        log = client.get("/v1/audit", params={"student_id": student_id}, headers=operator)
        assert log.status_code == 200, log.text
        entries = log.json()
        assert [(e["actor"], e["roles"], e["action"], e["route"]) for e in entries] == [
            ("operator:Şükrü", "operator", "read", "GET /v1/students/{student_id}")
        ]
        listed = client.get("/v1/audit", headers=operator).json()
        assert ("list", None) in {(e["action"], e["student_id"]) for e in listed}

        # the log is the operators'; the student reads what concerns them in their export
        assert client.get("/v1/audit", headers=student).status_code == 403
        export = client.get(f"/v1/students/{student_id}/export", headers=student)
        assert export.status_code == 200, export.text
        assert [e["action"] for e in export.json()["audit_log"]] == ["read"]

        erased = client.delete(f"/v1/students/{student_id}", headers=operator)
        assert erased.status_code == 204, erased.text
        after = client.get("/v1/audit", params={"student_id": student_id}, headers=operator)
        assert [e["action"] for e in after.json()] == ["erase", "read"]
        # what the log keeps names the student by id only
        assert "Åsa" not in after.text and "asa.orsted" not in after.text
