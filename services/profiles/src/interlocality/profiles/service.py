"""The profiles service layer: every write of a student, its snapshot staged with it.

Every change of a stored student goes through :meth:`StudentService._change`, on a row
read with :func:`locked_students`: two writers of one student run one after the other,
each from what the other wrote, so every change gets a version of its own and a snapshot
of its own. A graduate's outcome is kept beside the student, not in their snapshot:
:meth:`StudentService.record_outcome` writes it under the same lock and publishes it on the
outcomes topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from interlocality.common.bulk import RowOutcome, fingerprint
from interlocality.common.service import ServiceRuntime, Tombstone
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.notifications import PreferencesChange
from interlocality.contracts.outcomes import GraduateOutcome, GraduateOutcomeRecorded
from interlocality.contracts.students import (
    Consents,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.profiles.domain import (
    ConsentChoices,
    OutcomeForm,
    StudentForm,
    consents_after,
    profile_of,
    snapshot_of_form,
)
from interlocality.profiles.events import (
    erasure_event,
    outcome_event,
    outcome_of,
    snapshot_event,
    snapshot_of,
)
from interlocality.profiles.store import (
    ErasureRecord,
    GraduateOutcomeRecord,
    StudentRecord,
    all_outcomes,
    all_students,
    erasures_of_absent_students,
    locked_students,
    student_with_external_id,
    students_by_external_id,
)

__all__ = ["Change", "ExternalIdTaken", "StudentService", "UnknownStudent"]

Change = Callable[[StudentRecord, datetime], bool]
"""Sets a stored student's fields as of a time; says whether anything changed."""


class UnknownStudent(LookupError):
    """No student has this id."""

    def __init__(self, student_id: str) -> None:
        super().__init__(f"no student {student_id}")


class ExternalIdTaken(ValueError):
    """The operator's own id already names another student."""

    def __init__(self, external_id: str, holder_id: str) -> None:
        super().__init__(f"external_id {external_id!r} already belongs to student {holder_id}")


class StudentService:
    """Creates, changes and erases students, staging the events each write causes."""

    def __init__(self, runtime: ServiceRuntime, rules: WorkRules) -> None:
        self.runtime = runtime
        self.rules = rules

    def profile(self, record: StudentRecord) -> StudentProfile:
        """The wire snapshot of a stored student."""
        return snapshot_of(record, self.rules)

    # -- use cases of people ------------------------------------------------------------

    def create(self, form: StudentForm) -> StudentProfile:
        """Store a new student."""
        now = datetime.now(UTC)
        with self.runtime.transaction() as session:
            self._refuse_taken(session, form.external_id, None)
            row = _new_row(form, fingerprint(form), now)
            profile = profile_of(
                student_id=row["id"],
                document=row["document"],
                consents=row["consents"],
                version=1,
                updated_at=now,
                rules=self.rules,
            )
            self._add(session, [(row, profile)])
        return profile

    def replace(self, student_id: str, form: StudentForm) -> StudentProfile:
        """Replace a student's profile by ``form`` (nothing changes when it is the same)."""
        digest = fingerprint(form)
        with self.runtime.transaction() as session:
            record = self._stored(session, student_id)

            def replacing(record: StudentRecord, now: datetime) -> bool:
                self._refuse_taken(session, form.external_id, record.id)
                return _replaced(record, form, digest, now)

            self._change(session, record, replacing)
            return self.profile(record)

    def set_consents(self, student_id: str, choices: ConsentChoices) -> StudentProfile:
        """Give or withdraw a student's consents."""

        def giving(record: StudentRecord, now: datetime) -> bool:
            consents = consents_after(record.consents, choices, now)
            if consents == record.consents:
                return False
            record.consents = consents
            return True

        with self.runtime.transaction() as session:
            record = self._stored(session, student_id)
            self._change(session, record, giving)
            return self.profile(record)

    def record_outcome(self, student_id: str, form: OutcomeForm) -> GraduateOutcome:
        """Record (or correct) what became of a graduate; the same outcome again changes
        nothing and publishes nothing."""
        with self.runtime.transaction() as session:
            # The student's row, locked, orders this write after any other of the student.
            self._stored(session, student_id)
            stored = session.get(GraduateOutcomeRecord, student_id)
            if stored is not None and (stored.graduated_on, stored.outcome) == (
                form.graduated_on,
                form.outcome,
            ):
                return outcome_of(stored)
            record = session.merge(
                GraduateOutcomeRecord(
                    student_id=student_id,
                    graduated_on=form.graduated_on,
                    outcome=form.outcome,
                    recorded_at=datetime.now(UTC),
                )
            )
            outcome = outcome_of(record)
            self.runtime.emit(session, outcome_event(self.runtime, outcome))
            return outcome

    def erase(self, student_id: str) -> None:
        """Delete a student and tell every service to delete what it holds on them; their
        recorded outcome goes with them, leaving a tombstone on the outcomes topic. The
        ledger of erasures keeps the id and the time, so a replay tells them again."""
        with self.runtime.transaction() as session:
            student = self._stored(session, student_id)
            self.runtime.forget_in_outbox(session, student_id)  # earlier snapshots, name and all
            outcome = session.get(GraduateOutcomeRecord, student_id)
            if outcome is not None:
                recorded = outcome_event(self.runtime, outcome_of(outcome))
                session.delete(outcome)
                session.flush()  # the outcome's row refers to the student's
                self.runtime.emit_tombstone(session, recorded)
            session.delete(student)
            erased_at = datetime.now(UTC)
            session.merge(ErasureRecord(student_id=student_id, erased_at=erased_at))
            erased = erasure_event(self.runtime, student_id, erased_at)
            self.runtime.emit(session, erased)
            self.runtime.emit_tombstone(session, erased)

    def import_students(self, forms: Sequence[StudentForm]) -> list[RowOutcome]:
        """Store a batch of imported forms, matched to stored students by external id; what
        became of each form, in order. Forms as stored already change nothing."""
        now = datetime.now(UTC)
        outcomes: list[RowOutcome] = ["unchanged"] * len(forms)
        consents = _ConsentsOfImport()
        with self.runtime.transaction() as session:
            stored = students_by_external_id(
                session, [form.external_id for form in forms if form.external_id]
            )
            ids = {key: record.id for key, record in stored.items()}
            digests = {key: record.content_hash for key, record in stored.items()}
            new: list[tuple[dict[str, Any], StudentProfile]] = []
            changes: list[tuple[int, StudentForm, str]] = []
            for position, form in enumerate(forms):
                key = form.external_id or ""
                digest = fingerprint(form)
                if key not in ids:
                    row = _new_row(form, digest, now)
                    profile = snapshot_of_form(
                        student_id=row["id"],
                        form=form,
                        consents=consents(row["consents"]),
                        version=1,
                        updated_at=now,
                        rules=self.rules,
                    )
                    new.append((row, profile))
                    outcomes[position] = "created"
                    ids[key] = row["id"]
                elif digests[key] != digest:
                    changes.append((position, form, digest))
                digests[key] = digest
            self._add(session, new)
            records = locked_students(
                session, {ids[form.external_id or ""] for _, form, _ in changes}
            )
            for position, form, digest in changes:
                record = records[ids[form.external_id or ""]]
                if self._change(session, record, _replacing(form, digest), now):
                    outcomes[position] = "updated"
        return outcomes

    # -- use cases of events ------------------------------------------------------------

    def change_preferences(self, session: Session, change: PreferencesChange) -> None:
        """Apply preferences a student changed (or an unsubscription they made) through a
        notification's link; a student erased meanwhile is left alone."""
        record = locked_students(session, [change.student_id]).get(change.student_id)
        if record is None:
            return
        preferences = change.preferences.model_dump(mode="json")

        def preferring(record: StudentRecord, now: datetime) -> bool:
            consent = record.consents.get("notifications") or {}
            document_changed = record.document.get("notification_preferences") != preferences
            consent_changed = consent.get("granted") != change.notifications_consent
            if not document_changed and not consent_changed:
                return False  # a redelivery, or nothing new
            record.document = {**record.document, "notification_preferences": preferences}
            if consent_changed:
                record.consents = {
                    **record.consents,
                    "notifications": {
                        "granted": change.notifications_consent,
                        "at": change.changed_at.isoformat(),
                    },
                }
            return True

        self._change(session, record, preferring, max(datetime.now(UTC), change.changed_at))

    # -- what the service holds -----------------------------------------------------------

    def current_profiles(self, session: Session) -> Iterator[StudentProfileUpserted]:
        """The snapshot of every stored student, to publish again (``replay``)."""
        for record in all_students(session):
            yield snapshot_event(self.runtime, self.profile(record))

    def current_erasures(self, session: Session) -> Iterator[StudentProfileErased | Tombstone]:
        """Every erasure of the ledger as it was published, its event (with its id) and its
        tombstone, to publish again (``replay``): an erasure the broker lost before every
        service read it reaches them all the same, and one they applied is skipped. An id
        that names a student again is theirs: their erasure is not replayed."""
        for record in erasures_of_absent_students(session):
            erased = erasure_event(self.runtime, record.student_id, record.erased_at)
            yield erased
            yield Tombstone(erased)

    def current_outcomes(self, session: Session) -> Iterator[GraduateOutcomeRecorded]:
        """Every recorded outcome, to publish again (``replay``)."""
        for record in all_outcomes(session):
            yield outcome_event(self.runtime, outcome_of(record))

    def outcome(self, session: Session, student_id: str) -> GraduateOutcome | None:
        """The outcome recorded on a student, if any."""
        record = session.get(GraduateOutcomeRecord, student_id)
        return outcome_of(record) if record else None

    def held(self, session: Session, student_id: str) -> dict[str, Any]:
        """What this service holds on a student (GDPR access): nothing once they are
        erased. The ledger's row of their erasure is not shown: it is the fact of the
        erasure only (the id profiles drew and a time), no personal data of theirs."""
        record = session.get(StudentRecord, student_id)
        outcome = self.outcome(session, student_id)
        return {
            "profile": record.document if record else None,
            "outcome": outcome.model_dump(mode="json") if outcome else None,
        }

    # -- the writes ---------------------------------------------------------------------

    def _add(self, session: Session, new: Sequence[tuple[dict[str, Any], StudentProfile]]) -> None:
        """Store new students and stage their first snapshots, all in one statement each."""
        if not new:
            return
        session.execute(insert(StudentRecord), [row for row, _ in new])
        self.runtime.emit_many(session, [snapshot_event(self.runtime, p) for _, p in new])

    def _change(
        self,
        session: Session,
        record: StudentRecord,
        change: Change,
        now: datetime | None = None,
    ) -> bool:
        """The one way a stored student changes: ``record``, read by :func:`locked_students`
        in ``session``, gets ``change``; if that changed anything, a new version, stamped
        ``now``, and its snapshot staged. Says whether anything changed."""
        now = now or datetime.now(UTC)
        if not change(record, now):
            return False
        record.version += 1
        record.updated_at = now
        session.add(record)
        self.runtime.emit(session, snapshot_event(self.runtime, self.profile(record)))
        return True

    def _stored(self, session: Session, student_id: str) -> StudentRecord:
        record = locked_students(session, [student_id]).get(student_id)
        if record is None:
            raise UnknownStudent(student_id)
        return record

    def _refuse_taken(self, session: Session, external_id: str | None, own_id: str | None) -> None:
        if not external_id:
            return
        holder = student_with_external_id(session, external_id)
        if holder is not None and holder.id != own_id:
            raise ExternalIdTaken(external_id, holder.id)


def _new_row(form: StudentForm, digest: str, now: datetime) -> dict[str, Any]:
    """The stored row of a new student."""
    return {
        "id": str(uuid.uuid4()),
        "external_id": form.external_id,
        "name": form.name,
        "email": str(form.email),
        "document": form.model_dump(mode="json", exclude={"consents"}),
        "consents": consents_after({}, form.consents, now),
        "content_hash": digest,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _replaced(record: StudentRecord, form: StudentForm, digest: str, now: datetime) -> bool:
    """``record`` as ``form`` says (``digest`` is the form's fingerprint)."""
    if digest == record.content_hash:
        return False
    record.external_id = form.external_id
    record.name = form.name
    record.email = str(form.email)
    record.document = form.model_dump(mode="json", exclude={"consents"})
    record.consents = consents_after(record.consents, form.consents, now)
    record.content_hash = digest
    return True


def _replacing(form: StudentForm, digest: str) -> Change:
    return lambda record, now: _replaced(record, form, digest, now)


class _ConsentsOfImport:
    """Consents parsed once per state: the rows of an import share a handful."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[Any, ...], Consents] = {}

    def __call__(self, consents: dict[str, Any]) -> Consents:
        key = tuple((name, c["granted"], c["at"]) for name, c in sorted(consents.items()))
        if key not in self._parsed:
            self._parsed[key] = Consents.model_validate(consents)
        return self._parsed[key]
