from interlocality.common.runner import serve
from interlocality.notifications.app import create_app
from interlocality.notifications.settings import NotificationsSettings

serve(NotificationsSettings, create_app)
