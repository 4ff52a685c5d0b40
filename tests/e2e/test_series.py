"""Issue 9 booking journeys (helper "booking"): the client search's text carries into "New client", and the day
sheet, at desktop and phone sizes."""

from datetime import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import diary_url, local, login, shot

SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("typed", "fields"), [
    ("Newman", {"#id_new_first_name": "", "#id_new_last_name": "Newman"}),
    ("Jamie Newman", {"#id_new_first_name": "Jamie", "#id_new_last_name": "Newman"}),
    ("Newman, Jamie", {"#id_new_first_name": "Jamie", "#id_new_last_name": "Newman"}),
    ("0412 555 777", {"#id_new_mobile": "0412 555 777", "#id_new_last_name": ""}),
    ("jamie@example.com", {"#id_new_email": "jamie@example.com", "#id_new_last_name": ""}),
])
def test_search_text_fills_the_new_client(page, live_server, front_desk, practitioner_a, appointment_type, location,
                                          size, typed, fields):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/appointments/new/")
    form = page.locator("form.booking-form")
    form.locator("#id_client_query").fill(typed)
    form.locator("details.quick-add > summary").click()
    for selector, value in fields.items():
        expect(form.locator(selector)).to_have_value(value)
    # What the user typed in a field is never overwritten by opening it again.
    form.locator("#id_new_email").fill("kept@example.com")
    form.locator("details.quick-add > summary").click()
    form.locator("details.quick-add > summary").click()
    expect(form.locator("#id_new_email")).to_have_value("kept@example.com")


@pytest.mark.parametrize("size", SIZES)
def test_day_sheet_from_the_diary_toolbar(page, live_server, front_desk, practitioner_a, book, booking_day, size):


    book(practitioner_a, local(booking_day, time(9)))
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    page.get_by_role("link", name="Day sheet").click()
    expect(page.locator(".day-sheet h1")).to_contain_text("Alice Allen")
    expect(page.locator(".day-sheet-table tbody tr")).to_have_count(1)
    expect(page.locator(".day-sheet-table tbody tr")).to_contain_text("09:00")
    shot(page, f"day_sheet_{size[0]}")
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    shot(page, f"day_sheet_print_{size[0]}")
