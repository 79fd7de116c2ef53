"""Status pages and their API: the `status_page:` section (config), the per-minute ring of
each check's results (ring), the JSON API and request dispatch (api), the live page at /
(page) and the citizens' page at /status and its static export (public)."""

from agent.status.api import StatusService
from agent.status.config import PublicService, StatusPageConfig

__all__ = ["PublicService", "StatusPageConfig", "StatusService"]
