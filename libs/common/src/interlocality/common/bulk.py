"""Bulk import machinery: stream CSV or JSON Lines rows, validate, report every bad row.

The upload is spooled (to disk past a few MiB), read row by row and applied in batches; the
caller's ``apply_batch`` stores the good rows of a batch in one transaction. Progress is
reported as NDJSON lines so a client can draw a bar; the last line is the report.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Literal, Protocol, TypeVar

from fastapi import HTTPException, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from interlocality.common.codes import readable_message
from interlocality.common.service import problem

__all__ = [
    "IMPORT_ROUTE",
    "BatchImporter",
    "FormT",
    "ImportFormat",
    "ImportLine",
    "ImportProgress",
    "ImportReport",
    "RowError",
    "RowOutcome",
    "RowRejected",
    "fingerprint",
    "import_answer",
    "iter_rows",
    "run_import",
    "split_list",
    "spool",
    "stream_import",
    "validate_rows",
    "yes_or_no",
]

ImportFormat = Literal["csv", "jsonl"]
FormT = TypeVar("FormT", bound=BaseModel)
RowOutcome = Literal["created", "updated", "unchanged"]
MAX_REPORTED_ERRORS = 10_000


@dataclass(frozen=True)
class RowError:
    """Why one row was not stored: its line in the file, the field, the reason."""

    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did, row by row."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def add_error(self, error: RowError) -> None:
        """Count a failed row; keep its detail up to a cap."""
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


class ImportProgress(BaseModel):
    """How far an import has come."""

    rows: int
    failed: int


class ImportLine(BaseModel):
    """One line of an import's answer: ``progress`` after each batch, ``report`` last."""

    progress: ImportProgress | None = None
    report: ImportReport | None = None

    def ndjson(self) -> bytes:
        """The line as sent, with the part it does not hold left out."""
        return self.model_dump_json(exclude_none=True).encode() + b"\n"


NDJSON = "application/x-ndjson"

# What an import route documents: the file it takes and the NDJSON lines it answers.
IMPORT_ROUTE: dict[str, Any] = {
    "response_class": StreamingResponse,
    "responses": {
        200: {
            "description": "One JSON object a line (NDJSON): a `progress` line after each "
            "batch, then the `report` with every bad row's line, field and reason.",
            "content": {NDJSON: {"schema": ImportLine.model_json_schema()}},
        }
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "description": "The file: CSV with a header row (`format=csv`), or JSON Lines "
            "in the API's JSON shape (`format=jsonl`).",
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                NDJSON: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
}


async def spool(chunks: AsyncIterator[bytes], max_memory: int = 8 * 1024 * 1024) -> IO[bytes]:
    """Copy an upload to a temporary file (in memory only while small); rewound."""
    target = tempfile.SpooledTemporaryFile(max_size=max_memory)  # noqa: SIM115
    async for chunk in chunks:
        target.write(chunk)
    target.seek(0)
    return target


class BatchImporter(Protocol):
    """What an import route runs: applies batches of rows, and says which CSV columns every
    row needs (each entry a column, or alternatives of which one will do)."""

    @property
    def csv_columns(self) -> Sequence[Sequence[str]]: ...

    def __call__(self, batch: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None: ...


async def import_answer(
    request: Request, fmt: ImportFormat, importer: BatchImporter
) -> StreamingResponse:
    """The answer of an import route: the upload is kept, checked, and imported as its NDJSON
    lines stream back.

    Refused with 422 before any row is read: an upload of nothing but white space (an
    import of no file is a mistake, not one of no rows), a CSV whose header row lacks a
    column every row needs (most often a spreadsheet that separates columns by ``;``), and
    JSON Lines whose first line is no JSON object (most often one JSON array).
    """
    upload = await spool(request.stream())
    try:
        _check_upload(upload, fmt, importer.csv_columns)
    except HTTPException:
        upload.close()
        raise
    return StreamingResponse(stream_import(upload, fmt, importer), media_type=NDJSON)


_PEEK = 65536  # what the checks read of an upload at most: a header row, a first character


def _check_upload(upload: IO[bytes], fmt: ImportFormat, columns: Sequence[Sequence[str]]) -> None:
    start = b""
    for chunk in iter(lambda: upload.read(_PEEK), b""):
        start = chunk.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()  # a byte order mark too
        if start:
            break
    upload.seek(0)
    if not start:
        raise _refused_upload(
            "the file is empty: send the CSV with its header row, or the JSON Lines, as the "
            "request body"
        )
    if fmt == "csv":
        _require_columns(upload.readline(_PEEK), columns)
        upload.seek(0)
    elif not start.startswith(b"{"):
        message = "the first line is not a JSON object: JSON Lines has one object on each line"
        if start.startswith(b"["):
            message += " — this looks like one JSON array: put each of its objects on a line"
        raise _refused_upload(message)


def _require_columns(header_line: bytes, columns: Sequence[Sequence[str]]) -> None:
    header = next(csv.reader([header_line.decode("utf-8-sig", errors="replace")]), [])
    present = {name.strip() for name in header}
    missing = [" or ".join(names) for names in columns if present.isdisjoint(names)]
    if not missing:
        return
    message = f"the CSV's header row lacks {', '.join(missing)}; it names {', '.join(header)}"
    separator = next((c for c in (";", "\t") if len(header) == 1 and c in header[0]), None)
    if separator is not None:
        shown = "tabs" if separator == "\t" else f"'{separator}'"
        message += f" — its columns are separated by {shown}: separate them by commas"
    raise _refused_upload(message)


def _refused_upload(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [problem(("body",), message, "unusable_file")]
    )


def iter_rows(source: IO[bytes], fmt: ImportFormat) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line, row)`` for every row; a row that cannot be read at all is a message instead."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    if fmt == "jsonl":
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON: {exc.msg} at column {exc.colno}"
                continue
            yield (number, row) if isinstance(row, dict) else (number, "not a JSON object")
        return
    reader = csv.DictReader(text)
    try:
        for row in reader:
            if None in row:
                yield (
                    reader.line_num,
                    (f"row has more fields than the header's {len(reader.fieldnames or [])}"),
                )
                continue
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}
    except csv.Error as exc:
        yield reader.line_num, f"unreadable CSV: {exc}"


def run_import(
    rows: Iterator[tuple[int, dict[str, Any] | str]],
    apply_batch: Callable[[list[tuple[int, dict[str, Any]]], ImportReport], None],
    on_progress: Callable[[ImportReport], None] | None = None,
    batch_size: int = 1000,
) -> ImportReport:
    """Feed rows to ``apply_batch`` in batches; unreadable rows go straight to the report."""
    report = ImportReport()
    started = time.perf_counter()
    batch: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        report.rows += 1
        if isinstance(row, str):
            report.failed += 1
            report.add_error(RowError(line, "", row))
            continue
        batch.append((line, row))
        if len(batch) >= batch_size:
            apply_batch(batch, report)
            batch = []
            if on_progress:
                on_progress(report)
    if batch:
        apply_batch(batch, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def stream_import(
    source: IO[bytes],
    fmt: ImportFormat,
    apply_batch: Callable[[list[tuple[int, dict[str, Any]]], ImportReport], None],
) -> AsyncIterator[bytes]:
    """Run an import in a worker thread; yield NDJSON progress lines, then the report."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[ImportLine | None] = asyncio.Queue()

    def progress(report: ImportReport) -> None:
        snapshot = ImportLine(progress=ImportProgress(rows=report.rows, failed=report.failed))
        loop.call_soon_threadsafe(queue.put_nowait, snapshot)

    def work() -> ImportReport:
        try:
            return run_import(iter_rows(source, fmt), apply_batch, progress)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(work))
    while (item := await queue.get()) is not None:
        yield item.ndjson()
    report = await task
    source.close()
    yield ImportLine(report=report).ndjson()


class RowRejected(ValueError):
    """A row that cannot be stored, with the field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def fingerprint(form: BaseModel) -> str:
    """A hash of a form's content: re-importing an unchanged row changes nothing."""
    return hashlib.sha256(form.model_dump_json().encode()).hexdigest()


YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})


def yes_or_no(field: str, cell: str) -> bool:
    """A yes/no CSV cell as a boolean (the JSON shape takes only true and false); any other
    word is refused on ``field`` rather than guessed."""
    word = cell.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise RowRejected(field, f"{cell!r} is not yes or no")


def split_list(value: str, separator: str = ";") -> list[str]:
    """The non-empty, stripped items of a ``;``-separated CSV cell."""
    return [part.strip() for part in value.split(separator) if part.strip()]


def validate_rows(
    batch: list[tuple[int, dict[str, Any]]],
    parse: Callable[[dict[str, Any]], FormT],
    report: ImportReport,
    check: Callable[[FormT], list[RowError]] | None = None,
) -> list[tuple[int, FormT]]:
    """The rows of ``batch`` that parse and pass ``check``; the others go to the report.

    ``parse`` may raise ``ValidationError`` (each error becomes a row error on its field)
    or :class:`RowRejected`. Imports need the operator's ``external_id`` on every row.
    """
    good: list[tuple[int, FormT]] = []
    for line, row in batch:
        errors: list[RowError]
        try:
            form = parse(row)
        except ValidationError as exc:
            errors = [
                RowError(line, ".".join(str(p) for p in e["loc"]), readable_message(e))
                for e in exc.errors()
            ]
        except RowRejected as exc:
            errors = [RowError(line, exc.field, str(exc))]
        else:
            if not getattr(form, "external_id", None):
                errors = [RowError(line, "external_id", "required for imports (your own id)")]
            else:
                errors = [
                    RowError(line, e.field, e.message) for e in (check(form) if check else [])
                ]
        if errors:
            report.failed += 1
            for error in errors:
                report.add_error(error)
        else:
            good.append((line, form))
    return good
