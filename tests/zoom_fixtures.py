"""Zoom fixtures. Telehealth tests run against the local Zoom emulator over real HTTP, chosen only through the two
base URLs (ZOOM_API_BASE_URL, ZOOM_OAUTH_TOKEN_URL), exactly as a deployment would point at Zoom."""

import pytest
from django.core.cache import cache

from devtools.zoom_emulator import (
    DEFAULT_DAILY_LIMIT,
    DEFAULT_SCOPES,
    DEMO_ACCOUNT_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    start_in_thread,
)
from telehealth import services as telehealth


@pytest.fixture(scope="session")
def zoom_server():
    server = start_in_thread()
    server.webhook_url = server.webhook_secret = ""  # never from the environment: a test opts in to webhooks
    yield server
    server.stop()


@pytest.fixture
def zoom(zoom_server, settings):
    zoom_server.reset()
    zoom_server.scopes = DEFAULT_SCOPES  # a test may have withheld some
    zoom_server.daily_limit = DEFAULT_DAILY_LIMIT  # or used the day up
    cache.clear()  # cached Zoom tokens
    settings.ZOOM_API_BASE_URL = zoom_server.api_base_url
    settings.ZOOM_OAUTH_TOKEN_URL = zoom_server.token_url
    return zoom_server


@pytest.fixture
def connect(zoom, admin_user):
    """Connect a practitioner to the emulator's demo app as a Zoom user, tested like an admin would."""

    def _connect(practitioner, zoom_user: str, *, plan: int = 2, secret: str = DEMO_CLIENT_SECRET):
        if zoom.state.find_user(zoom_user) is None:
            first, _, last = practitioner.display_name.partition(" ")
            zoom.add_user(zoom_user, first, last or "X", type=plan)
        connection = telehealth.connection_save(
            actor=admin_user, practitioner=practitioner, account_id=DEMO_ACCOUNT_ID, client_id=DEMO_CLIENT_ID,
            client_secret=secret, zoom_user=zoom_user,
        )
        return telehealth.connection_test(actor=admin_user, connection=connection)

    return _connect


@pytest.fixture
def alice_zoom(connect, practitioner_a):
    return connect(practitioner_a, "alice@example.com")


def zoom_meetings(zoom) -> dict:
    """Meetings alive in the emulator, by id."""
    with zoom.lock:
        return dict(zoom.state.meetings)
