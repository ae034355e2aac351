"""Bulk import of students: rows to forms, handed to the service layer in batches."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from interlocality.common.bulk import ImportFormat, ImportReport, RowError, validate_rows
from interlocality.common.esco import EscoVocabulary
from interlocality.common.vocabulary_checks import resolve_skill_labels, unknown_skill_errors
from interlocality.profiles.domain import StudentForm, form_from_csv_row
from interlocality.profiles.service import StudentService

__all__ = ["StudentImporter"]


class StudentImporter:
    """Applies batches of import rows; every bad row is reported, every good one stored."""

    description: ClassVar[str] = (
        "Consent is opt-in: a row gives only the consents it states, as the CSV columns "
        "`consent_matching`, `consent_notifications` and `consent_analytics` (yes/no) or the "
        "`consents` object of a JSON Lines row. A student imported without them has given "
        "none; one already stored keeps what they said for every consent the row leaves out "
        "(an empty cell, a missing column)."
    )
    csv_columns = (("name",), ("email",), ("engagement_kinds",))

    def __init__(
        self, service: StudentService, vocabulary: EscoVocabulary, fmt: ImportFormat
    ) -> None:
        self.service = service
        self.vocabulary = vocabulary
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
        outcomes = Counter(self.service.import_students([form for _, form in forms]))
        report.created += outcomes["created"]
        report.updated += outcomes["updated"]
        report.unchanged += outcomes["unchanged"]

    def _known_skills(self, form: StudentForm) -> list[RowError]:
        uris = [skill.uri for skill in form.skills]
        return [RowError(0, f, m) for f, m in unknown_skill_errors(self.vocabulary, uris, "skills")]
