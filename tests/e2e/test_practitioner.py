"""Practitioner journeys: working their own appointments, looking at (not changing) a colleague's."""

from datetime import time

import pytest
from playwright.sync_api import expect

from scheduling import services
from scheduling.models import Appointment, Status
from tests.e2e.conftest import column, diary_url, local, login, messages, panel, slot


@pytest.fixture
def book(front_desk, client_record, location, appointment_type, booking_day):
    """Book ``client_record`` at 10:00–10:30 on the booking day, as the front desk would."""

    def book(practitioner, at: time = time(10)) -> Appointment:
        starts_at = local(booking_day, at)
        return services.appointment_book(
            actor=front_desk, client=client_record, practitioner=practitioner, location=location,
            appointment_type=appointment_type, starts_at=starts_at, ends_at=starts_at.replace(minute=30),
        ).appointment

    return book


def test_practitioner_marks_own_appointment_arrived(page, live_server, practitioner_a, practitioner_b, book,
                                                    booking_day):
    appointment = book(practitioner_a)
    login(page, live_server, practitioner_a.user)
    expect(page.locator("header .role")).to_have_text("Practitioner")
    page.goto(diary_url(live_server, booking_day))

    block = column(page, practitioner_a).locator("a.appt")
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    expect(block).to_contain_text("Casey Client")
    expect(block.locator(".st")).to_have_count(0)  # "Booked" is not spelled out on the block
    block.click()

    detail = panel(page)
    expect(detail.locator(".facts .status")).to_have_text("Booked")
    expect(detail.locator(".readonly-note")).to_have_count(0)
    expect(detail.locator("summary", has_text="Move or change time")).to_be_visible()
    detail.locator(".status-form").get_by_role("button", name="Arrived").click()

    expect(messages(page)).to_contain_text("Status set to Arrived.")
    block = column(page, practitioner_a).locator("a.appt")
    expect(block).to_have_class("appt st-arrived")
    expect(block.locator(".st")).to_have_text("Arrived")
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    appointment.refresh_from_db()
    assert appointment.status == Status.ARRIVED
    assert appointment.updated_by == practitioner_a.user


def test_practitioner_cannot_change_a_colleagues_appointment(page, live_server, practitioner_a, practitioner_b,
                                                             location, book, booking_day):
    appointment = book(practitioner_b)
    login(page, live_server, practitioner_a.user)
    page.goto(diary_url(live_server, booking_day))

    # Alice can see Bob's appointment and open it...
    block = column(page, practitioner_b).locator("a.appt")
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    block.click()
    detail = panel(page)
    expect(detail.locator(".facts")).to_contain_text("Bob Brown")
    expect(detail.locator(".readonly-note")).to_have_text(
        "You can view this appointment; only Bob Brown or the front desk can change it.")
    # ...but is offered no way to change it.
    expect(detail.locator("form")).to_have_count(0)
    expect(detail.locator(".status-form")).to_have_count(0)
    expect(detail.locator("summary", has_text="Move or change time")).to_have_count(0)
    expect(detail.locator("summary", has_text="Cancel appointment")).to_have_count(0)
    expect(detail.get_by_role("button")).to_have_count(0)

    # Posting the forms anyway (a stale page, a crafted request) is refused, with her session and CSRF token.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    base = f"{live_server.url}/appointments/{appointment.pk}"
    posts = {
        "move": {"practitioner": practitioner_a.pk, "date": booking_day.isoformat(), "start_time": "15:00",
                 "duration": "30", "location": location.pk},
        "status": {"status": "arrived"},
        "cancel": {"reason": "not mine"},
    }
    for action, data in posts.items():
        response = page.request.post(f"{base}/{action}/", form=data,
                                     headers={"X-CSRFToken": csrf, "HX-Request": "true", "HX-Target": "panel"},
                                     max_redirects=0)
        assert response.status == 403, (action, response.status)

    appointment.refresh_from_db()
    assert appointment.practitioner == practitioner_b
    assert appointment.status == Status.BOOKED
    assert appointment.starts_at == local(booking_day, time(10))

    # The diary still shows it, unchanged, in Bob's column; an empty slot there books into her own diary only.
    page.reload()
    slot(page, practitioner_b, booking_day, "15:00").click()
    expect(panel(page).locator("#id_practitioner option")).to_have_text(["---------", "Alice Allen"])
    expect(column(page, practitioner_b).locator("a.appt .t")).to_have_text("10:00–10:30")
    expect(column(page, practitioner_a).locator("a.appt")).to_have_count(0)
    expect(page.locator("section.cancelled")).to_have_count(0)
