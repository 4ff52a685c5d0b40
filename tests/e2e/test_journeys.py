"""Issue 9's first "done when" journey, at desktop and phone sizes: the front desk books a telehealth appointment
for a client who is new to the practice, from an empty slot of the diary, and sends the Zoom details by SMS from
the panel that opens on the new appointment."""

import re

import pytest
from playwright.sync_api import expect

from practice.models import Client
from scheduling.models import Appointment
from tests.e2e.conftest import diary_url, expect_message, login, open_panel, panel, shot, slot

SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]


@pytest.mark.parametrize("size", SIZES)
def test_book_telehealth_for_a_new_client_and_send_the_zoom_details(
    page, live_server, zoom, alice_zoom, credits, front_desk, practitioner_a, telehealth_location, appointment_type,
    booking_day, sms_outbox, size,
):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    form = open_panel(page, slot(page, practitioner_a, booking_day, "11:00")).locator("form.booking-form")
    form.locator("#id_client_query").fill("Newman, Jamie")
    form.locator("details.quick-add > summary").click()
    expect(form.locator("#id_new_first_name")).to_have_value("Jamie")  # carried from the search
    expect(form.locator("#id_new_last_name")).to_have_value("Newman")
    form.locator("#id_new_mobile").fill("0412 555 777")
    form.locator("#id_is_telehealth").check()
    shot(page, f"journey-new-client-telehealth-{size[0]}")
    form.get_by_role("button", name="Book appointment").click()

    expect_message(page, "Booked Jamie Newman with Alice Allen at 11:00.")
    appointment = Appointment.objects.get()
    assert appointment.is_telehealth and appointment.client == Client.objects.get(last_name="Newman")
    heading = panel(page).locator(".panel-head h2")
    expect(heading).to_be_focused()
    send = panel(page).get_by_role("button", name="Send Zoom details by SMS")
    expect(send).to_be_visible()
    send.click()

    expect_message(page, "Zoom details SMS (2 credits) to ")
    expect(page.locator(".messages .msg-success").last).to_have_text(re.compile(r"0412 555 777: Sent\."))
    [sms] = sms_outbox
    assert sms.to == "+61412555777"
    assert appointment.zoom_meeting.join_url in sms.body
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    shot(page, f"journey-zoom-details-sent-{size[0]}")
