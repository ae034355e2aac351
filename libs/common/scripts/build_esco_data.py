"""Cut the official ESCO v1.1.1 CSV downloads down to what the services ship.

    python libs/common/scripts/build_esco_data.py ESCO_DIR

ESCO_DIR holds the Commission's two zips of the v1.1.1 CSV download (English), from
https://esco.ec.europa.eu/en/use-esco/download. Writes gzip-compressed TSV files to
interlocality/common/data/esco/.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "libs/common/src/interlocality/common/data/esco"
PREFIX = "http://data.europa.eu/esco/"


def rows(archive: zipfile.ZipFile, suffix: str) -> Iterator[dict[str, str]]:
    name = next(n for n in archive.namelist() if n.endswith(suffix))
    with archive.open(name) as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))


def short(uri: str) -> str:
    if not uri.startswith(PREFIX):
        raise ValueError(f"unexpected URI {uri}")
    return uri[len(PREFIX) :]


def clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def write(name: str, lines: list[list[str]]) -> None:
    path = OUT / name
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9, newline="") as out:
        out.writelines("\t".join(line) + "\n" for line in lines)
    print(f"{path.relative_to(REPO)}: {len(lines)} rows, {path.stat().st_size / 1024:.0f} KiB")


def main(esco_dir: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    classification = zipfile.ZipFile(esco_dir / "esco-v1.1.1-classification-en-csv.zip")
    relations = zipfile.ZipFile(esco_dir / "esco-v1.1.1-relations-csv.zip")

    skills = []
    for row in rows(classification, "skills_en.csv"):
        alts = sorted({clean(a) for a in row["altLabels"].split("\n") if a.strip()})
        skills.append(
            [
                short(row["conceptUri"]),
                row["skillType"],
                row["reuseLevel"],
                clean(row["preferredLabel"]),
                "|".join(alts),
            ]
        )
    skills.sort()
    write("skills.tsv.gz", skills)
    # Occupations name their skills by line number in skills.tsv: UUIDs do not compress.
    index = {line[0]: str(number) for number, line in enumerate(skills)}

    groups = [
        [short(row["conceptUri"]), clean(row["preferredLabel"])]
        for row in rows(classification, "skillGroups_en.csv")
    ]
    write("skill_groups.tsv.gz", sorted(groups))

    essential: dict[str, list[str]] = defaultdict(list)
    optional: dict[str, list[str]] = defaultdict(list)
    for row in rows(relations, "occupationSkillRelations.csv"):
        target = essential if row["relationType"] == "essential" else optional
        target[row["occupationUri"]].append(index[short(row["skillUri"])])
    occupations = [
        [
            short(row["conceptUri"]),
            clean(row["preferredLabel"]),
            row["iscoGroup"],
            " ".join(essential.get(row["conceptUri"], [])),
            " ".join(optional.get(row["conceptUri"], [])),
        ]
        for row in rows(classification, "occupations_en.csv")
    ]
    write("occupations.tsv.gz", sorted(occupations))

    broader = [
        [short(row["conceptUri"]), short(row["broaderUri"])]
        for row in rows(relations, "broaderRelationsSkillPillar.csv")
    ]
    write("skill_broader.tsv.gz", sorted(broader))


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        raise SystemExit(
            "usage: build_esco_data.py ESCO_DIR  (the folder holding the two ESCO v1.1.1 "
            "CSV zips from https://esco.ec.europa.eu/en/use-esco/download)"
        )
    main(Path(sys.argv[1]))
