from interlocality.common.runner import serve
from interlocality.profiles.app import create_app

serve("profiles", create_app)
