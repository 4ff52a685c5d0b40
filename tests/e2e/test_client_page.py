"""Issue 11: the client's page in a browser, at phone and desktop sizes, with axe-core on each state.

A client opens their link, the desk moves the telehealth appointment (R7: a new Zoom meeting), and the same link's
Join goes to the new meeting; the client confirms another appointment (its diary block shows it) and cancels it
outside the notice window (the Zoom meeting is deleted, the slot frees); inside the window cancel is refused with
the practice's phone.
"""

from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment, Status
from scheduling.services import appointment_book, client_link_mint
from telehealth.models import MeetingState
from tests.e2e.conftest import PRACTICE_ZONE, diary_url, local, login, save_move
from tests.e2e.test_accessibility import page_problems
from tests.zoom_fixtures import zoom_meetings

SIZES = [pytest.param((390, 844), id="phone"), pytest.param((1366, 768), id="desktop")]


def _path(url: str) -> str:
    return url[url.index("/c/"):]


def _soon() -> datetime:
    """A start 5 to 10 minutes from now, on five minutes: the video call is open (from 15 minutes before), and
    still after a move 5 minutes later."""
    now = datetime.now(PRACTICE_ZONE).replace(second=0, microsecond=0)
    return now + timedelta(minutes=10 - now.minute % 5)


@pytest.mark.parametrize("size", SIZES)
def test_the_client_joins_after_a_move_confirms_and_cancels(
    page, browser, live_server, size, alice_zoom, zoom, practice, front_desk, practitioner_a, telehealth_location,
    appointment_type, client_record, booking_day,
):
    width, height = size
    practice.phone = "02 9000 1234"
    practice.save()
    page.set_viewport_size({"width": width, "height": height})
    problems: list[str] = []

    def check(name: str) -> None:
        problems.extend(page_problems(page, name, width))

    def book(starts_at: datetime) -> Appointment:
        appointment = appointment_book(
            actor=front_desk, client=client_record, practitioner=practitioner_a, location=telehealth_location,
            appointment_type=appointment_type, starts_at=starts_at, ends_at=None, is_telehealth=True).appointment
        appointment.refresh_from_db()
        assert appointment.zoom_meeting.state == MeetingState.ACTIVE
        return appointment

    soon = book(_soon())
    later = book(local(booking_day + timedelta(days=7), time(10)))  # a week after next Monday: outside 24 h
    soon_link = _path(client_link_mint(soon))
    later_link = _path(client_link_mint(later))

    # 1. The client opens the link from their message: first name, Telehealth, Join.
    page.goto(f"{live_server.url}{soon_link}")
    expect(page.locator("h1")).to_have_text("Hi Casey, your appointment")
    expect(page).to_have_title("Your appointment · Test Practice")
    expect(page.locator(".client-facts")).to_contain_text("Telehealth (online)")
    expect(page.locator("body")).not_to_contain_text("Client")  # the surname
    # Inside the notice window: no cancel button, the phone instead.
    expect(page.get_by_role("link", name="Cancel appointment…")).to_have_count(0)
    expect(page.locator(".client-actions")).to_contain_text("please call us on 02 9000 1234")
    check("client-page")
    first_meeting = soon.zoom_meeting
    page.get_by_role("link", name="Join video call").click()
    expect(page).to_have_url(first_meeting.join_url)
    expect(page.locator("body")).to_contain_text("Joined meeting")

    # 2. The desk moves it 5 minutes later (R7): a new Zoom meeting, the old link dead.
    desk = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-AU",
                               timezone_id="Australia/Sydney")
    desk_page = desk.new_page()
    login(desk_page, live_server, front_desk)
    desk_page.goto(f"{live_server.url}/appointments/{soon.pk}/")
    desk_page.locator("summary", has_text="Move or change time").click()
    moved_to = soon.starts_at.astimezone(PRACTICE_ZONE) + timedelta(minutes=5)
    desk_page.locator("#id_date").fill(moved_to.date().isoformat())
    desk_page.locator("#id_start_time").fill(f"{moved_to:%H:%M}")
    save_move(desk_page)
    expect(desk_page.locator(".messages")).to_contain_text("Appointment moved")
    soon.refresh_from_db()
    new_meeting = soon.zoom_meeting
    assert soon.starts_at == moved_to
    assert new_meeting.state == MeetingState.ACTIVE and new_meeting.pk != first_meeting.pk
    assert first_meeting.zoom_id not in zoom_meetings(zoom)

    # 3. The same link joins the new meeting.
    page.goto(f"{live_server.url}{soon_link}")
    page.get_by_role("link", name="Join video call").click()
    expect(page).to_have_url(new_meeting.join_url)
    expect(page.locator("body")).to_contain_text("Joined meeting")

    # 4. The client confirms the other appointment; its block in the diary shows it.
    page.goto(f"{live_server.url}{later_link}")
    page.get_by_role("button", name="Confirm I will attend").click()
    expect(page.locator(".client-status")).to_have_text("✓ You have confirmed this appointment.")
    check("client-page-confirmed")
    desk_page.goto(diary_url(live_server, booking_day + timedelta(days=7)))
    block = desk_page.locator(f'.diary a.appt[href="/appointments/{later.pk}/"]')
    expect(block.locator(".cf")).to_have_attribute("title", "Confirmed")

    # 5. ...and cancels it, outside the window: asked first, then the meeting goes and the slot frees.
    page.get_by_role("link", name="Cancel appointment…").click()
    expect(page.locator(".client-cancel-confirm")).to_contain_text("Cancel this appointment?")
    check("client-page-cancel-step")
    page.get_by_role("button", name="Yes, cancel the appointment").click()
    expect(page.locator(".client-status")).to_contain_text("This appointment is cancelled.")
    check("client-page-cancelled")
    later.refresh_from_db()
    assert later.status == Status.CANCELLED
    assert later.zoom_meeting is None or later.zoom_meeting.state != MeetingState.ACTIVE
    assert all(meeting["id"] != later.zoom_meeting_id for meeting in zoom_meetings(zoom).values())
    assert sorted(zoom_meetings(zoom)) == [new_meeting.zoom_id]
    desk_page.reload()
    expect(desk_page.locator(f'.diary a.appt[href="/appointments/{later.pk}/"]')).to_have_count(0)
    desk_page.goto(f"{live_server.url}/attention/")
    expect(desk_page.locator(".attention-list")).to_contain_text("Cancelled by the client (link)")
    desk.close()

    # 6. A wrong code: a plain page with the phone.
    response = page.goto(f"{live_server.url}/c/aaaaaaaaaaaaa")
    assert response is not None and response.status == 404
    expect(page.locator("body")).to_contain_text("02 9000 1234")
    check("client-page-not-found")
    assert not problems, "\n".join(problems)
