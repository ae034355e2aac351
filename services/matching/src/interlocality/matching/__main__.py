from interlocality.common.runner import serve
from interlocality.matching.app import create_app

serve("matching", create_app)
