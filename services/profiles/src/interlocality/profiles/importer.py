"""Bulk import of students: rows to forms to stored profiles, idempotent by external id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from interlocality.common.bulk import (
    ImportFormat,
    ImportReport,
    RowError,
    validate_rows,
)
from interlocality.common.esco import EscoVocabulary
from interlocality.common.service import ServiceRuntime
from interlocality.common.vocabulary_checks import resolve_skill_labels, unknown_skill_errors
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.profiles.domain import (
    StudentForm,
    consents_after,
    content_hash,
    form_from_csv_row,
    profile_of,
)
from interlocality.profiles.store import StudentRecord, students_by_external_id

__all__ = ["StudentImporter"]


class StudentImporter:
    """Applies batches of import rows; every bad row is reported, every good one stored."""

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
            for _, form in forms:
                fingerprint = content_hash(form)
                record = existing.get(form.external_id or "")
                if record is not None and record.content_hash == fingerprint:
                    report.unchanged += 1
                    continue
                document = form.model_dump(mode="json", exclude={"consents"})
                if record is None:
                    record = StudentRecord(
                        id=str(uuid.uuid4()),
                        external_id=form.external_id,
                        name=form.name,
                        email=str(form.email),
                        document=document,
                        consents=consents_after({}, form.consents, now),
                        content_hash=fingerprint,
                        created_at=now,
                        updated_at=now,
                    )
                    existing[form.external_id or ""] = record
                    report.created += 1
                else:
                    record.name = form.name
                    record.email = str(form.email)
                    record.document = document
                    record.consents = consents_after(record.consents, form.consents, now)
                    record.content_hash = fingerprint
                    record.version += 1
                    record.updated_at = now
                    report.updated += 1
                session.add(record)
                self.runtime.emit(
                    session,
                    self.runtime.event(
                        StudentProfileUpserted,
                        subject=record.id,
                        data=profile_of(
                            student_id=record.id,
                            document=record.document,
                            consents=record.consents,
                            version=record.version,
                            updated_at=record.updated_at,
                            rules=self.rules,
                        ),
                        version=record.version,
                    ),
                )

    def _known_skills(self, form: StudentForm) -> list[RowError]:
        uris = [skill.uri for skill in form.skills]
        return [RowError(0, f, m) for f, m in unknown_skill_errors(self.vocabulary, uris, "skills")]
