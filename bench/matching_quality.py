"""Matching quality: the engine's ranking against plain retrieval peers, on ESCO itself.

    uv run python bench/matching_quality.py [--seeds 5] [--occupations 300]
        [--students 6000] [--vacancies 450] [--settings default,related,extra,levels]
        [--quick] [--alternative module:function ...]

Each seed builds a region from ESCO occupations (`datasets.matching_region`): one or two
vacancies per occupation (some essential skills required, some optional ones nice to have,
random minimum levels, kinds, hours, places and languages) and about twenty students per
occupation, each with noise: essential skills left out, skills replaced by a narrower,
broader or sibling one (`SkillGraph.related`), skills of random other occupations added, and
sometimes another study field. Relevance is the occupation alone.

Both sides are judged by precision@10 and nDCG@10 (binary relevance), averaged over the
vacancies or students, then mean ± standard deviation over the seeds:

- vacancy → students: the ten best students of each vacancy; relevant are the students
  drawn from the vacancy's occupation (about twenty);
- student → vacancies: each student's best vacancies (the engine is asked for 50, the first
  ten are judged); relevant are the vacancies of the student's occupation (one or two).

Rankings, all built on the same regions in the same run:

- the engine: `MatchIndex.match_vacancy` / `match_student` (min score 0) with the ESCO
  skill graph, whatever its score is;
- peers: Jaccard on exact skill URIs; TF-IDF cosine (skills as terms, binary term
  frequency, IDF ln(N / df) over the region's students and vacancies; a vacancy's vector
  holds its required and nice skills); BM25 (k1 1.2, b 0.75, one occurrence per skill):
  the vacancy's skills as the query over students as documents, and for the student side
  the student's skills as the query over vacancies as documents (IDF over the documents of
  that side);
- an ablation, not a peer: the engine with a graph without relations (exact skills only),
  which tells what related-skill credit adds.

The hard conditions (kind, languages, permit, availability, place) are not a ranking idea
but what a student may and wants to take: every peer ranks the same pairs the engine does,
those meeting every hard condition (`MatchIndex.eligible`), so that the rows compare
rankings and nothing else. That caps every row at the "best possible, meeting the hard
conditions" line, not 1. The same three retrieval peers are also run ignoring the hard
conditions, as a second reference: relevance is the occupation alone, so they are credited
for putting first the relevant students who cannot take the vacancy (about one in seven).
For the engine (and any alternative) the difference to the best peer of that setting and
side (the peer with the highest mean nDCG@10) is paired by seed; the target is an nDCG@10
at least 0.05 above it on every seed. The difference to the best peer ignoring the hard
conditions is printed too.

Noise settings (`--settings`, each a table block per side):

- default: drop 0.5 of the essential skills, replace 0.3 by a related skill, up to 4 random
  extra skills, another study field for 0.3, levels as usual;
- related: as default, but 0.6 replaced by a related skill;
- extra: as default, but up to 12 random extra skills;
- levels: as default, but every student level and every vacancy minimum level drawn
  uniformly on 1–5 from a stream of its own (the usual levels are random too, on 1–5 for
  students, 1–4 and 1–3 for minimums: in no setting do levels tell relevance).

An alternative scorer is compared in the same run with `--alternative module:function`:
the function takes ``(region, graph)`` and returns a `Ranker` (see `engine`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import sparse

sys.path.insert(0, str(Path(__file__).parent))

from datasets import MatchingRegion, StudentNoise, matching_region

from interlocality.common.esco import EscoVocabulary, default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.matching.domain import StudentEntry, VacancyEntry, evaluate_pair
from interlocality.matching.index import MatchIndex

TOP = 10
STUDENT_LIMIT = 50  # vacancies asked of the engine per student
TARGET = 0.05  # nDCG@10 the engine should gain over the best peer, on every seed
BM25_K1 = 1.2
BM25_B = 0.75
SIDES = {"vacancy": "vacancy → students", "student": "student → vacancies"}
SETTINGS: dict[str, tuple[str, StudentNoise]] = {
    "default": ("today's default", StudentNoise()),
    "related": ("related skills 0.6", StudentNoise(related=0.6)),
    "extra": ("up to 12 random extra skills", StudentNoise(extra=12)),
    "levels": ("levels independent, all uniform on 1–5", StudentNoise(levels="independent")),
}
ENGINE = "engine"
Floats = npt.NDArray[np.float64]


class Ranker(Protocol):
    """Rankings of one region: ids best first, at least the first :data:`TOP`."""

    def for_vacancy(self, vacancy: VacancyEntry) -> list[str]: ...

    def for_student(self, student: StudentEntry) -> list[str]: ...


RankerFactory = Callable[[MatchingRegion, SkillGraph], Ranker]


# -- the engine ----------------------------------------------------------------------


class EngineRanker:
    """`MatchIndex` over the region's students and vacancies, asked as matching asks it."""

    def __init__(self, region: MatchingRegion, graph: SkillGraph) -> None:
        self.index = MatchIndex(graph)
        self.index.load(region.students, region.vacancies)

    def for_vacancy(self, vacancy: VacancyEntry) -> list[str]:
        return [c.student_id for c in self.index.match_vacancy(vacancy, TOP, min_score=0.0)]

    def for_student(self, student: StudentEntry) -> list[str]:
        found = self.index.match_student(student, STUDENT_LIMIT, min_score=0.0)
        return [c.vacancy_id for c in found]


def engine(region: MatchingRegion, graph: SkillGraph) -> Ranker:
    """The engine as it is: the ranking every other is compared with."""
    return EngineRanker(region, graph)


@cache
def without_relations(graph: SkillGraph) -> SkillGraph:
    """The same skills, fields of education and occupations, but no skill stands in for
    another."""
    fields = {uri: graph.fields(uri) for uri in graph.known if graph.fields(uri)}
    return SkillGraph({}, graph.known, fields, graph.occupations)


def engine_exact(region: MatchingRegion, graph: SkillGraph) -> Ranker:
    """The engine with exact skills only: what related skills add."""
    return EngineRanker(region, without_relations(graph))


# -- peers: bag-of-skills retrieval on exact URIs ------------------------------------


@dataclass
class Incidence:
    """Which skills each student and each vacancy (required and nice) lists, as 0/1 rows."""

    students: sparse.csr_matrix
    vacancies: sparse.csr_matrix

    @classmethod
    def of(cls, region: MatchingRegion) -> Incidence:
        column: dict[str, int] = {}
        lists = [
            [list(s.skills) for s in region.students],
            [[s.uri for s in (*v.required, *v.nice)] for v in region.vacancies],
        ]
        numbered = [
            [sorted({column.setdefault(uri, len(column)) for uri in skills}) for skills in side]
            for side in lists
        ]

        def matrix(rows: list[list[int]]) -> sparse.csr_matrix:
            indices = [n for row in rows for n in row]
            indptr = np.cumsum([0, *(len(row) for row in rows)])
            data = np.ones(len(indices))
            return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), len(column)))

        return cls(matrix(numbered[0]), matrix(numbered[1]))


_ELIGIBLE: dict[int, tuple[MatchingRegion, npt.NDArray[np.bool_]]] = {}


def eligible(region: MatchingRegion, graph: SkillGraph) -> npt.NDArray[np.bool_]:
    """Vacancies × students: whether the pair meets every hard condition (kept for the
    region last asked about)."""
    held = _ELIGIBLE.get(id(region))
    if held is not None and held[0] is region:
        return held[1]
    index = MatchIndex(graph)
    index.load(region.students, region.vacancies)
    column = {s.id: n for n, s in enumerate(region.students)}
    meets = np.zeros((len(region.vacancies), len(region.students)), dtype=np.bool_)
    for row, vacancy in enumerate(region.vacancies):
        meets[row, [column[s] for s in index.eligible(vacancy)]] = True
    _ELIGIBLE.clear()
    _ELIGIBLE[id(region)] = (region, meets)
    return meets


class ScoreRanker:
    """Rankings from a vacancies × students score matrix, and for the student side its
    transpose or a students × vacancies one: positive scores only, ties by id; with
    ``allowed`` (vacancies × students), only the pairs it allows."""

    def __init__(
        self,
        region: MatchingRegion,
        by_vacancy: Floats,
        by_student: Floats | None = None,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self.student_ids = [s.id for s in region.students]
        self.vacancy_ids = [v.id for v in region.vacancies]
        self.vacancy_row = {v: n for n, v in enumerate(self.vacancy_ids)}
        self.student_row = {s: n for n, s in enumerate(self.student_ids)}
        if by_student is None:
            by_student = by_vacancy.T
        if allowed is not None:
            by_vacancy = np.where(allowed, by_vacancy, 0.0)
            by_student = np.where(allowed.T, by_student, 0.0)
        self.best_students = self._top(by_vacancy)
        self.best_vacancies = self._top(by_student)

    @staticmethod
    def _top(scores: Floats) -> list[list[int]]:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :TOP]
        kept = np.take_along_axis(scores, order, axis=1) > 0
        return [list(row[mask]) for row, mask in zip(order, kept, strict=True)]

    def for_vacancy(self, vacancy: VacancyEntry) -> list[str]:
        return [self.student_ids[n] for n in self.best_students[self.vacancy_row[vacancy.id]]]

    def for_student(self, student: StudentEntry) -> list[str]:
        return [self.vacancy_ids[n] for n in self.best_vacancies[self.student_row[student.id]]]


def jaccard_scores(region: MatchingRegion) -> tuple[Floats, None]:
    """|shared skills| / |all skills of both|, exact URIs only."""
    skills = Incidence.of(region)
    shared = (skills.vacancies @ skills.students.T).toarray()
    union = (
        np.asarray(skills.vacancies.sum(axis=1)) + np.asarray(skills.students.sum(axis=1)).T
    ) - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0), None


def tf_idf_scores(region: MatchingRegion) -> tuple[Floats, None]:
    """Cosine of binary TF-IDF vectors, IDF ln(N / df) over students and vacancies."""
    skills = Incidence.of(region)
    both = sparse.vstack([skills.students, skills.vacancies])
    df = np.asarray(both.sum(axis=0)).ravel()
    idf = np.log(both.shape[0] / np.maximum(df, 1))

    def unit(rows: sparse.csr_matrix) -> sparse.csr_matrix:
        weighted = sparse.csr_matrix(rows.multiply(idf[np.newaxis, :]))
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
        return sparse.csr_matrix(sparse.diags(1 / np.maximum(norms, 1e-12)) @ weighted)

    return (unit(skills.vacancies) @ unit(skills.students).T).toarray(), None


def bm25_weights(documents: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each document's BM25 weight of each term it holds once (k1 1.2, b 0.75)."""
    count = documents.shape[0]
    df = np.asarray(documents.sum(axis=0)).ravel()
    idf = np.log((count - df + 0.5) / (df + 0.5) + 1)
    length = np.asarray(documents.sum(axis=1)).ravel()
    saturation = (BM25_K1 + 1) / (1 + BM25_K1 * (1 - BM25_B + BM25_B * length / length.mean()))
    weighted = sparse.diags(saturation) @ documents.multiply(idf[np.newaxis, :])
    return sparse.csr_matrix(weighted)


def bm25_scores(region: MatchingRegion) -> tuple[Floats, Floats]:
    """BM25: a vacancy's skills as the query over the students, a student's over the
    vacancies."""
    skills = Incidence.of(region)
    by_vacancy = (skills.vacancies @ bm25_weights(skills.students).T).toarray()
    by_student = (skills.students @ bm25_weights(skills.vacancies).T).toarray()
    return by_vacancy, by_student


Scoring = Callable[[MatchingRegion], tuple[Floats, Floats | None]]


def peer(scoring: Scoring, *, conditions: bool) -> RankerFactory:
    """A ranker of ``scoring``'s matrices, over the pairs meeting every hard condition
    (``conditions``) or over every pair."""

    def build(region: MatchingRegion, graph: SkillGraph) -> Ranker:
        allowed = eligible(region, graph) if conditions else None
        return ScoreRanker(region, *scoring(region), allowed=allowed)

    build.__doc__ = scoring.__doc__
    return build


RETRIEVAL: dict[str, Scoring] = {
    "Jaccard, exact URIs": jaccard_scores,
    "TF-IDF cosine": tf_idf_scores,
    "BM25": bm25_scores,
}
UNCONDITIONED = ", hard conditions ignored"
# ranking the pairs that meet every hard condition, as the engine does
PEERS: dict[str, RankerFactory] = {
    name: peer(scoring, conditions=True) for name, scoring in RETRIEVAL.items()
}
# the engine less one of its ideas: what that idea adds (not a peer to beat)
EXACT_ONLY = "ablation: the engine, exact skills only"
ABLATIONS: dict[str, RankerFactory] = {EXACT_ONLY: engine_exact}
# the same retrieval peers over every pair: a second reference
UNCONDITIONED_PEERS: dict[str, RankerFactory] = {
    name + UNCONDITIONED: peer(scoring, conditions=False) for name, scoring in RETRIEVAL.items()
}


# -- judging -------------------------------------------------------------------------


@dataclass
class Scores:
    precision: list[float] = dataclasses.field(default_factory=list)
    ndcg: list[float] = dataclasses.field(default_factory=list)

    def add(self, ranked: Sequence[str], relevant: set[str]) -> None:
        self.precision.append(precision_at(ranked, relevant))
        self.ndcg.append(ndcg_at(ranked, relevant))

    def means(self) -> tuple[float, float]:
        return statistics.mean(self.precision), statistics.mean(self.ndcg)


def precision_at(ranked: Sequence[str], relevant: set[str]) -> float:
    return sum(1 for s in ranked[:TOP] if s in relevant) / TOP


def ndcg_at(ranked: Sequence[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(ranked[:TOP]) if s in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(TOP, len(relevant))))
    return dcg / ideal if ideal else 0.0


def members(region: MatchingRegion) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Student ids and vacancy ids by occupation."""
    students: dict[str, set[str]] = {}
    vacancies: dict[str, set[str]] = {}
    for student in region.students:
        students.setdefault(region.occupation_of[student.id], set()).add(student.id)
    for vacancy in region.vacancies:
        vacancies.setdefault(region.occupation_of[vacancy.id], set()).add(vacancy.id)
    return students, vacancies


def judge(region: MatchingRegion, ranker: Ranker) -> dict[str, tuple[float, float]]:
    """Mean precision@10 and nDCG@10 of each side."""
    students_of, vacancies_of = members(region)
    sides = {side: Scores() for side in SIDES}
    for vacancy in region.vacancies:
        relevant = students_of.get(region.occupation_of[vacancy.id], set())
        sides["vacancy"].add(ranker.for_vacancy(vacancy), relevant)
    for student in region.students:
        relevant = vacancies_of.get(region.occupation_of[student.id], set())
        sides["student"].add(ranker.for_student(student), relevant)
    return {side: scores.means() for side, scores in sides.items()}


def best_possible(
    region: MatchingRegion, graph: SkillGraph
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]], dict[str, float]]:
    """Per side: the best precision and nDCG of any ranking, of one that ranks only pairs
    meeting every hard condition, and the share of relevant pairs that meet them."""
    students_of, vacancies_of = members(region)
    students = {s.id: s for s in region.students}
    vacancies = {v.id: v for v in region.vacancies}
    met: dict[tuple[str, str], bool] = {}
    for vacancy in region.vacancies:
        for student_id in students_of.get(region.occupation_of[vacancy.id], ()):
            met[student_id, vacancy.id] = evaluate_pair(
                students[student_id], vacancy, graph
            ).conditions_met
    anyone = {side: Scores() for side in SIDES}
    qualified = {side: Scores() for side in SIDES}
    shares: dict[str, float] = {}
    for side, entries, relevant_of in (
        ("vacancy", vacancies, students_of),
        ("student", students, vacancies_of),
    ):
        pairs = meeting_pairs = 0
        for entry_id in sorted(entries):
            everyone = relevant_of.get(region.occupation_of[entry_id], set())
            meeting = sorted(
                other
                for other in everyone
                if met[(other, entry_id) if side == "vacancy" else (entry_id, other)]
            )
            pairs += len(everyone)
            meeting_pairs += len(meeting)
            anyone[side].add(sorted(everyone), everyone)
            qualified[side].add(meeting, everyone)
        shares[side] = meeting_pairs / pairs if pairs else 0.0
    return (
        {side: s.means() for side, s in anyone.items()},
        {side: s.means() for side, s in qualified.items()},
        shares,
    )


# -- one setting over the seeds ------------------------------------------------------


@dataclass
class Sizes:
    occupations: int
    students: int
    vacancies: int


@dataclass
class Outcome:
    """Per side and ranking: the seed means of precision@10 and of nDCG@10."""

    precision: dict[str, dict[str, list[float]]]
    ndcg: dict[str, dict[str, list[float]]]
    shares: dict[str, list[float]]
    relevant: dict[str, list[float]]
    seconds: float


BEST_ANY = "best possible, any ranking"
BEST_MET = "best possible, meeting the hard conditions"


def run_setting(
    setting: str,
    vocabulary: EscoVocabulary,
    graph: SkillGraph,
    sizes: Sizes,
    seeds: int,
    engines: dict[str, RankerFactory],
) -> Outcome:
    noise = SETTINGS[setting][1]
    rankings = {**engines, **ABLATIONS, **PEERS, **UNCONDITIONED_PEERS}
    names = [*rankings, BEST_ANY, BEST_MET]
    outcome = Outcome(
        {side: {n: [] for n in names} for side in SIDES},
        {side: {n: [] for n in names} for side in SIDES},
        {side: [] for side in SIDES},
        {side: [] for side in SIDES},
        0.0,
    )
    started = time.perf_counter()
    for seed in range(1, seeds + 1):
        region = matching_region(
            vocabulary,
            graph,
            occupations=sizes.occupations,
            students=sizes.students,
            vacancies=sizes.vacancies,
            noise=noise,
            seed=seed,
        )
        found = {name: judge(region, build(region, graph)) for name, build in rankings.items()}
        anyone, qualified, shares = best_possible(region, graph)
        found[BEST_ANY], found[BEST_MET] = anyone, qualified
        students_of, vacancies_of = members(region)
        for side in SIDES:
            for name, sides in found.items():
                outcome.precision[side][name].append(sides[side][0])
                outcome.ndcg[side][name].append(sides[side][1])
            outcome.shares[side].append(shares[side])
        outcome.relevant["vacancy"].append(
            statistics.mean(
                len(students_of.get(region.occupation_of[v.id], ())) for v in region.vacancies
            )
        )
        outcome.relevant["student"].append(
            statistics.mean(len(vacancies_of[region.occupation_of[s.id]]) for s in region.students)
        )
        print(
            f"{setting}, seed {seed}: engine nDCG@10 "
            f"{outcome.ndcg['vacancy'][ENGINE][-1]:.3f} (vacancy side), "
            f"{outcome.ndcg['student'][ENGINE][-1]:.3f} (student side) "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    outcome.seconds = time.perf_counter() - started
    return outcome


def spread(values: Sequence[float]) -> str:
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {deviation:.3f}"


def paired(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def report(setting: str, outcome: Outcome, engines: Sequence[str]) -> list[tuple[str, ...]]:
    """Print the setting's tables (one per side); return its summary rows."""
    label = SETTINGS[setting][0]
    summary: list[tuple[str, ...]] = []
    for side, title in SIDES.items():
        precision, ndcg = outcome.precision[side], outcome.ndcg[side]
        best = max(PEERS, key=lambda name: statistics.mean(ndcg[name]))
        print(
            f"\n#### {label}: {title}\n\n"
            f"{statistics.mean(outcome.relevant[side]):.1f} relevant per "
            f"{side} on average; {statistics.mean(outcome.shares[side]):.1%} of relevant pairs "
            f"meet every hard condition\n"
        )
        print("| ranking | precision@10 | nDCG@10 |\n|---|---|---|")
        for name in precision:
            shown = f"{name} (best peer)" if name == best else name
            print(f"| {shown} | {spread(precision[name])} | {spread(ndcg[name])} |")
        loose = max(UNCONDITIONED_PEERS, key=lambda name: statistics.mean(ndcg[name]))
        for name in engines:
            gains = paired(ndcg[name], ndcg[best])
            met = "yes" if min(gains) >= TARGET else "no"
            print(
                f"| {name} − {best}, paired by seed | "
                f"{spread(paired(precision[name], precision[best]))} | {spread(gains)}; "
                f"≥ {TARGET} on every seed: **{met}** (least {min(gains):+.3f}) |"
            )
            against_loose = paired(ndcg[name], ndcg[loose])
            loose_met = "yes" if min(against_loose) >= TARGET else "no"
            print(
                f"| {name} − {loose}, paired by seed | "
                f"{spread(paired(precision[name], precision[loose]))} | "
                f"{spread(against_loose)}; ≥ {TARGET} on every seed: {loose_met} "
                f"(least {min(against_loose):+.3f}) |"
            )
            if name == ENGINE:
                print(
                    f"| related skills: engine − {EXACT_ONLY.removeprefix('ablation: ')}, "
                    f"paired by seed | {spread(paired(precision[name], precision[EXACT_ONLY]))} "
                    f"| {spread(paired(ndcg[name], ndcg[EXACT_ONLY]))} |"
                )
            summary.append(
                (
                    label,
                    title,
                    name,
                    spread(ndcg[name]),
                    f"{best} {spread(ndcg[best])}",
                    spread(gains),
                    met,
                    f"{spread(against_loose)} ({loose_met})",
                )
            )
    return summary


def load_alternative(spec: str) -> tuple[str, RankerFactory]:
    module, _, function = spec.partition(":")
    if not function:
        raise SystemExit(f"--alternative {spec}: give it as module:function")
    factory: RankerFactory = getattr(importlib.import_module(module), function)
    return spec, factory


def main(alternatives: dict[str, RankerFactory] | None = None) -> None:
    """Run the bench; ``alternatives`` are scorers compared with the engine in the same run
    (each named ranking judged, and paired with the best peer, as the engine is)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, help="regions built per setting (seeds 1, 2, …)")
    parser.add_argument("--occupations", type=int)
    parser.add_argument("--students", type=int)
    parser.add_argument("--vacancies", type=int)
    parser.add_argument(
        "--settings",
        default=",".join(SETTINGS),
        help=f"noise settings to run, comma-separated, of {', '.join(SETTINGS)} (all by default)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2 seeds of 100 occupations, 2,000 students and 150 vacancies",
    )
    parser.add_argument(
        "--alternative",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="a function (region, graph) → Ranker to compare with the engine in the same run",
    )
    args = parser.parse_args()
    quick = Sizes(100, 2_000, 150)
    full = Sizes(300, 6_000, 450)
    base = quick if args.quick else full
    sizes = Sizes(
        args.occupations or base.occupations,
        args.students or base.students,
        args.vacancies or base.vacancies,
    )
    seeds = args.seeds or (2 if args.quick else 5)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown settings {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    engines: dict[str, RankerFactory] = {ENGINE: engine, **(alternatives or {})}
    engines.update(load_alternative(spec) for spec in args.alternative)

    vocabulary = default_vocabulary()
    graph = SkillGraph.from_vocabulary(vocabulary)
    started = time.perf_counter()
    print(
        f"Seeds 1–{seeds} per setting, each a region of {sizes.occupations} ESCO occupations, "
        f"{sizes.students:,} students and {sizes.vacancies:,} vacancies. Mean over vacancies "
        f"(or students), then mean ± standard deviation over the seeds. The student side "
        f"judges the first {TOP} of the {STUDENT_LIMIT} best vacancies."
    )
    summary: list[tuple[str, ...]] = []
    for setting in settings:
        outcome = run_setting(setting, vocabulary, graph, sizes, seeds, engines)
        noise = SETTINGS[setting][1]
        print(
            f"\n### {SETTINGS[setting][0]} ({outcome.seconds:.0f} s)\n\n"
            f"noise: drop {noise.drop:.2f} of essential skills, replace {noise.related:.2f} by "
            f"a related skill, up to {noise.extra} random extra skills, other study field "
            f"{noise.field:.2f}, levels {noise.levels}"
        )
        summary += report(setting, outcome, list(engines))
    print(
        f"\n### Summary: nDCG@10 ({time.perf_counter() - started:.0f} s in all)\n\n"
        f"| setting | side | ranking | nDCG@10 | best peer | − best peer, paired | "
        f"≥ {TARGET} on every seed | − best peer ignoring the hard conditions |\n"
        f"|---|---|---|---|---|---|---|---|"
    )
    for row in summary:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
