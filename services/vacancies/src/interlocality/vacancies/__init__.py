"""The vacancies service: the region's companies and their vacancies."""
