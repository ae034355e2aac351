"""The ESCO skills vocabulary, loaded from the cut shipped in ``data/esco`` (see its NOTICE).

This product uses the ESCO classification of the European Commission.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

from rapidfuzz import fuzz, process

__all__ = [
    "ESCO_NOTICE",
    "ESCO_PREFIX",
    "EscoVocabulary",
    "Occupation",
    "Skill",
    "default_vocabulary",
    "load_vocabulary",
    "region_vocabulary",
]

ESCO_NOTICE = "This product uses the ESCO classification of the European Commission."
ESCO_PREFIX = "http://data.europa.eu/esco/"
DATA_DIR = Path(__file__).parent / "data" / "esco"
_WORD = re.compile(r"\w+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Skill:
    """An ESCO skill or knowledge concept."""

    uri: str
    label: str
    alt_labels: tuple[str, ...]
    skill_type: str
    reuse_level: str
    broader: tuple[str, ...]


@dataclass(frozen=True)
class Occupation:
    """An ESCO occupation with its essential and optional skills."""

    uri: str
    label: str
    isco_group: str
    essential_skills: tuple[str, ...]
    optional_skills: tuple[str, ...]


def _lines(path: Path) -> Iterator[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for line in handle:
            yield line.rstrip("\n").split("\t")


class _LabelIndex:
    """Words of every label, for fast typo-tolerant search."""

    def __init__(self, labels: list[tuple[str, str]]) -> None:
        self.owners = [uri for uri, _ in labels]
        self.display = [name for _, name in labels]
        self.names = [name.lower() for name in self.display]
        word_ids: dict[str, int] = {}
        self.word_labels: list[list[int]] = []
        for label_id, name in enumerate(self.names):
            for word in set(_WORD.findall(name)):
                if word not in word_ids:
                    word_ids[word] = len(word_ids)
                    self.word_labels.append([])
                self.word_labels[word_ids[word]].append(label_id)
        self.words = list(word_ids)
        self.sorted_words = sorted(word_ids.items())

    def close_words(self, token: str) -> list[tuple[int, float]]:
        """Label words like ``token``: exact 100, extensions of it 90, fuzzy by ratio."""
        found: dict[int, float] = {}
        if len(token) >= 2:
            start = bisect.bisect_left(self.sorted_words, (token, -1))
            for word, word_id in self.sorted_words[start : start + 200]:
                if not word.startswith(token):
                    break
                found[word_id] = 100.0 if word == token else 90.0
        if len(token) >= 4:
            for _, similarity, word_id in process.extract(
                token, self.words, scorer=fuzz.ratio, score_cutoff=75, limit=15
            ):
                found[word_id] = max(found.get(word_id, 0.0), float(similarity))
        return list(found.items())


class EscoVocabulary:
    """Skills and occupations by URI, with labels per language and label search."""

    def __init__(
        self,
        skills: Mapping[str, Skill],
        occupations: Mapping[str, Occupation],
        groups: Mapping[str, str] | None = None,
        group_broader: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.skills = skills
        self.occupations = occupations
        self.groups = dict(groups or {})
        # the skills hierarchy above the skills: each group's (or ISCED-F field's) parents
        self.group_broader = dict(group_broader or {})
        self.labels: dict[str, dict[str, str]] = {}
        self._label_indexes: dict[str, _LabelIndex] = {}
        self._by_label: dict[str, Skill] | None = None

    def __contains__(self, uri: object) -> bool:
        return uri in self.skills

    def skill(self, uri: str) -> Skill | None:
        """The skill with ``uri``, if ESCO has it."""
        return self.skills.get(uri)

    def unknown(self, uris: Iterable[str]) -> list[str]:
        """The URIs that are not ESCO skills, in input order."""
        return [uri for uri in uris if uri not in self.skills]

    def label(self, uri: str, lang: str = "en") -> str:
        """The preferred label of a skill or skill group in ``lang`` (English as fallback)."""
        translated = self.labels.get(lang, {}).get(uri)
        if translated:
            return translated
        skill = self.skills.get(uri)
        if skill is not None:
            return skill.label
        return self.groups.get(uri, uri)

    def prepare(self) -> None:
        """Build the lookups that are otherwise built on first use (at a service's start)."""
        self.find_by_label("")
        for lang in ("en", *self.labels):
            self._label_index(lang)

    def find_by_label(self, text: str) -> Skill | None:
        """The skill whose preferred or alternative label is ``text`` (any case)."""
        if self._by_label is None:
            by_label: dict[str, Skill] = {}
            for skill in self.skills.values():
                for name in skill.alt_labels:
                    by_label.setdefault(name.lower(), skill)
            for skill in self.skills.values():
                by_label[skill.label.lower()] = skill
            self._by_label = by_label
        return self._by_label.get(" ".join(text.lower().split()))

    def suggest(self, text: str, limit: int = 3, lang: str = "en") -> list[Skill]:
        """Skills whose labels best resemble ``text``, typos tolerated, best first."""
        return [skill for skill, _ in self.search(text, limit=limit, lang=lang)]

    def suggest_for_uri(self, uri: str, limit: int = 3) -> list[Skill]:
        """Skills an unknown URI was probably meant to be, best first.

        A URI a few characters away from a skill's (a typo) gives that skill; a URI whose
        last segment is words (``…/skill/project-management``) gives the skills those
        words find; an occupation's URI gives the occupation's essential skills.
        """
        occupation = self.occupations.get(uri)
        if occupation is not None:
            return [self.skills[u] for u in occupation.essential_skills if u in self.skills][:limit]
        close = process.extract(
            uri, list(self.skills), scorer=fuzz.ratio, limit=limit, score_cutoff=90
        )
        if close:
            return [self.skills[found] for found, _, _ in close]
        tail = uri.rstrip("/").rsplit("/", 1)[-1]
        if _UUID.fullmatch(tail):
            return []
        return self.suggest(re.sub(r"[-_+.]|%20", " ", tail), limit=limit)

    def search(self, text: str, limit: int = 10, lang: str = "en") -> list[tuple[Skill, str]]:
        """Skills matching ``text`` with the label that matched, ranked, typo-tolerant.

        Each query word is matched to label words (prefix, or fuzzy by rapidfuzz); a label
        scores by how well it covers every query word, then by how close it is as a whole.
        Preferred and alternative labels of ``lang`` are searched (English as fallback).
        """
        index = self._label_index(lang)
        tokens = _WORD.findall(text.lower())
        if not tokens:
            return []
        coverage: dict[int, float] = {}
        for token in tokens:
            found: dict[int, float] = {}
            for word_id, similarity in index.close_words(token):
                for label_id in index.word_labels[word_id]:
                    if similarity > found.get(label_id, 0.0):
                        found[label_id] = similarity
            for label_id, similarity in found.items():
                coverage[label_id] = coverage.get(label_id, 0.0) + similarity
        query = " ".join(tokens)
        best: dict[str, tuple[float, int]] = {}
        for label_id, covered in coverage.items():
            name = index.names[label_id]
            score = covered / len(tokens) + 0.2 * fuzz.ratio(query, name)
            if name == query:
                score += 50
            elif name.startswith(query):
                score += 10
            uri = index.owners[label_id]
            if index.display[label_id] == self.skills[uri].label:
                score += 1  # a preferred label beats another skill's alternative one
            if uri not in best or score > best[uri][0]:
                best[uri] = (score, label_id)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], len(index.names[item[1][1]])))
        return [
            (self.skills[uri], index.display[label_id]) for uri, (_, label_id) in ranked[:limit]
        ]

    def _label_index(self, lang: str) -> _LabelIndex:
        if lang not in self._label_indexes:
            translated = self.labels.get(lang, {})
            labels: list[tuple[str, str]] = []
            for uri, skill in self.skills.items():
                names = (
                    (translated[uri],) if uri in translated else (skill.label, *skill.alt_labels)
                )
                labels.extend((uri, name) for name in names)
            self._label_indexes[lang] = _LabelIndex(labels)
        return self._label_indexes[lang]

    def add_labels_from_csv(self, source: str | Path | IO[str], lang: str) -> int:
        """Add ``lang`` labels from an official ESCO ``skills_<lang>.csv``; returns how many."""
        handle: IO[str]
        if isinstance(source, str | Path):
            handle = open(source, encoding="utf-8", newline="")  # noqa: SIM115
        else:
            handle = source
        try:
            labels = self.labels.setdefault(lang, {})
            added = 0
            for row in csv.DictReader(handle):
                uri = row.get("conceptUri", "")
                label = " ".join((row.get("preferredLabel") or "").split())
                if uri in self.skills and label:
                    labels[uri] = label
                    added += 1
            self._label_indexes.pop(lang, None)
            return added
        finally:
            if handle is not source:
                handle.close()


def load_vocabulary(data_dir: Path | None = None) -> EscoVocabulary:
    """Read the shipped ESCO cut (or one built into ``data_dir``)."""
    directory = data_dir or DATA_DIR
    broader: dict[str, list[str]] = {}
    for child, parent in _lines(directory / "skill_broader.tsv.gz"):
        broader.setdefault(ESCO_PREFIX + child, []).append(ESCO_PREFIX + parent)
    ordered: list[str] = []
    skills: dict[str, Skill] = {}
    for key, skill_type, reuse, label, alts in _lines(directory / "skills.tsv.gz"):
        uri = ESCO_PREFIX + key
        ordered.append(uri)
        skills[uri] = Skill(
            uri=uri,
            label=label,
            alt_labels=tuple(alts.split("|")) if alts else (),
            skill_type=skill_type,
            reuse_level=reuse,
            broader=tuple(broader.get(uri, ())),
        )
    occupations: dict[str, Occupation] = {}
    for key, label, isco, essential, optional in _lines(directory / "occupations.tsv.gz"):
        uri = ESCO_PREFIX + key
        occupations[uri] = Occupation(
            uri=uri,
            label=label,
            isco_group=isco,
            essential_skills=tuple(ordered[int(i)] for i in essential.split()),
            optional_skills=tuple(ordered[int(i)] for i in optional.split()),
        )
    groups = {ESCO_PREFIX + key: label for key, label in _lines(directory / "skill_groups.tsv.gz")}
    group_broader = {uri: tuple(broader.get(uri, ())) for uri in groups}
    return EscoVocabulary(skills, occupations, groups, group_broader)


@lru_cache(maxsize=1)
def default_vocabulary() -> EscoVocabulary:
    """The shipped vocabulary, loaded once per process."""
    return load_vocabulary()


def region_vocabulary(extra_labels: str) -> EscoVocabulary:
    """The shipped vocabulary with a region's label files (``lang=path,…``) added, its
    lookups built."""
    vocabulary = default_vocabulary()
    for entry in filter(None, (e.strip() for e in extra_labels.split(","))):
        lang, _, path = entry.partition("=")
        vocabulary.add_labels_from_csv(Path(path.strip()), lang.strip())
    vocabulary.prepare()
    return vocabulary
