from interlocality.common.runner import serve
from interlocality.profiles.app import create_app
from interlocality.profiles.settings import ProfilesSettings

serve(ProfilesSettings, create_app)
