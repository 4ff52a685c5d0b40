"""The Zoom emulator sends signed webhooks (issue 12, item 5): the app's endpoint accepts them and applies them,
and simulated joins (the dev page, ``zoom_simulate``) reach the diary's meeting row."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from devtools.zoom_emulator import DEMO_WEBHOOK_SECRET
from telehealth import services
from telehealth.models import MeetingState, WebhookEvent, ZoomMeeting
from tests.telehealth.conftest import START

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def webhooks_to(zoom):
    """Point the (session-wide) emulator's webhooks somewhere for one test."""

    def _to(url: str, secret: str = DEMO_WEBHOOK_SECRET) -> None:
        zoom.webhook_url, zoom.webhook_secret = url, secret

    yield _to
    zoom.flush_webhooks()
    zoom.webhook_url = zoom.webhook_secret = ""


@pytest.fixture
def booked(alice_zoom, admin_user, practitioner_a, tele_book):
    """Alice's own app has the demo webhook secret token; a telehealth appointment with its Zoom meeting."""
    services.webhook_secret_set(actor=admin_user, secret=DEMO_WEBHOOK_SECRET, connection=alice_zoom)

    def _book():
        meeting = tele_book(practitioner_a, START + timedelta(days=1)).zoom_meeting
        assert meeting.state == MeetingState.ACTIVE
        return meeting

    return _book


def fresh(meeting: ZoomMeeting) -> ZoomMeeting:
    return ZoomMeeting.objects.get(pk=meeting.pk)


@pytest.mark.django_db(transaction=True)
def test_the_emulators_signed_webhooks_are_accepted_and_applied_by_the_app(live_server, zoom, webhooks_to, booked):
    webhooks_to(f"{live_server.url}/webhooks/zoom/")
    meeting = booked()
    zoom.simulate(meeting.zoom_id, "waiting")
    log = zoom.flush_webhooks()

    assert [(entry["event"], entry["status"]) for entry in log] == [
        ("meeting.created", 200), ("meeting.participant_joined_waiting_room", 200)]
    assert fresh(meeting).waiting_since is not None  # verified, recorded and applied by the app
    recorded = WebhookEvent.objects.get(event="meeting.participant_joined_waiting_room")
    assert "Demo Client" not in str(recorded.facts)  # the participant's name is never kept

    zoom.simulate(meeting.zoom_id, "admitted")
    zoom.flush_webhooks()
    assert fresh(meeting).waiting_since is None

    zoom.simulate(meeting.zoom_id, "started")
    zoom.flush_webhooks()
    assert fresh(meeting).live_state == "started"

    zoom.simulate(meeting.zoom_id, "deleted")
    zoom.flush_webhooks()
    gone = fresh(meeting)
    assert gone.state == MeetingState.DELETED and gone.deleted_in_zoom_at is not None
    assert all(entry["status"] == 200 for entry in zoom.flush_webhooks())


@pytest.mark.django_db(transaction=True)
def test_the_emulators_own_changes_echo_back_and_change_nothing(live_server, zoom, webhooks_to, booked,
                                                                 front_desk, committed):
    from scheduling.models import Appointment
    from scheduling.services import appointment_cancel

    webhooks_to(f"{live_server.url}/webhooks/zoom/")
    meeting = booked()
    appointment = Appointment.objects.get(zoom_meeting=meeting)
    committed(appointment_cancel, actor=front_desk, appointment=appointment, reason="Client cancelled")
    log = zoom.flush_webhooks()
    assert [entry["event"] for entry in log] == ["meeting.created", "meeting.deleted"]
    row = fresh(meeting)
    assert row.state == MeetingState.DELETED and row.deleted_in_zoom_at is None  # our own delete, not Zoom's


@pytest.mark.django_db(transaction=True)
def test_a_webhook_signed_with_another_secret_is_refused(live_server, zoom, webhooks_to, booked):
    webhooks_to(f"{live_server.url}/webhooks/zoom/", secret="not-the-apps-secret")
    meeting = booked()
    zoom.simulate(meeting.zoom_id, "waiting")
    assert {entry["status"] for entry in zoom.flush_webhooks()} == {401}
    assert fresh(meeting).waiting_since is None


def test_without_a_webhook_secret_nothing_is_sent_and_the_rest_works(zoom, booked):
    meeting = booked()
    assert zoom.simulate(meeting.zoom_id, "waiting")["sent"] is False
    assert zoom.flush_webhooks() == []


def test_the_dev_page_lists_meetings_and_plays_events(zoom, booked):
    meeting = booked()
    page = requests.get(f"{zoom.base_url}/__emulator/", timeout=5)
    assert page.status_code == 200 and meeting.formatted_id in page.text and "No webhook URL" in page.text
    played = requests.post(f"{zoom.base_url}/__emulator/meetings/{meeting.zoom_id}/simulate/waiting",
                           data={"go": "1"}, timeout=5)
    assert played.status_code == 200 and "participant_joined_waiting_room played" in played.text
    unknown = requests.post(f"{zoom.base_url}/__emulator/meetings/123/simulate/waiting", timeout=5)
    assert unknown.status_code == 404


def test_zoom_simulate_drives_the_emulator(zoom, booked):
    meeting = booked()
    out = StringIO()
    call_command("zoom_simulate", "waiting", *meeting.formatted_id.split(), stdout=out)
    assert "no webhook URL" in out.getvalue()
    assert meeting.zoom_id in zoom.state.waiting_participant
    with pytest.raises(CommandError, match="not a Zoom meeting ID"):
        call_command("zoom_simulate", "waiting", "abc")
    with pytest.raises(CommandError, match="refused"):
        call_command("zoom_simulate", "admitted", "123")


def test_zoom_simulate_refuses_real_zoom(settings):
    settings.ZOOM_API_BASE_URL = "https://api.zoom.us/v2"
    with pytest.raises(CommandError, match="only drives the emulator"):
        call_command("zoom_simulate", "waiting", "85343217788")


def test_make_run_gives_the_emulator_the_secret_seed_demo_stores():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert f"ZOOM_EMULATOR_WEBHOOK_SECRET={DEMO_WEBHOOK_SECRET}" in makefile
    assert "ZOOM_EMULATOR_WEBHOOK_URL=http://127.0.0.1:8000/webhooks/zoom/" in makefile
