from interlocality.analytics.app import create_app
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.common.runner import serve

serve(AnalyticsSettings, create_app)
