"""The ESCO skills vocabulary, loaded from the cut shipped in ``data/esco`` (see its NOTICE).

This product uses the ESCO classification of the European Commission.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

__all__ = [
    "ESCO_NOTICE",
    "ESCO_PREFIX",
    "EscoVocabulary",
    "Occupation",
    "Skill",
    "default_vocabulary",
    "load_vocabulary",
]

ESCO_NOTICE = "This product uses the ESCO classification of the European Commission."
ESCO_PREFIX = "http://data.europa.eu/esco/"
DATA_DIR = Path(__file__).parent / "data" / "esco"
_WORD = re.compile(r"\w+")


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


class EscoVocabulary:
    """Skills and occupations by URI, with labels per language and label search."""

    def __init__(
        self,
        skills: Mapping[str, Skill],
        occupations: Mapping[str, Occupation],
        groups: Mapping[str, str] | None = None,
    ) -> None:
        self.skills = skills
        self.occupations = occupations
        self.groups = dict(groups or {})
        self.labels: dict[str, dict[str, str]] = {}
        self._words: dict[str, set[str]] | None = None
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

    def suggest(self, text: str, limit: int = 3) -> list[Skill]:
        """Skills whose labels best resemble ``text`` (tolerates small typos)."""
        query = [w for w in _WORD.findall(text.lower()) if len(w) > 1]
        if not query:
            return []
        words = self._word_index()
        candidates: dict[str, float] = {}
        for term in query:
            close = difflib.get_close_matches(term, words.keys(), n=5, cutoff=0.75)
            for rank, word in enumerate(close):
                weight = 1.0 - 0.1 * rank
                for uri in words[word]:
                    candidates[uri] = candidates.get(uri, 0.0) + weight
        scored = []
        joined = " ".join(query)
        for uri, hits in candidates.items():
            skill = self.skills[uri]
            similarity = max(
                difflib.SequenceMatcher(None, joined, name.lower()).ratio()
                for name in (skill.label, *skill.alt_labels)
            )
            scored.append((hits + similarity, skill.label, skill))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [skill for _, _, skill in scored[:limit]]

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
            self._words = None
            return added
        finally:
            if handle is not source:
                handle.close()

    def _word_index(self) -> dict[str, set[str]]:
        if self._words is None:
            words: dict[str, set[str]] = {}
            for uri, skill in self.skills.items():
                for name in (skill.label, *skill.alt_labels):
                    for word in _WORD.findall(name.lower()):
                        if len(word) > 1:
                            words.setdefault(word, set()).add(uri)
            self._words = words
        return self._words


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
    return EscoVocabulary(skills, occupations, groups)


@lru_cache(maxsize=1)
def default_vocabulary() -> EscoVocabulary:
    """The shipped vocabulary, loaded once per process."""
    return load_vocabulary()
