"""Bulk import of students: rows to forms to stored profiles, idempotent by external id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from interlocality.common.bulk import (
    ImportFormat,
    ImportReport,
    RowError,
    fingerprint,
    validate_rows,
)
from interlocality.common.esco import EscoVocabulary
from interlocality.common.service import ServiceRuntime
from interlocality.common.vocabulary_checks import resolve_skill_labels, unknown_skill_errors
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.students import Consents, StudentProfileUpserted
from interlocality.profiles.domain import (
    StudentForm,
    consents_after,
    form_from_csv_row,
    snapshot_of_form,
)
from interlocality.profiles.store import StudentRecord, students_by_external_id

__all__ = ["StudentImporter"]


class StudentImporter:
    """Applies batches of import rows; every bad row is reported, every good one stored."""

    csv_columns = (("name",), ("email",), ("engagement_kinds",))

    def __init__(
        self,
        runtime: ServiceRuntime,
        vocabulary: EscoVocabulary,
        rules: WorkRules,
        fmt: ImportFormat,
    ) -> None:
        self.runtime = runtime
        self.vocabulary = vocabulary
        self.rules = rules
        self.fmt = fmt
        self._consent_cache: dict[tuple[Any, ...], Consents] = {}

    def _consents(self, consents: dict[str, Any]) -> Consents:
        # Rows of one batch share a handful of consent states: parse each once.
        key = tuple((name, c["granted"], c["at"]) for name, c in sorted(consents.items()))
        if key not in self._consent_cache:
            self._consent_cache[key] = Consents.model_validate(consents)
        return self._consent_cache[key]

    def form_of(self, row: dict[str, Any]) -> StudentForm:
        """Validate one row; raises ``ValidationError`` or ``UnknownSkill``."""
        data = form_from_csv_row(row, str) if self.fmt == "csv" else row
        if isinstance(data.get("skills"), list):
            resolve_skill_labels(self.vocabulary, data["skills"], "skills")
        return StudentForm.model_validate(data)

    def __call__(self, batch: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None:
        forms = validate_rows(batch, self.form_of, report, self._known_skills)
        if not forms:
            return
        now = datetime.now(UTC)
        with self.runtime.transaction() as session:
            existing = students_by_external_id(
                session, [form.external_id for _, form in forms if form.external_id]
            )
            new_rows: dict[str, dict[str, Any]] = {}
            events = []
            for _, form in forms:
                key = form.external_id or ""
                digest = fingerprint(form)
                record = existing.get(key)
                row = new_rows.get(key)
                if (record and record.content_hash == digest) or (
                    row and row["content_hash"] == digest
                ):
                    report.unchanged += 1
                    continue
                document = form.model_dump(mode="json", exclude={"consents"})
                if record is not None:
                    record.name = form.name
                    record.email = str(form.email)
                    record.document = document
                    record.consents = consents_after(record.consents, form.consents, now)
                    record.content_hash = digest
                    record.version += 1
                    record.updated_at = now
                    session.add(record)
                    student_id, version, consents = record.id, record.version, record.consents
                    report.updated += 1
                elif row is not None:
                    row.update(
                        name=form.name,
                        email=str(form.email),
                        document=document,
                        consents=consents_after(row["consents"], form.consents, now),
                        content_hash=digest,
                        version=row["version"] + 1,
                    )
                    student_id, version, consents = row["id"], row["version"], row["consents"]
                    report.updated += 1
                else:
                    row = {
                        "id": str(uuid.uuid4()),
                        "external_id": form.external_id,
                        "name": form.name,
                        "email": str(form.email),
                        "document": document,
                        "consents": consents_after({}, form.consents, now),
                        "content_hash": digest,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    new_rows[key] = row
                    student_id, version, consents = row["id"], 1, row["consents"]
                    report.created += 1
                events.append(
                    self.runtime.event(
                        StudentProfileUpserted,
                        subject=student_id,
                        data=snapshot_of_form(
                            student_id=student_id,
                            form=form,
                            consents=self._consents(consents),
                            version=version,
                            updated_at=now,
                            rules=self.rules,
                        ),
                        version=version,
                    )
                )
            if new_rows:
                session.execute(insert(StudentRecord), list(new_rows.values()))
            self.runtime.emit_many(session, events)

    def _known_skills(self, form: StudentForm) -> list[RowError]:
        uris = [skill.uri for skill in form.skills]
        return [RowError(0, f, m) for f, m in unknown_skill_errors(self.vocabulary, uris, "skills")]
