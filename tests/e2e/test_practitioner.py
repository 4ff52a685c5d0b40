"""Practitioner journeys: working their own appointments, looking at (not changing) a colleague's."""

from datetime import time

from playwright.sync_api import expect

from scheduling.models import Status
from tests.e2e.conftest import column, diary_url, expect_message, local, login, open_panel, slot


def test_practitioner_marks_own_appointment_arrived(page, live_server, practitioner_a, practitioner_b, book,
                                                    booking_day):
    appointment = book(practitioner_a, local(booking_day, time(10)), minutes=30)
    login(page, live_server, practitioner_a.user)
    expect(page.locator("header .role")).to_have_text("Practitioner")
    page.goto(diary_url(live_server, booking_day))

    block = column(page, practitioner_a).locator("a.appt")
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    expect(block).to_contain_text("Casey Client")
    expect(block.locator(".st")).to_have_count(0)  # "Booked" is not spelled out on the block
    panel = open_panel(page, block)

    expect(panel.locator(".facts .status")).to_have_text("Booked")
    expect(panel.locator(".readonly-note")).to_have_count(0)
    expect(panel.locator("summary", has_text="Move or change time")).to_be_visible()
    panel.locator(".status-form").get_by_role("button", name="Arrived").click()

    expect_message(page, "Status set to Arrived.")
    block = column(page, practitioner_a).locator("a.appt")
    expect(block).to_have_class("appt st-arrived")
    expect(block.locator(".st")).to_have_text("Arrived")
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    appointment.refresh_from_db()
    assert appointment.status == Status.ARRIVED
    assert appointment.updated_by == practitioner_a.user


def test_practitioner_cannot_change_a_colleagues_appointment(page, live_server, practitioner_a, practitioner_b,
                                                             location, book, booking_day):
    appointment = book(practitioner_b, local(booking_day, time(10)), minutes=30)
    login(page, live_server, practitioner_a.user)
    page.goto(diary_url(live_server, booking_day))

    # Alice can see Bob's appointment and open it...
    block = column(page, practitioner_b).locator("a.appt")
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    panel = open_panel(page, block)
    expect(panel.locator(".facts")).to_contain_text("Bob Brown")
    expect(panel.locator(".readonly-note")).to_have_text(
        "You can view this appointment; only Bob Brown or the front desk can change it.")
    # ...but is offered no way to change it.
    expect(panel.locator("form")).to_have_count(0)
    expect(panel.locator("summary", has_text="Move or change time")).to_have_count(0)
    expect(panel.locator("summary", has_text="Cancel appointment")).to_have_count(0)
    expect(panel.get_by_role("button")).to_have_count(0)

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

    # The diary still shows it, unchanged, in Bob's column.
    page.reload()
    expect(column(page, practitioner_b).locator("a.appt .t")).to_have_text("10:00–10:30")
    expect(column(page, practitioner_a).locator("a.appt")).to_have_count(0)
    expect(page.locator("section.cancelled")).to_have_count(0)

    # Bob's empty slots are not booking links for her; her own are, and book into her diary only.
    expect(column(page, practitioner_b).locator("a.slot")).to_have_count(0)
    form = open_panel(page, slot(page, practitioner_a, booking_day, "15:00")).locator("form.booking-form")
    expect(form.locator("#id_practitioner option")).to_have_text(["---------", "Alice Allen"])
