"""What numbering outbox rows in commit order costs writers on PostgreSQL.

    uv run python bench/outbox_commit_order.py [--writers 4] [--transactions 2000]
        [--rows 1] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

On PostgreSQL a transaction that staged outbox rows gives them new ids as it commits, one
committer at a time (`outbox._number_in_commit_order`), so that a relay never publishes a
key's newer row before an older one. This bench has ``--writers`` threads commit
``--transactions`` transactions each, every one staging ``--rows`` events (the shape of a
consumer applying an event or an HTTP write), in a fresh database, and times them twice in
the same run: as the services do, and the straightforward way, staging without the
renumbering (ids as drawn, the order the relay could get wrong). It prints commits a second
and the p50 / p99 of one transaction for both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).parent))

from tables import Row, print_table

from interlocality.common import outbox
from interlocality.common.db import create_db_engine, init_schema, transaction
from interlocality.common.testing import fresh_databases, upserted

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    with fresh_databases(server, [f"il_bench_outbox_{uuid.uuid4().hex[:8]}"]) as (url,):
        yield url


def run(url: str, writers: int, transactions: int, rows: int) -> tuple[float, list[float]]:
    """Seconds in all and seconds per transaction, ``writers`` threads at once."""
    engine = create_db_engine(url)
    init_schema(engine, [outbox.OutboxMessage])
    durations: list[float] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        mine = []
        for t in range(transactions):
            events = [
                upserted("bench", f"s-{worker}-{t}-{r}", name="Åsa Ørsted-Yılmaz")
                for r in range(rows)
            ]
            began = time.perf_counter()
            with transaction(engine) as session:
                for event in events:
                    outbox.stage_event(session, event)
            mine.append(time.perf_counter() - began)
        with lock:
            durations.extend(mine)

    failures: list[BaseException] = []

    def guarded(worker: int) -> None:
        try:
            write(worker)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - started
    engine.dispose()
    if failures:
        raise failures[0]
    return total, durations


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--transactions", type=int, default=2000, help="per writer")
    parser.add_argument("--rows", type=int, default=1, help="events staged per transaction")
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="a PostgreSQL server")
    args = parser.parse_args()
    figures = {}
    for label, numbering in (("as the services do", True), ("without the renumbering", False)):
        with fresh_database(args.database_url) as url:
            if numbering:
                total, durations = run(url, args.writers, args.transactions, args.rows)
            else:
                with mock.patch.object(outbox, "_staged_in", return_value=None):
                    total, durations = run(url, args.writers, args.transactions, args.rows)
        figures[label] = (len(durations) / total, durations)
    rows = []
    for label, (rate, durations) in figures.items():
        rows.append(Row(f"{label}: commits a second", f"{rate:,.0f}"))
        rows.append(
            Row(
                f"{label}: one transaction, p50 / p99",
                f"{statistics.median(durations) * 1000:.2f} / {p99(durations) * 1000:.2f} ms",
            )
        )
    ordered, plain = (figures[k][0] for k in figures)
    rows.append(Row("commits a second, numbered / plain", f"{ordered / plain:.2f}"))
    print_table(
        f"{args.writers} writers × {args.transactions:,} transactions of {args.rows} event(s), "
        "PostgreSQL",
        rows,
    )


if __name__ == "__main__":
    main()
