from pathlib import Path

from interlocality.common.esco import DATA_DIR, ESCO_NOTICE, default_vocabulary

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def test_the_shipped_cut_holds_every_skill_and_occupation() -> None:
    vocabulary = default_vocabulary()
    assert len(vocabulary.skills) == 13_896
    assert len(vocabulary.occupations) == 3_007
    assert vocabulary.label(PYTHON) == "Python (computer programming)"
    assert ESCO_NOTICE in (DATA_DIR / "NOTICE").read_text()


def test_unknown_names_only_the_uris_esco_does_not_have() -> None:
    bad = "http://data.europa.eu/esco/skill/00000000-0000-0000-0000-000000000000"
    assert default_vocabulary().unknown([PYTHON, bad, "python"]) == [bad, "python"]


def test_occupations_name_known_skills_and_the_hierarchy_is_loaded() -> None:
    vocabulary = default_vocabulary()
    developer = next(o for o in vocabulary.occupations.values() if o.label == "software developer")
    assert len(developer.essential_skills) >= 10
    assert all(uri in vocabulary for uri in developer.essential_skills)
    python = vocabulary.skill(PYTHON)
    assert python is not None and python.broader
    assert "Python3" in python.alt_labels


def test_the_groups_above_the_skills_lead_up_to_the_four_pillars() -> None:
    vocabulary = default_vocabulary()
    roots = {uri for uri, parents in vocabulary.group_broader.items() if not parents}
    assert {vocabulary.label(uri) for uri in roots} == {
        "skills",
        "knowledge",
        "transversal skills and competences",
        "language skills and knowledge",
    }
    ict = "http://data.europa.eu/esco/isced-f/06"
    assert vocabulary.group_broader[ict] and vocabulary.group_broader[ict][0] in roots


def test_suggestions_tolerate_typos() -> None:
    suggestions = default_vocabulary().suggest("pyton programing")
    assert PYTHON in [skill.uri for skill in suggestions]


def test_a_preferred_label_outranks_the_same_words_as_another_skills_alternative() -> None:
    [first, *_] = default_vocabulary().search("project management", limit=3)
    assert first[0].label == "project management"


def test_an_unknown_uri_gets_the_skills_it_was_probably_meant_as() -> None:
    vocabulary = default_vocabulary()
    typo = PYTHON[:-2] + "4f"
    assert [s.uri for s in vocabulary.suggest_for_uri(typo)][:1] == [PYTHON]
    assert [s.uri for s in vocabulary.suggest_for_uri(PYTHON.replace("http:", "https:"))] == [
        PYTHON
    ]
    worded = vocabulary.suggest_for_uri("http://data.europa.eu/esco/skill/python-programming")
    assert PYTHON in [s.uri for s in worded]
    developer = next(o for o in vocabulary.occupations.values() if o.label == "software developer")
    assert [s.uri for s in vocabulary.suggest_for_uri(developer.uri)] == list(
        developer.essential_skills[:3]
    )
    nowhere = "http://data.europa.eu/esco/skill/00000000-1111-2222-3333-444444444444"
    assert vocabulary.suggest_for_uri(nowhere) == []


def test_labels_of_another_language_load_from_the_official_csv_layout(tmp_path: Path) -> None:
    vocabulary = default_vocabulary()
    danish = tmp_path / "skills_da.csv"
    danish.write_text(
        "conceptType,conceptUri,skillType,reuseLevel,preferredLabel,altLabels\n"
        f'KnowledgeSkillCompetence,{PYTHON},knowledge,sector-specific,"Python '
        '(computerprogrammering)",\n'
        "KnowledgeSkillCompetence,http://data.europa.eu/esco/skill/unknown,knowledge,,x,\n",
        encoding="utf-8",
    )
    assert vocabulary.add_labels_from_csv(danish, "da") == 1
    assert vocabulary.label(PYTHON, "da") == "Python (computerprogrammering)"
    assert vocabulary.label(PYTHON, "fi") == "Python (computer programming)"
