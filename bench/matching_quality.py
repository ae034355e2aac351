"""Matching quality: the engine's ranking against plain skill overlap, on ESCO itself.

    uv run python bench/matching_quality.py [--seeds 5] [--occupations 300]
        [--students 6000] [--vacancies 450] [--drop 0.5] [--related 0.3] [--extra 4]
        [--field-noise 0.3]

Each seed builds a region from ESCO occupations (`datasets.matching_region`): one or two
vacancies per occupation (some essential skills required, some optional ones nice to have,
random minimum levels, kinds, hours, places and languages) and about twenty students per
occupation, each with noise: essential skills left out, skills replaced by a narrower,
broader or sibling one (`SkillGraph.related`), skills of random other occupations added, and
sometimes another study field. For each vacancy the students drawn from the same occupation
are the relevant ones; a ranking is judged by precision@10 and nDCG@10 (binary relevance),
averaged over vacancies.

Rankings of every vacancy's students:

- the engine: `MatchIndex.match_vacancy` (min score 0) with the ESCO skill graph;
- the engine with a graph without relations, so exact skills only (what related skills add);
- Jaccard: shared skill URIs over the union of the two skill sets, exact URIs only;
- Jaccard over the students that meet every hard condition of the vacancy, the way the
  engine filters them (what the score adds beyond the filter).

Relevance here is the occupation alone. Skill levels, hours, places and study fields other
than the occupation's are drawn at random, so what the engine's score weighs besides the
skills (levels, and the fit that makes up 35 % of it) is noise to this judgement.

The engine and the filtered Jaccard never rank a student who fails a hard condition, so
they cannot reach a precision of 1 where fewer than ten relevant students qualify: the best
possible figures of both kinds are printed too.
"""

from __future__ import annotations

import argparse
import heapq
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datasets import MatchingRegion, StudentNoise, matching_region

from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.matching.domain import StudentEntry, VacancyEntry, evaluate_pair
from interlocality.matching.index import MatchIndex

TOP = 10
Ranking = Callable[[VacancyEntry], list[str]]


@dataclass
class Scores:
    precision: list[float]
    ndcg: list[float]


def precision_at(ranked: Sequence[str], relevant: set[str]) -> float:
    return sum(1 for s in ranked[:TOP] if s in relevant) / TOP


def ndcg_at(ranked: Sequence[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(ranked[:TOP]) if s in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(TOP, len(relevant))))
    return dcg / ideal if ideal else 0.0


def without_relations(vocabulary_skills: Sequence[str], graph: SkillGraph) -> SkillGraph:
    """The same skills and fields of education, but no skill stands in for another."""
    fields = {uri: graph.fields(uri) for uri in vocabulary_skills if graph.fields(uri)}
    return SkillGraph({}, vocabulary_skills, fields)


class Jaccard:
    """Students ranked by |shared skills| / |all skills of both|, exact URIs only."""

    def __init__(self, students: Sequence[StudentEntry]) -> None:
        self.students = {s.id: s for s in students}
        self.owners: dict[str, list[str]] = {}
        for student in students:
            for uri in student.skills:
                self.owners.setdefault(uri, []).append(student.id)

    def scored(self, vacancy: VacancyEntry) -> list[tuple[float, str]]:
        wanted = {s.uri for s in (*vacancy.required, *vacancy.nice)}
        shared: dict[str, int] = {}
        for uri in wanted:
            for student_id in self.owners.get(uri, ()):
                shared[student_id] = shared.get(student_id, 0) + 1
        return [
            (-n / (len(wanted) + len(self.students[s].skills) - n), s) for s, n in shared.items()
        ]

    def top(self, vacancy: VacancyEntry) -> list[str]:
        return [s for _, s in heapq.nsmallest(TOP, self.scored(vacancy))]

    def top_meeting_conditions(self, vacancy: VacancyEntry, graph: SkillGraph) -> list[str]:
        found: list[str] = []
        for _, student_id in sorted(self.scored(vacancy)):
            if evaluate_pair(self.students[student_id], vacancy, graph).conditions_met:
                found.append(student_id)
                if len(found) == TOP:
                    break
        return found


def judge(region: MatchingRegion, rankings: dict[str, Ranking]) -> dict[str, Scores]:
    relevant_of: dict[str, set[str]] = {}
    for student in region.students:
        relevant_of.setdefault(region.occupation_of[student.id], set()).add(student.id)
    scores = {name: Scores([], []) for name in rankings}
    for vacancy in region.vacancies:
        relevant = relevant_of.get(region.occupation_of[vacancy.id], set())
        for name, ranking in rankings.items():
            ranked = ranking(vacancy)
            scores[name].precision.append(precision_at(ranked, relevant))
            scores[name].ndcg.append(ndcg_at(ranked, relevant))
    return scores


def best_possible(region: MatchingRegion, graph: SkillGraph) -> tuple[Scores, Scores, float]:
    """Best precision and nDCG of any ranking, of one that ranks only students meeting every
    hard condition, and the share of relevant pairs that meet them."""
    by_occupation: dict[str, list[StudentEntry]] = {}
    for student in region.students:
        by_occupation.setdefault(region.occupation_of[student.id], []).append(student)
    anyone, qualified = Scores([], []), Scores([], [])
    pairs = met = 0
    for vacancy in region.vacancies:
        relevant = by_occupation.get(region.occupation_of[vacancy.id], [])
        meeting = [s.id for s in relevant if evaluate_pair(s, vacancy, graph).conditions_met]
        pairs += len(relevant)
        met += len(meeting)
        everyone = {s.id for s in relevant}
        for scores, ranked in ((anyone, sorted(everyone)), (qualified, meeting)):
            scores.precision.append(precision_at(ranked, everyone))
            scores.ndcg.append(ndcg_at(ranked, everyone))
    return anyone, qualified, met / pairs if pairs else 0.0


def spread(values: list[float]) -> str:
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    low, high = min(values), max(values)
    return f"{statistics.mean(values):.3f} ± {deviation:.3f}  [{low:.3f} … {high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5, help="regions built (seeds 1, 2, …)")
    parser.add_argument("--occupations", type=int, default=300)
    parser.add_argument("--students", type=int, default=6_000)
    parser.add_argument("--vacancies", type=int, default=450)
    defaults = StudentNoise()
    parser.add_argument(
        "--drop",
        type=float,
        default=defaults.drop,
        help="share of the occupation's essential skills a student leaves out",
    )
    parser.add_argument(
        "--related",
        type=float,
        default=defaults.related,
        help="share of a student's skills replaced by a narrower, broader or sibling one",
    )
    parser.add_argument(
        "--extra",
        type=int,
        default=defaults.extra,
        help="up to this many skills of random other occupations per student",
    )
    parser.add_argument(
        "--field-noise",
        type=float,
        default=defaults.field,
        help="chance a student's study field is not the occupation's own",
    )
    args = parser.parse_args()
    noise = StudentNoise(
        drop=args.drop, related=args.related, extra=args.extra, field=args.field_noise
    )

    vocabulary = default_vocabulary()
    graph = SkillGraph.from_vocabulary(vocabulary)
    flat = without_relations(list(vocabulary.skills), graph)
    results: dict[str, Scores] = {}
    shares: list[float] = []
    relevant_counts: list[float] = []
    skill_counts: list[float] = []
    started = time.perf_counter()
    for seed in range(1, args.seeds + 1):
        region = matching_region(
            vocabulary,
            graph,
            occupations=args.occupations,
            students=args.students,
            vacancies=args.vacancies,
            noise=noise,
            seed=seed,
        )
        engine = MatchIndex(graph)
        engine.load(region.students, region.vacancies)
        exact = MatchIndex(flat)
        exact.load(region.students, region.vacancies)
        overlap = Jaccard(region.students)
        rankings: dict[str, Ranking] = {
            "engine (ESCO relations)": lambda v, i=engine: [
                c.student_id for c in i.match_vacancy(v, limit=TOP, min_score=0.0)
            ],
            "engine, exact skills only": lambda v, i=exact: [
                c.student_id for c in i.match_vacancy(v, limit=TOP, min_score=0.0)
            ],
            "Jaccard, exact URIs": overlap.top,
            "Jaccard, students meeting the conditions": (
                lambda v, j=overlap: j.top_meeting_conditions(v, graph)
            ),
        }
        anyone, qualified, share = best_possible(region, graph)
        found = {
            **judge(region, rankings),
            "best possible, any ranking": anyone,
            "best possible, meeting the conditions": qualified,
        }
        for name, scores in found.items():
            kept = results.setdefault(name, Scores([], []))
            kept.precision.append(statistics.mean(scores.precision))
            kept.ndcg.append(statistics.mean(scores.ndcg))
        shares.append(share)
        sizes = Counter(region.occupation_of[s.id] for s in region.students)
        relevant_counts.append(
            statistics.mean(sizes[region.occupation_of[v.id]] for v in region.vacancies)
        )
        skill_counts.append(statistics.mean(len(s.skills) for s in region.students))
        print(
            f"seed {seed}: engine P@10 {results['engine (ESCO relations)'].precision[-1]:.3f}, "
            f"Jaccard P@10 {results['Jaccard, exact URIs'].precision[-1]:.3f} "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    print(
        f"seeds 1–{args.seeds}, each a region of {args.occupations} ESCO occupations, "
        f"{args.students:,} students and {args.vacancies:,} vacancies; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    print(
        f"noise: drop {noise.drop:.2f} of essential skills, replace {noise.related:.2f} by a "
        f"related skill, up to {noise.extra} random extra skills, other study field "
        f"{noise.field:.2f}"
    )
    print(
        f"per vacancy {statistics.mean(relevant_counts):.1f} relevant students on average; "
        f"{statistics.mean(skill_counts):.1f} skills per student; "
        f"{statistics.mean(shares):.1%} of relevant pairs meet every hard condition\n"
    )
    print("mean over vacancies; then mean ± standard deviation [min … max] over the seeds\n")
    print(f"{'ranking':<42} {'precision@10':<34} nDCG@10")
    for name, scores in results.items():
        print(f"{name:<42} {spread(scores.precision):<34} {spread(scores.ndcg)}")
    engine, overlap = results["engine (ESCO relations)"], results["Jaccard, exact URIs"]
    print(
        f"{'engine − Jaccard, paired by seed':<42} "
        f"{spread([a - b for a, b in zip(engine.precision, overlap.precision, strict=True)]):<34} "
        f"{spread([a - b for a, b in zip(engine.ndcg, overlap.ndcg, strict=True)])}"
    )


if __name__ == "__main__":
    main()
