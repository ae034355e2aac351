from interlocality.common.runner import serve
from interlocality.vacancies.app import create_app
from interlocality.vacancies.settings import VacanciesSettings

serve(VacanciesSettings, create_app)
