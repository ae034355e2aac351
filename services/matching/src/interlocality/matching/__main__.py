from interlocality.common.runner import serve
from interlocality.matching.app import create_app
from interlocality.matching.settings import MatchingSettings

serve(MatchingSettings, create_app)
