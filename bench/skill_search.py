"""Skill search over all 13,896 ESCO skills (preferred and alternative labels).

    uv run python bench/skill_search.py

Times `EscoVocabulary.search` (word index + rapidfuzz) against the straightforward way,
difflib's ratio against every label, on the same queries (with typos), and checks both
find the expected skill.
"""

from __future__ import annotations

import difflib
import statistics
import time

from interlocality.common.esco import default_vocabulary

QUERIES = {
    "pyton programing": "Python (computer programming)",
    "machine lerning": "machine learning",
    "project managment": "project management",
    "welding": "welding",
    "data analysis": "data analysis",
    "sql": "SQL",
    "custmer service": "customer service",
    "accounting": "accounting",
    "javascrip": "JavaScript",
    "teamwork principles": "teamwork principles",
}


def naive(labels: list[tuple[str, str]], query: str, limit: int = 10) -> list[str]:
    scored = sorted(
        ((difflib.SequenceMatcher(None, query, name.lower()).ratio(), name) for _, name in labels),
        reverse=True,
    )
    return [name for _, name in scored[:limit]]


def main() -> None:
    vocabulary = default_vocabulary()
    started = time.perf_counter()
    vocabulary.search("warm up")
    build = time.perf_counter() - started
    labels = [
        (uri, name) for uri, s in vocabulary.skills.items() for name in (s.label, *s.alt_labels)
    ]
    ours: list[float] = []
    theirs: list[float] = []
    ours_hits = naive_hits = 0
    for query, expected in QUERIES.items():
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            found = vocabulary.search(query, limit=10)
            runs.append(time.perf_counter() - started)
        ours.append(statistics.median(runs))
        ours_hits += any(expected.lower() in (s.label.lower(), m.lower()) for s, m in found)
        started = time.perf_counter()
        names = naive(labels, query)
        theirs.append(time.perf_counter() - started)
        naive_hits += any(expected.lower() == n.lower() for n in names)
    print(
        f"{len(vocabulary.skills):,} skills, {len(labels):,} labels; "
        f"index built in {build * 1000:.0f} ms\n"
    )
    print(f"{'way':<40} {'median':>9} {'worst':>9} {'found':>7}")
    print(
        f"{'word index + rapidfuzz (ours)':<40} {statistics.median(ours) * 1000:>7.1f}ms "
        f"{max(ours) * 1000:>7.1f}ms {ours_hits:>4}/{len(QUERIES)}"
    )
    print(
        f"{'difflib over every label':<40} {statistics.median(theirs) * 1000:>7.1f}ms "
        f"{max(theirs) * 1000:>7.1f}ms {naive_hits:>4}/{len(QUERIES)}"
    )


if __name__ == "__main__":
    main()
