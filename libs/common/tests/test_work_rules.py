from pathlib import Path

import pytest

from interlocality.common.work_rules import (
    RULES_DIR,
    MalformedRules,
    load_work_rules,
    permitted_work,
)


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_rules_file_loads_with_sources_and_dates(path: Path) -> None:
    rules = load_work_rules(path)
    for status in ("non_eu_student", "non_eu_graduate_job_seeker"):
        rule = getattr(rules, status)
        assert rule.source and rule.effective_from


def test_the_countries_differ_as_the_sources_say() -> None:
    allowance = {
        p.stem: permitted_work(load_work_rules(p), "non_eu_student")
        for p in RULES_DIR.glob("*.toml")
    }
    assert allowance["nl"].hours_per_week_term == 16.0
    assert allowance["de"].yearly_full_days == 140
    assert allowance["fi"].hours_per_week_term == 30.0
    assert permitted_work(load_work_rules(RULES_DIR / "de.toml"), "eu_eea_citizen").unrestricted


def test_a_bad_value_is_refused_naming_its_line(tmp_path: Path) -> None:
    text = (
        (RULES_DIR / "nl.toml")
        .read_text()
        .replace("hours_per_week_term = 16.0", "hours_per_week_term = 90")
    )
    broken = tmp_path / "nl.toml"
    broken.write_text(text)
    line = next(
        n for n, row in enumerate(text.splitlines(), start=1) if "hours_per_week_term = 90" in row
    )
    with pytest.raises(MalformedRules, match=rf"line {line}: non_eu_student.hours_per_week_term"):
        load_work_rules(broken)


def test_broken_toml_is_refused_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "dk.toml"
    broken.write_text('country = "DK"\n[non_eu_student\n')
    with pytest.raises(MalformedRules, match="line 2"):
        load_work_rules(broken)


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    text = (RULES_DIR / "fi.toml").read_text()
    broken = tmp_path / "fi.toml"
    kept = [row for row in text.splitlines() if not row.startswith("source")]
    broken.write_text("\n".join(kept))
    with pytest.raises(MalformedRules, match=r"non_eu_student\.source"):
        load_work_rules(broken)
