"""Matching speed: the numpy index against the per-pair rules, on one region from ESCO.

    uv run python bench/matching_speed.py [--students 100000] [--vacancies 10000]
        [--rebuild-vacancies 5000] [--probes 1000] [--parts abc]

The region is built as in `matching_quality.py` (`datasets.matching_region`, 300 ESCO
occupations, default noise). The straightforward way is the loop every test holds the index
to: `evaluate_pair` for every student (or vacancy), keep the pairs that meet every hard
condition, cover at least one skill and reach the minimum score, sort them.

(a) A new vacancy against every student: `match_vacancy(limit=100)` and the vacancy's
    `VacancyRules` explaining those 100 (what `evaluate_pair` does, with the vacancy's side
    worked out once), timed over `--probes` vacancies the index does not hold; the loop
    over a few.
(b) A new student against every open vacancy: `match_student(limit=50)` and `evaluate_pair`
    for those 50; likewise.
    Both are timed once right after the load (posting arrays are built on first use) and
    once more; the second pass is the figure held to the target. A third row does what the
    Kafka handlers do on an event: put the entry in, match up to the service's limits (100
    students a vacancy, 50 vacancies a student) and explain those (then take the entry out).
(c) A full rebuild in a fresh process: `MatchIndex.load` of every student and vacancy, then
    every vacancy matched and its kept pairs (its 100 best students over the minimum score)
    explained, as a replay of the vacancies topic makes the service do. Memory is the
    process's peak resident set (`ru_maxrss`): what the
    operating system and a container limit count, numpy's buffers and the allocator's slack
    included, at no cost to the timing (tracemalloc would slow every allocation). The loop
    is timed on a sample of vacancies against every student and extrapolated.

The minimum score is the service's default (INTERLOCALITY_MATCH_MIN_SCORE, 0.3). As in the
service, the garbage collector is kept off the vocabulary and graph (`settle_heap`) before
the region is loaded.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from random import Random
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from datasets import (
    MatchingRegion,
    StudentNoise,
    matching_region,
    occupation_profiles,
    region_student,
    region_vacancy,
)
from tables import Row, print_table

from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.common.service import settle_heap
from interlocality.matching.domain import (
    PairEvaluation,
    StudentEntry,
    VacancyEntry,
    VacancyRules,
    evaluate_pair,
)
from interlocality.matching.index import MatchIndex

MIN_SCORE = 0.3
PER_VACANCY = 100  # INTERLOCALITY_MATCH_LIMIT_PER_VACANCY
PER_STUDENT = 50  # INTERLOCALITY_MATCH_LIMIT_PER_STUDENT
STUDENT_TOP = 100
VACANCY_TOP = 50
Ranked = list[tuple[str, float]]


@dataclass
class Setup:
    vocabulary: Any
    graph: SkillGraph
    baseline_kib: int


def start_like_the_service() -> Setup:
    vocabulary = default_vocabulary()
    graph = SkillGraph.from_vocabulary(vocabulary)
    settle_heap()
    return Setup(vocabulary, graph, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def region_of(setup: Setup, args: argparse.Namespace, vacancies: int) -> MatchingRegion:
    return matching_region(
        setup.vocabulary,
        setup.graph,
        occupations=args.occupations,
        students=args.students,
        vacancies=vacancies,
        noise=StudentNoise(),
        seed=args.seed,
    )


# -- the straightforward way -----------------------------------------------------------


def kept(evaluation: PairEvaluation, minimum: float) -> bool:
    return evaluation.conditions_met and bool(evaluation.matched) and evaluation.score >= minimum


def loop_for_vacancy(
    students: Sequence[StudentEntry], vacancy: VacancyEntry, graph: SkillGraph, limit: int | None
) -> Ranked:
    found = []
    for student in students:
        evaluation = evaluate_pair(student, vacancy, graph)
        if kept(evaluation, MIN_SCORE):
            found.append((student.id, evaluation.score))
    found.sort(key=lambda pair: (-pair[1], pair[0]))
    return found[:limit]


def loop_for_student(
    vacancies: Sequence[VacancyEntry], student: StudentEntry, graph: SkillGraph, limit: int
) -> Ranked:
    found = []
    for vacancy in vacancies:
        evaluation = evaluate_pair(student, vacancy, graph)
        if kept(evaluation, MIN_SCORE):
            found.append((vacancy.id, evaluation.score))
    found.sort(key=lambda pair: (-pair[1], pair[0]))
    return found[:limit]


# -- the engine, as the service uses it ------------------------------------------------


def engine_for_vacancy(index: MatchIndex, vacancy: VacancyEntry, limit: int | None) -> Ranked:
    found = index.match_vacancy(vacancy, limit=limit)
    rules = VacancyRules(vacancy, index.graph)
    for candidate in found:
        rules.evaluate(index.students[candidate.student_id])
    return [(c.student_id, c.score) for c in found]


def engine_for_student(index: MatchIndex, student: StudentEntry, limit: int | None) -> Ranked:
    found = index.match_student(student, limit=limit)
    for candidate in found:
        evaluate_pair(student, index.vacancies[candidate.vacancy_id], index.graph)
    return [(c.vacancy_id, c.score) for c in found]


def handler_for_vacancy(index: MatchIndex, vacancy: VacancyEntry) -> int:
    index.put_vacancy(vacancy)
    count = len(engine_for_vacancy(index, vacancy, PER_VACANCY))
    index.remove_vacancy(vacancy.id)
    return count


def handler_for_student(index: MatchIndex, student: StudentEntry) -> int:
    index.put_student(student)
    count = len(engine_for_student(index, student, PER_STUDENT))
    index.remove_student(student.id)
    return count


# -- figures ----------------------------------------------------------------------------


def timed(work: Callable[[], object]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def same(ours: Ranked, theirs: Ranked) -> bool:
    return [i for i, _ in ours] == [i for i, _ in theirs] and all(
        abs(a - b) <= 1e-4 for (_, a), (_, b) in zip(ours, theirs, strict=True)
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def median_p99(seconds: Sequence[float]) -> str:
    return f"{ms(statistics.median(seconds))} / {ms(p99(seconds))}"


def probe_rows(
    *,
    latency: str,
    engine: Callable[[Any], Ranked],
    loop: Callable[[Any], Ranked],
    handler: Callable[[Any], int],
    probes: Sequence[Any],
    looped: int,
    handled: int,
    top: int,
    targets: tuple[float, float | None],
) -> list[Row]:
    """Rows for one kind of probe: the engine twice over every probe, the loop over a few,
    the handler's way over some."""
    passes = [[timed(lambda p=p: engine(p)) for p in probes] for _ in range(2)]
    cold = [t for t, _ in passes[0]]
    warm = [t for t, _ in passes[1]]
    loops = [timed(lambda p=p: loop(p)) for p in probes[:looped]]
    agree = sum(same(passes[1][n][1], found) for n, (_, found) in enumerate(loops))
    handlers = [timed(lambda p=p: handler(p)) for p in probes[:handled]]
    loop_median = statistics.median(t for t, _ in loops)
    speed_up = loop_median / statistics.median(warm)
    median_target, p99_target = targets
    rows = [
        Row(
            f"{latency}, median",
            ms(statistics.median(warm)),
            f"≤ {median_target * 1000:g} ms",
            statistics.median(warm) <= median_target,
        ),
        Row(
            "    p99",
            ms(p99(warm)),
            f"≤ {p99_target * 1000:g} ms" if p99_target else "",
            p99(warm) <= p99_target if p99_target else None,
        ),
        Row(f"    per-pair loop, median of {len(loops)}", ms(loop_median)),
        Row(
            "    speed-up over the loop",
            f"{speed_up:,.0f}×",
            "≥ 30×" if p99_target else "",
            speed_up >= 30 if p99_target else None,
        ),
        Row(f"    same top {top} (ids, order, scores) as the loop", f"{agree} of {len(loops)}"),
        Row("    first pass after the load, median / p99", median_p99(cold)),
        Row(
            f"    as the handler does ({len(handlers)}): put, match, explain the kept",
            median_p99([t for t, _ in handlers]),
        ),
        Row(
            "    pairs kept (≥ the minimum, within the limit), mean / most",
            f"{statistics.mean(n for _, n in handlers):,.0f} / {max(n for _, n in handlers):,}",
        ),
    ]
    return rows


def part_a(index: MatchIndex, region: MatchingRegion, args: argparse.Namespace) -> list[Row]:
    rng = Random(args.seed + 100)
    probes = [
        region_vacancy(rng, f"v-new-{n:05d}", rng.choice(region.occupations))
        for n in range(args.probes)
    ]
    students = list(index.students.values())
    return probe_rows(
        latency=f"(a) new vacancy × {len(students):,} students, top {STUDENT_TOP} explained",
        engine=lambda v: engine_for_vacancy(index, v, STUDENT_TOP),
        loop=lambda v: loop_for_vacancy(students, v, index.graph, STUDENT_TOP),
        handler=lambda v: handler_for_vacancy(index, v),
        probes=probes,
        looped=args.loop_vacancies,
        handled=args.handled,
        top=STUDENT_TOP,
        targets=(0.025, 0.1),
    )


def part_b(
    index: MatchIndex, region: MatchingRegion, setup: Setup, args: argparse.Namespace
) -> list[Row]:
    rng = Random(args.seed + 200)
    every = occupation_profiles(setup.vocabulary, setup.graph)
    noise = StudentNoise()
    probes = [
        region_student(
            rng, f"s-new-{n:05d}", rng.choice(region.occupations), setup.graph, noise, every
        )
        for n in range(args.probes)
    ]
    vacancies = [v for v in index.vacancies.values() if v.open]
    return probe_rows(
        latency=f"(b) new student × {len(vacancies):,} vacancies, top {VACANCY_TOP} explained",
        engine=lambda s: engine_for_student(index, s, VACANCY_TOP),
        loop=lambda s: loop_for_student(vacancies, s, index.graph, VACANCY_TOP),
        handler=lambda s: handler_for_student(index, s),
        probes=probes,
        looped=args.loop_students,
        handled=args.handled,
        top=VACANCY_TOP,
        targets=(0.010, None),
    )


def rebuild(options: dict[str, Any]) -> dict[str, float]:
    """Part (c), run in a fresh process so that its peak resident set is its own."""
    args = argparse.Namespace(**options)
    setup = start_like_the_service()
    region = region_of(setup, args, args.rebuild_vacancies)
    generated_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    graph = setup.graph
    index = MatchIndex(graph, MIN_SCORE)
    started = time.perf_counter()
    index.load(region.students, region.vacancies)
    loaded = time.perf_counter()
    matching = explaining = 0.0
    pairs = 0
    for vacancy in region.vacancies:
        begun = time.perf_counter()
        found = index.match_vacancy(vacancy, limit=PER_VACANCY)
        matched = time.perf_counter()
        rules = VacancyRules(vacancy, graph)
        for candidate in found:
            rules.evaluate(index.students[candidate.student_id])
        explaining += time.perf_counter() - matched
        matching += matched - begun
        pairs += len(found)
    total = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sample = region.vacancies[: args.loop_rebuild]
    looped, found_by_loop = timed(
        lambda: [loop_for_vacancy(region.students, v, graph, None) for v in sample]
    )
    agree = sum(
        same(engine_for_vacancy(index, v, None), theirs)
        for v, theirs in zip(sample, found_by_loop, strict=True)
    )
    return {
        "students": len(region.students),
        "vacancies": len(region.vacancies),
        "load": loaded - started,
        "matching": matching,
        "explaining": explaining,
        "total": total,
        "pairs": pairs,
        "baseline_kib": setup.baseline_kib,
        "generated_kib": generated_kib,
        "peak_kib": peak_kib,
        "loop_seconds": looped,
        "loop_pairs": len(sample) * len(region.students),
        "loop_agree": agree,
        "loop_sample": len(sample),
    }


def part_c(args: argparse.Namespace) -> list[Row]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        found = pool.submit(rebuild, vars(args)).result()
    gib = found["peak_kib"] / 1024**2
    per_pair = found["loop_seconds"] / found["loop_pairs"]
    loop_total = per_pair * found["students"] * found["vacancies"]
    size = f"{found['students']:,} students × {found['vacancies']:,} vacancies"
    return [
        Row(
            f"(c) rebuild {size}: load, match all, explain kept",
            f"{found['total']:,.1f} s",
            "≤ 30 s",
            found["total"] <= 30,
        ),
        Row(
            "    of which load / matching / explaining",
            f"{found['load']:.1f} / {found['matching']:.1f} / {found['explaining']:.1f} s",
        ),
        Row(
            f"    pairs kept (≥ {MIN_SCORE}, {PER_VACANCY} a vacancy) explained",
            f"{found['pairs']:,}",
        ),
        Row("    peak resident memory (ru_maxrss)", f"{gib:.2f} GiB", "≤ 1.5 GiB", gib <= 1.5),
        Row(
            "    of it before the load: ESCO and graph / with the entries generated",
            f"{found['baseline_kib'] / 1024:,.0f} / {found['generated_kib'] / 1024:,.0f} MiB",
        ),
        Row(
            f"    per-pair loop, from {found['loop_sample']} vacancies × every student",
            f"{per_pair * 1e6:.1f} µs a pair → {loop_total:,.0f} s ({loop_total / 3600:.1f} h)",
        ),
        Row("    speed-up over the loop", f"{loop_total / found['total']:,.0f}×"),
        Row(
            "    same pairs (ids, order, scores) as the loop",
            f"{found['loop_agree']} of {found['loop_sample']} vacancies",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--vacancies", type=int, default=10_000, help="open, for (a) and (b)")
    parser.add_argument("--rebuild-vacancies", type=int, default=5_000, help="for (c)")
    parser.add_argument("--occupations", type=int, default=300)
    parser.add_argument("--probes", type=int, default=1_000, help="new vacancies and students")
    parser.add_argument("--handled", type=int, default=200, help="probes the handler's way")
    parser.add_argument("--loop-vacancies", type=int, default=5, help="(a) probes looped")
    parser.add_argument("--loop-students", type=int, default=20, help="(b) probes looped")
    parser.add_argument("--loop-rebuild", type=int, default=3, help="(c) vacancies looped")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parts", default="abc", help="any of a, b and c")
    args = parser.parse_args()

    rebuilt: list[Row] = []
    if "c" in args.parts:
        print("(c) rebuilding in a fresh process …", file=sys.stderr, flush=True)
        rebuilt = part_c(args)
    rows: list[Row] = []
    if "a" in args.parts or "b" in args.parts:
        setup = start_like_the_service()
        region = region_of(setup, args, args.vacancies)
        index = MatchIndex(setup.graph, MIN_SCORE)
        index.load(region.students, region.vacancies)
        if "a" in args.parts:
            print("(a) new vacancies …", file=sys.stderr, flush=True)
            rows += part_a(index, region, args)
        if "b" in args.parts:
            print("(b) new students …", file=sys.stderr, flush=True)
            rows += part_b(index, region, setup, args)
    rows += rebuilt

    print_table(
        f"region: {args.occupations} ESCO occupations, default noise, seed {args.seed}; "
        f"minimum score {MIN_SCORE}; {args.probes:,} probes a pass",
        rows,
    )


if __name__ == "__main__":
    main()
