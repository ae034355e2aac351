from interlocality.analytics.app import create_app
from interlocality.common.runner import serve

serve("analytics", create_app)
