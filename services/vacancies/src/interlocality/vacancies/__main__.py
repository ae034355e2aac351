from interlocality.common.runner import serve
from interlocality.vacancies.app import create_app

serve("vacancies", create_app)
