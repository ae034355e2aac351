from interlocality.common.runner import serve
from interlocality.notifications.app import create_app

serve("notifications", create_app)
