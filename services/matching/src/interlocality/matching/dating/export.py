"""A Company Dating schedule as files: the whole schedule as CSV, each agenda as an
iCalendar file, and the names they are saved under.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import UTC

from icalendar import Calendar, Event, vText

from interlocality.common.text import plain_letters
from interlocality.matching.dating.models import (
    LINE_BREAKER,
    NOT_ONE_LINE,
    Agenda,
    DatingSchedule,
)

__all__ = [
    "CSV_COLUMNS",
    "FILE_NAME_PART_BYTES",
    "agenda_file_name",
    "agenda_ics",
    "download_name",
    "schedule_csv",
    "schedule_file_name",
]

CSV_COLUMNS = (
    "slot",
    "starts_at",
    "ends_at",
    "company_id",
    "company_name",
    "table",
    "student_id",
    "student_name",
    "score",
    "must_meet",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@")


def _spreadsheet_text(value: str | None) -> str:
    if value and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value or ""


def schedule_csv(schedule: DatingSchedule) -> str:
    """The whole schedule as CSV, one date a row, by slot, company and table.

    Names and ids that a spreadsheet would take for a formula start with an apostrophe.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for date in schedule.dates:
        writer.writerow(
            (
                date.slot,
                date.starts_at.isoformat(),
                date.ends_at.isoformat(),
                _spreadsheet_text(date.company_id),
                _spreadsheet_text(date.company_name),
                date.table,
                _spreadsheet_text(date.student_id),
                _spreadsheet_text(date.student_name),
                f"{date.score:.4f}",
                "yes" if date.must_meet else "no",
            )
        )
    return out.getvalue()


class _CalendarText(vText):
    """TEXT written as RFC 5545 (3.3.11) says.

    icalendar's own writer takes a backslash before "N" for a line break, so that
    "C:\\New" would come back as two lines; this one escapes every backslash.
    """

    def to_ical(self) -> bytes:
        escaped = self.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return escaped.encode()


def _calendar_text(value: str) -> _CalendarText:
    # TEXT has no way to write control characters. Requests refuse them; events stored
    # before that have them replaced, so that every stored schedule can be written.
    return _CalendarText(LINE_BREAKER.sub(" ", value))


def agenda_ics(schedule: DatingSchedule, agenda: Agenda) -> str:
    """One participant's agenda as an iCalendar (RFC 5545) file, times in UTC.

    Text is escaped and long lines are folded at 75 octets, never inside a character. A
    date has the same UID in the student's and in the company's file, and the same agenda
    gives the same file.
    """
    who = agenda.name or agenda.participant_id
    calendar = Calendar()
    calendar.add("PRODID", "-//Interlocality//Company Dating//EN")
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "PUBLISH")
    title = _calendar_text(f"{schedule.name}: {who}")
    calendar.add("NAME", title)
    calendar.add("X-WR-CALNAME", title)
    for entry in agenda.dates:
        if agenda.participant_kind == "student":
            company_id = entry.counterpart_id
            summary = entry.counterpart_name or entry.counterpart_id
        else:
            company_id = agenda.participant_id
            summary = entry.counterpart_name or f"student {entry.counterpart_id}"
        place = f"table {entry.table}"
        event = Event()
        uid = f"{schedule.event_id}.{entry.slot}.{company_id}.{entry.table}@interlocality"
        event.add("UID", _calendar_text(uid))
        event.add("DTSTAMP", schedule.issued_at.astimezone(UTC))
        event.add("DTSTART", entry.starts_at.astimezone(UTC))
        event.add("DTEND", entry.ends_at.astimezone(UTC))
        event.add("SUMMARY", _calendar_text(f"{schedule.name}: {summary}"))
        location = f"{schedule.venue}, {place}" if schedule.venue else place
        event.add("LOCATION", _calendar_text(location))
        description = f"Slot {entry.slot}, {place}. Match score {entry.score:.2f}." + (
            " The organisers asked for this meeting." if entry.must_meet else ""
        )
        event.add("DESCRIPTION", _calendar_text(description))
        calendar.add_component(event)
    return calendar.to_ical().decode()


# What no file system or browser keeps in a file name, besides what is no text.
_NOT_IN_FILE_NAMES = re.compile(rf'[\\/:*?"<>|{NOT_ONE_LINE}\ud800-\udfff]+')
# Each part of a file name keeps at most this many bytes of UTF-8: two parts, " - " and
# the extension stay well under the 255 bytes file systems allow.
FILE_NAME_PART_BYTES = 100


def _file_name_part(text: str, ascii_only: bool) -> str:
    if ascii_only:
        # Some clients read %XX in the plain file name as an escape (RFC 6266, appendix D).
        text = plain_letters(text).encode("ascii", "ignore").decode().replace("%", " ")
    words = " ".join(_NOT_IN_FILE_NAMES.sub(" ", text).split())
    return words.encode()[:FILE_NAME_PART_BYTES].decode(errors="ignore").strip(" .")


def download_name(parts: Sequence[str], extension: str, *, ascii_only: bool = False) -> str:
    """A file name a person recognises in a downloads folder: ``parts`` joined by " - ".

    Characters no file system keeps are replaced by spaces and each part is shortened to
    :data:`FILE_NAME_PART_BYTES`; ``ascii_only`` gives the plain ASCII form for clients that
    cannot read an RFC 6266 ``filename*`` (letters lose their accents, "Æ" becomes "AE").
    """
    kept = [part for part in (_file_name_part(p, ascii_only) for p in parts) if part]
    return " - ".join(kept or ["Company Dating"]) + extension


def agenda_file_name(schedule: DatingSchedule, agenda: Agenda, *, ascii_only: bool = False) -> str:
    """ "Company Dating Aarhus - Lucía Romero.ics": the event, then whose agenda it is."""
    who = agenda.name or agenda.participant_id
    if ascii_only and not _file_name_part(who, ascii_only):
        who = agenda.participant_id  # a name in another script: its id says more than nothing
    return download_name([schedule.name, who], ".ics", ascii_only=ascii_only)


def schedule_file_name(schedule: DatingSchedule, *, ascii_only: bool = False) -> str:
    """ "Company Dating Aarhus - schedule.csv"."""
    return download_name([schedule.name, "schedule"], ".csv", ascii_only=ascii_only)
