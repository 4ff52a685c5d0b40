"""Telehealth journeys: an admin connects Zoom, the front desk books and moves a telehealth appointment,
the practitioner opens the Zoom details and starts the meeting.

Zoom is the local emulator (devtools/zoom_emulator.py), chosen only through ZOOM_API_BASE_URL and
ZOOM_OAUTH_TOKEN_URL, as a deployment would point at Zoom. The live server runs in a thread of this
process, so the settings fixture reaches it; on a transactional database the after-commit Zoom calls
run for real, during the request.

Set TELEHEALTH_SHOTS=/some/dir to keep screenshots of the key screens.
"""

import re
from datetime import UTC, time

from playwright.sync_api import expect

from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from scheduling.models import Appointment
from telehealth.models import ConnectionStatus, ZoomConnection
from tests.e2e.conftest import column, diary_url, expect_message, local, login, open_panel, save_move, shot, slot

ALICE_ZOOM = "alice@example.com"
WRONG_SECRET = "not-the-demo-secret"


def utc_z(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meetings(zoom) -> dict:
    """Meetings alive in the emulator, by id."""
    with zoom.lock:
        return {meeting_id: dict(meeting) for meeting_id, meeting in zoom.state.meetings.items()}


def deleted_meetings(zoom) -> dict:
    with zoom.lock:
        return dict(zoom.state.deleted_meetings)


def test_admin_connects_zoom_and_tests_it(page, live_server, zoom, admin_user, practitioner_a, practitioner_b):
    zoom.add_user(ALICE_ZOOM, "Alice", "Allen", type=2)
    login(page, live_server, admin_user)
    page.locator("nav.mainnav").get_by_role("link", name="Options", exact=True).click()
    page.get_by_role("navigation", name="Options").get_by_role("link", name="Zoom", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/options/zoom/")
    expect(page.locator("h1")).to_have_text("Zoom connections")
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(2)
    alice_row = rows.filter(has_text="Alice Allen")
    expect(alice_row).to_contain_text("Not set up")
    alice_row.get_by_role("link", name="Set up").click()

    expect(page).to_have_url(f"{live_server.url}/options/zoom/{practitioner_a.pk}/")
    expect(page.locator("h1")).to_have_text("Zoom for Alice Allen")
    expect(page.get_by_role("button", name="Test connection")).to_have_count(0)  # nothing to test yet

    # A mistyped secret: saved, tested, and the failure says why.
    page.get_by_label("Account ID").fill(DEMO_ACCOUNT_ID)
    page.get_by_label("Client ID").fill(DEMO_CLIENT_ID)
    page.get_by_label("Client secret").fill(WRONG_SECRET)
    page.get_by_label("Zoom user").fill(ALICE_ZOOM)
    page.get_by_role("button", name="Save and test").click()

    expect_message(page, "The Zoom connection failed:")
    expect(page.locator(".messages")).to_contain_text("Invalid client_id or client_secret")
    facts = page.locator("dl.facts")
    expect(facts.locator(".status")).to_have_text("Failing")
    expect(facts).to_contain_text("Invalid client_id or client_secret")
    expect(page.get_by_label("Client secret")).to_have_value("")
    assert WRONG_SECRET not in page.content()
    shot(page, "01-admin-zoom-wrong-secret", "TELEHEALTH_SHOTS")

    # The right secret: the rest of the form kept what was entered.
    expect(page.get_by_label("Account ID")).to_have_value(DEMO_ACCOUNT_ID)
    expect(page.get_by_label("Client ID")).to_have_value(DEMO_CLIENT_ID)
    expect(page.get_by_label("Zoom user")).to_have_value(ALICE_ZOOM)
    page.get_by_label("Client secret").fill(DEMO_CLIENT_SECRET)
    page.get_by_role("button", name="Save and test").click()

    expect_message(page, "Connected to Zoom as Alice Allen (alice@example.com), Licensed plan.")
    expect(page.locator(".msg-error")).to_have_count(0)
    expect(facts.locator(".status")).to_have_text("Connected")
    expect(facts).to_contain_text("Alice Allen · alice@example.com")
    expect(facts).to_contain_text("Licensed")
    expect(facts).not_to_contain_text("Invalid client_id")
    shot(page, "02-admin-zoom-connected", "TELEHEALTH_SHOTS")

    # The secret is never sent back, not even after a reload.
    page.reload()
    expect(page.get_by_label("Client secret")).to_have_value("")
    expect(page.locator(".field", has=page.get_by_label("Client secret"))).to_contain_text("A secret is stored.")
    assert DEMO_CLIENT_SECRET not in page.content()

    # "Test connection" tests what is stored.
    page.get_by_role("button", name="Test connection").click()
    expect_message(page, "Connected to Zoom as Alice Allen (alice@example.com), Licensed plan.")

    page.get_by_role("link", name="All connections").click()
    expect(page).to_have_url(f"{live_server.url}/options/zoom/")
    alice_row = page.locator("table.table tbody tr").filter(has_text="Alice Allen")
    expect(alice_row.locator(".status")).to_have_text("Connected")
    expect(alice_row).to_contain_text("alice@example.com")
    expect(alice_row).to_contain_text("Licensed")
    expect(alice_row.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.locator("table.table tbody tr").filter(has_text="Bob Brown")).to_contain_text("Not set up")
    assert DEMO_CLIENT_SECRET not in page.content()
    shot(page, "03-admin-zoom-list", "TELEHEALTH_SHOTS")

    connection = ZoomConnection.objects.get(practitioner=practitioner_a)
    assert connection.status == ConnectionStatus.CONNECTED
    assert DEMO_CLIENT_SECRET not in connection.client_secret_encrypted  # stored encrypted
    tokens = zoom.calls("POST", "/oauth/token")
    assert [call["status"] for call in tokens] == [400, 200]  # the wrong secret, then the right one


def test_front_desk_books_moves_and_reassigns_a_telehealth_appointment(
    page, live_server, zoom, alice_zoom, front_desk, practitioner_a, practitioner_b, telehealth_location,
    appointment_type, client_record, booking_day,
):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice, bob = column(page, practitioner_a), column(page, practitioner_b)

    # 1. Book Alice's 10:00 as telehealth: ticking it switches the location to Telehealth.
    form = open_panel(page, slot(page, practitioner_a, booking_day, "10:00")).locator("form.booking-form")
    form.locator("#id_client_query").fill("Casey")
    form.locator("#client-matches").get_by_role("radio", name="Casey Client").check()
    form.locator("#id_appointment_type").select_option(label="Standard")
    expect(form.locator("#id_location option:checked")).to_have_text("Clinic")
    expect(form.locator(".field", has=page.locator("#id_is_telehealth"))).to_contain_text(
        "Available for: Alice Allen.")
    form.locator("#id_is_telehealth").check()
    expect(form.locator("#id_location option:checked")).to_have_text("Telehealth")
    shot(page, "04-front-desk-booking-telehealth", "TELEHEALTH_SHOTS")
    form.get_by_role("button", name="Book appointment").click()

    expect_message(page, "Booked Casey Client with Alice Allen at 10:00.")
    block = alice.locator("a.appt")
    expect(block).to_have_count(1)
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    expect(block.locator(".badges .badge")).to_have_text("Zoom")
    shot(page, "05-front-desk-diary-zoom-badge", "TELEHEALTH_SHOTS")

    appointment = Appointment.objects.select_related("zoom_meeting", "location").get()
    assert appointment.is_telehealth and appointment.location == telehealth_location
    live = meetings(zoom)
    assert list(live) == [appointment.zoom_meeting.zoom_id]
    first = live[appointment.zoom_meeting.zoom_id]
    assert first["start_time"] == utc_z(local(booking_day, time(10)))
    assert first["duration"] == 30
    assert first["host_email"] == ALICE_ZOOM
    [create] = zoom.calls("POST", "/meetings")
    assert create["json"]["start_time"] == utc_z(local(booking_day, time(10)))  # sent as UTC with Z
    assert create["json"]["timezone"] == "Australia/Sydney"
    assert "Casey" not in create["json"]["topic"]  # no client name goes to Zoom

    # 2. Move it to 11:00: the meeting is re-created (R7) and the desk is told what that means.
    panel = open_panel(page, block)
    expect(panel.locator(".telehealth-box")).to_contain_text(f"Meeting {appointment.zoom_meeting.formatted_id}")
    # Were the meeting still being made, the panel would reload itself once it is ready: wait for that first.
    expect(panel.locator(".telehealth-box[hx-get]")).to_have_count(0)
    panel.locator("details.section > summary", has_text="Move or change time").click()
    panel.locator("#id_start_time").fill("11:00")
    save_move(panel)

    expect_message(page, "Appointment moved.")
    r7 = page.locator(".messages .msg", has_text="The Zoom meeting was re-created for the new time")
    expect(r7).to_contain_text("The old link, meeting ID and passcode no longer work.")
    expect(r7.get_by_role("button", name="Send new details by SMS")).to_be_visible()
    expect(r7.get_by_role("button", name="Send new details by email")).to_be_visible()
    block = alice.locator("a.appt")
    expect(block.locator(".t")).to_have_text("11:00–11:30")
    expect(block.locator(".badges .badge")).to_have_text("Zoom")
    shot(page, "06-front-desk-moved-r7", "TELEHEALTH_SHOTS")

    appointment.refresh_from_db()
    live = meetings(zoom)
    assert first["id"] not in live
    assert first["id"] in deleted_meetings(zoom)
    assert list(live) == [appointment.zoom_meeting.zoom_id]
    assert live[appointment.zoom_meeting.zoom_id]["start_time"] == utc_z(local(booking_day, time(11)))

    # 3. Move it to Bob: telehealth does not follow (R8), the meeting is deleted and the desk is told.
    panel = open_panel(page, block)
    panel.locator("details.section > summary", has_text="Move or change time").click()
    panel.locator("#id_practitioner").select_option(label="Bob Brown")
    save_move(panel)

    expect_message(page, "Appointment moved.")
    expect(page.locator(".messages .msg-warning")).to_contain_text(
        "Telehealth is not supported when an appointment moves to another practitioner")
    expect(page.locator(".messages")).not_to_contain_text("re-created")
    expect(alice.locator("a.appt")).to_have_count(0)
    block = bob.locator("a.appt")
    expect(block.locator(".t")).to_have_text("11:00–11:30")
    expect(block.locator(".badge")).to_have_count(0)
    shot(page, "07-front-desk-moved-to-bob-r8", "TELEHEALTH_SHOTS")

    appointment.refresh_from_db()
    assert appointment.practitioner == practitioner_b
    assert not appointment.is_telehealth
    assert meetings(zoom) == {}
    assert len(zoom.calls("DELETE", "/meetings/")) == 2


def test_practitioner_views_zoom_details_copies_the_link_and_starts_the_meeting(
    page, live_server, zoom, telehealth_appointment, practitioner_a, booking_day,
):
    meeting = telehealth_appointment.zoom_meeting
    in_zoom = meetings(zoom)[meeting.zoom_id]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    login(page, live_server, practitioner_a.user)
    page.goto(diary_url(live_server, booking_day))

    block = column(page, practitioner_a).locator("a.appt")
    expect(block.locator(".badges .badge")).to_have_text("Zoom")
    panel = open_panel(page, block)
    panel.get_by_role("link", name="View Zoom Details").click()

    expect(panel.locator(".panel-head h2")).to_have_text("Zoom details")
    expect(panel.locator("#zoom-meeting-id")).to_have_text(re.compile(r"^\d{3} \d{4} \d{4}$"))
    expect(panel.locator("#zoom-meeting-id")).to_have_text(meeting.formatted_id)
    assert meeting.formatted_id.replace(" ", "") == str(meeting.zoom_id)
    expect(panel.locator("#zoom-passcode")).to_have_text(in_zoom["password"])
    join = panel.locator("#zoom-join-url")
    expect(join).to_have_text(in_zoom["join_url"])
    expect(join).to_have_attribute("href", in_zoom["join_url"])
    expect(panel.locator(".zoom-facts")).to_contain_text(
        f"{booking_day:%A} {booking_day.day} {booking_day:%B %Y}, 10:00 (30 minutes)")
    shot(page, "08-practitioner-zoom-details", "TELEHEALTH_SHOTS")

    # Copy puts the join link on the clipboard.
    join_row = panel.locator("dd:has(#zoom-join-url)")
    join_row.get_by_role("button", name="Copy").click()
    expect(join_row.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == in_zoom["join_url"]

    # Start meeting opens Zoom's host page in a new tab, with a host link fetched just now.
    with page.context.expect_page() as opened:
        panel.get_by_role("link", name="Start meeting").click()
    started = opened.value
    started.wait_for_load_state()
    expect(started).to_have_url(re.compile(rf"^{re.escape(zoom.base_url)}/s/{meeting.zoom_id}\?zak="))
    expect(started.locator("h1")).to_have_text(f"Started meeting {meeting.formatted_id} as host (Zoom emulator)")
    shot(started, "09-practitioner-started-meeting")
    started.close()
    assert meetings(zoom)[meeting.zoom_id]["status"] == "started"
    assert zoom.calls("GET", f"/meetings/{meeting.zoom_id}")[-1]["status"] == 200


def test_front_desk_sees_zoom_details_without_start(
    page, live_server, zoom, telehealth_appointment, front_desk, practitioner_a, booking_day,
):
    meeting = telehealth_appointment.zoom_meeting
    in_zoom = meetings(zoom)[meeting.zoom_id]
    reads = len(zoom.calls("GET", f"/meetings/{meeting.zoom_id}"))  # the read-back after creating it
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))

    panel = open_panel(page, column(page, practitioner_a).locator("a.appt"))
    panel.get_by_role("link", name="View Zoom Details").click()

    expect(panel.locator(".panel-head h2")).to_have_text("Zoom details")
    expect(panel.locator("#zoom-meeting-id")).to_have_text(meeting.formatted_id)
    expect(panel.locator("#zoom-passcode")).to_have_text(in_zoom["password"])
    expect(panel.locator("#zoom-join-url")).to_have_text(in_zoom["join_url"])
    expect(panel.get_by_role("button", name="Copy")).to_have_count(3)
    expect(panel.get_by_role("link", name="Start meeting")).to_have_count(0)
    expect(panel).not_to_contain_text("Start meeting")
    assert "zak=" not in page.content()
    shot(page, "10-front-desk-zoom-details", "TELEHEALTH_SHOTS")

    # The host link is refused to the desk even when asked for directly.
    response = page.request.get(f"{live_server.url}/appointments/{telehealth_appointment.pk}/zoom/start/",
                                max_redirects=0)
    assert response.status == 404
    assert len(zoom.calls("GET", f"/meetings/{meeting.zoom_id}")) == reads  # no host link was fetched
