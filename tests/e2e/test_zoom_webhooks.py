"""Live telehealth (issue 12): Zoom's signed webhooks reach the open diary within 15 s, without a reload.

Zoom's deliveries are sent over real HTTP to the live server, signed with the connection's secret token, as Zoom
would; the meeting itself is made in the local Zoom emulator.
"""

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from scheduling.services import appointment_book
from telehealth import services
from telehealth.models import MeetingState
from tests.e2e.conftest import PRACTICE_ZONE, diary_url, login, open_panel, panel, shot

SECRET = "e2e-webhook-token"
WITHIN = 15_000  # ms: the "within 15 s of the event"


def deliver(live_server, event: str, meeting, *, participant: str = "") -> None:
    obj = {"id": str(meeting.zoom_id), "uuid": "e2eUuid==", "host_id": "h"}
    if participant:
        obj["participant"] = {"user_name": "Casey Client", "participant_uuid": participant}
    body = json.dumps({"event": event, "event_ts": int(time.time() * 1000),
                       "payload": {"account_id": "acc", "object": obj}}).encode()
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    response = requests.post(f"{live_server.url}/webhooks/zoom/", data=body, timeout=10, headers={
        "Content-Type": "application/json", "x-zm-request-timestamp": stamp, "x-zm-signature": signature})
    assert response.status_code == 200, response.text


@pytest.fixture
def today_telehealth(alice_zoom, admin_user, front_desk, practitioner_a, telehealth_location, appointment_type,
                     client_record):
    """Casey's telehealth appointment with Alice later today, with Zoom webhooks set up for Alice's app."""
    now = datetime.now(PRACTICE_ZONE)
    starts_at = (now + timedelta(minutes=45)).replace(second=0, microsecond=0)
    starts_at -= timedelta(minutes=starts_at.minute % 15)
    if starts_at.date() != now.date():
        pytest.skip("too close to midnight in Sydney for an appointment later today")
    services.webhook_secret_set(actor=admin_user, secret=SECRET, connection=alice_zoom)
    appointment = appointment_book(
        actor=front_desk, client=client_record, practitioner=practitioner_a, location=telehealth_location,
        appointment_type=appointment_type, starts_at=starts_at, ends_at=None, is_telehealth=True,
    ).appointment
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE, appointment.zoom_meeting.last_error
    return appointment


def test_client_waiting_shows_on_the_open_diary_and_clears_when_admitted(page, live_server, front_desk,
                                                                         today_telehealth):
    appointment = today_telehealth
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, datetime.now(PRACTICE_ZONE).date()))
    page.evaluate("() => { window.e2eNoReload = true; }")
    block = page.locator(f'.diary a.appt[href$="/appointments/{appointment.pk}/"]')
    expect(block.locator(".badge.zoom")).to_have_text("Zoom")

    deliver(live_server, "meeting.participant_joined_waiting_room", appointment.zoom_meeting, participant="p1")
    waiting = block.locator(".badge.waiting")
    expect(waiting).to_have_text(f"Client waiting since {datetime.now(PRACTICE_ZONE):%H:%M}", timeout=WITHIN)
    assert page.evaluate("() => window.e2eNoReload") is True  # the same page: no reload
    block.scroll_into_view_if_needed()
    shot(page, "webhooks-01-client-waiting")

    box = open_panel(page, block)
    expect(box.locator(".telehealth-box")).to_contain_text("Client waiting since")
    deliver(live_server, "meeting.participant_admitted", appointment.zoom_meeting, participant="p1")
    expect(waiting).to_have_count(0, timeout=WITHIN)
    expect(box.locator(".telehealth-box .badge.waiting")).to_have_count(0, timeout=WITHIN)

    deliver(live_server, "meeting.started", appointment.zoom_meeting)
    expect(block.locator(".badge.live")).to_have_text("In progress", timeout=WITHIN)
    expect(box.locator(".telehealth-box .badge.live")).to_have_text("In progress", timeout=WITHIN)
    assert page.evaluate("() => window.e2eNoReload") is True
    shot(page, "webhooks-04-in-progress-panel")


def test_a_meeting_deleted_in_zoom_shows_and_recreate_works(page, live_server, front_desk, today_telehealth, zoom):
    appointment = today_telehealth
    old = appointment.zoom_meeting
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, datetime.now(PRACTICE_ZONE).date()))
    block = page.locator(f'.diary a.appt[href$="/appointments/{appointment.pk}/"]')

    deliver(live_server, "meeting.deleted", old)
    expect(block.locator(".badge.bad")).to_have_text("Deleted in Zoom", timeout=WITHIN)
    box = open_panel(page, block)
    expect(box).to_contain_text("deleted in Zoom, outside the app")
    shot(page, "webhooks-02-deleted-in-zoom")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "webhooks-03-deleted-in-zoom-phone")
    page.set_viewport_size({"width": 1366, "height": 768})

    panel(page).get_by_role("button", name="Re-create").click()
    expect(page.locator(".messages")).to_contain_text("the Zoom meeting is being created")
    appointment.refresh_from_db()
    assert appointment.zoom_meeting_id != old.pk
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    expect(block.locator(".badge.zoom")).to_have_text("Zoom")


# The browser's Notification API, replaced before the page's scripts run: permission is granted on request (and
# remembered, as a browser does) and each notification is recorded (headless Chromium shows none).
FAKE_NOTIFICATIONS = """
window.e2eNotes = [];
class FakeNotification {
  constructor(title, options) { window.e2eNotes.push({ title: title, body: (options || {}).body }); }
}
// A browser remembers the permission per site: so does this stand-in, across reloads.
FakeNotification.permission = window.localStorage.getItem("e2eNotificationPermission") || "default";
FakeNotification.requestPermission = function () {
  FakeNotification.permission = "granted";
  window.localStorage.setItem("e2eNotificationPermission", "granted");
  return Promise.resolve("granted");
};
window.Notification = FakeNotification;
"""


def test_a_practitioner_who_opted_in_is_notified_when_their_client_waits(page, live_server, practitioner_a,
                                                                        today_telehealth):
    appointment = today_telehealth
    page.add_init_script(FAKE_NOTIFICATIONS)
    login(page, live_server, practitioner_a.user)
    page.goto(diary_url(live_server, datetime.now(PRACTICE_ZONE).date()))
    opt_in = page.get_by_role("button", name="Notify me when my client waits")
    opt_in.click()
    expect(page.get_by_role("button", name="Waiting-room notifications on")).to_have_attribute("aria-pressed", "true")

    deliver(live_server, "meeting.participant_joined_waiting_room", appointment.zoom_meeting, participant="p9")
    page.wait_for_function("() => window.e2eNotes.length === 1", timeout=WITHIN)
    note = page.evaluate("() => window.e2eNotes[0]")
    assert note["title"] == "Your telehealth client is waiting"
    assert "Client waiting since" in note["body"] and "Casey" not in note["body"]  # no client name on screen
    page.wait_for_timeout(11_000)  # the next poll: the same waiting client does not notify twice
    assert page.evaluate("() => window.e2eNotes.length") == 1

    page.reload()  # the choice is kept in this browser
    expect(page.get_by_role("button", name="Waiting-room notifications on")).to_be_visible()


def test_the_front_desk_has_no_opt_in_button(page, live_server, front_desk, today_telehealth):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, datetime.now(PRACTICE_ZONE).date()))
    expect(page.locator("#zoom-notify")).to_have_count(0)


def test_the_emulator_reports_the_waiting_room_and_a_deletion_to_the_open_diary(page, live_server, front_desk,
                                                                                today_telehealth, zoom):
    """The `make run` flow: the Zoom emulator itself sends the signed webhooks (devtools/zoom_emulator.py)."""
    appointment = today_telehealth
    meeting = appointment.zoom_meeting
    zoom.webhook_url, zoom.webhook_secret = f"{live_server.url}/webhooks/zoom/", SECRET
    try:
        login(page, live_server, front_desk)
        page.goto(diary_url(live_server, datetime.now(PRACTICE_ZONE).date()))
        page.evaluate("() => { window.e2eNoReload = true; }")
        block = page.locator(f'.diary a.appt[href$="/appointments/{appointment.pk}/"]')

        zoom.simulate(meeting.zoom_id, "waiting")
        expect(block.locator(".badge.waiting")).to_contain_text("Client waiting since", timeout=WITHIN)
        zoom.simulate(meeting.zoom_id, "admitted")
        expect(block.locator(".badge.waiting")).to_have_count(0, timeout=WITHIN)
        zoom.simulate(meeting.zoom_id, "deleted")
        expect(block.locator(".badge.bad")).to_have_text("Deleted in Zoom", timeout=WITHIN)
        assert page.evaluate("() => window.e2eNoReload") is True
        assert {entry["status"] for entry in zoom.flush_webhooks()} == {200}
    finally:
        zoom.flush_webhooks()
        zoom.webhook_url = zoom.webhook_secret = ""
