from interlocality.matching.domain import RequiredSkill, permit_flag, score_pair

PYTHON = "http://data.europa.eu/esco/skill/python"
SQL = "http://data.europa.eu/esco/skill/sql"
GIT = "http://data.europa.eu/esco/skill/git"


def test_no_shared_skill_is_no_match() -> None:
    assert score_pair({GIT: 5}, [RequiredSkill(PYTHON), RequiredSkill(SQL)]) is None


def test_full_coverage_at_the_required_level_scores_one() -> None:
    result = score_pair({PYTHON: 3, SQL: 4}, [RequiredSkill(PYTHON, 3), RequiredSkill(SQL, 2)])
    assert result is not None
    assert result.score == 1.0
    assert result.matched == (PYTHON, SQL)
    assert result.missing == ()


def test_missing_skills_and_low_levels_lower_the_score() -> None:
    result = score_pair({PYTHON: 2}, [RequiredSkill(PYTHON, 4), RequiredSkill(SQL, 1)])
    assert result is not None
    assert result.score == 0.25  # half credit for Python at level 2 of 4, nothing for SQL
    assert result.missing == (SQL,)


def test_a_vacancy_without_requirements_matches_nobody() -> None:
    assert score_pair({PYTHON: 5}, []) is None


def test_a_student_job_over_the_permitted_hours_is_flagged() -> None:
    flag = permit_flag(kind="student_job", vacancy_hours=37, permitted_hours=20.8, country="DK")
    assert (
        flag
        == "the job's 37 h a week exceed the 20.8 h a week this student may work in term (DK rules)"
    )
    assert permit_flag(kind="student_job", vacancy_hours=20, permitted_hours=20.8) is None
    assert permit_flag(kind="student_job", vacancy_hours=37, permitted_hours=None) is None
    assert permit_flag(kind="internship", vacancy_hours=37, permitted_hours=16) is None
