"""The matching service: scores students against open vacancies and publishes matches."""
