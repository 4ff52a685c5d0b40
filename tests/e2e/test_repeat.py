"""Repeat bookings (issue 9 item 7, "Done when"): book a 6-week series with one clash shown and skipped, then
cancel "this and following" and undo it, at desktop and phone sizes."""

import re
from datetime import time, timedelta

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment, Status
from tests.e2e.conftest import diary_url, expect_message, local, login, open_panel, panel, save_move, shot, slot

SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]


def fits_the_width(element, width: int) -> bool:
    """The element lies within the viewport and nothing in it scrolls sideways (the page's top bar is laid out by
    the layout part of issue 9)."""
    box = element.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width and element.evaluate(
        "node => node.scrollWidth <= node.clientWidth")


@pytest.mark.parametrize("size", SIZES)
def test_a_six_week_series_lists_the_clash_and_books_only_the_free_dates(
        page, live_server, front_desk, practitioner_a, appointment_type, location, client_record, book,
        booking_day, size):
    from practice.models import Client

    other = Client.objects.create(first_name="Olive", last_name="Other")
    clash_day = booking_day + timedelta(weeks=2)
    taken = book(practitioner_a, local(clash_day, time(10)), client=other)
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, front_desk)
    if width > 760:
        page.goto(diary_url(live_server, booking_day))
        form = open_panel(page, slot(page, practitioner_a, booking_day, "10:00")).locator("form.booking-form")
    else:  # on a phone the form is the whole page (the slot links there)
        page.goto(f"{live_server.url}/appointments/new/?practitioner={practitioner_a.pk}"
                  f"&start={booking_day.isoformat()}T10:00")
        form = page.locator("form.booking-form")

    form.locator("#id_client_query").fill("Casey")
    form.locator("#client-matches").get_by_role("radio", name="Casey Client").check()
    form.locator("#id_appointment_type").select_option(label="Standard")
    form.locator("details.repeat > summary").click()
    form.get_by_label("Repeat every").fill("1")
    form.get_by_label("Appointments in all").fill("6")
    assert fits_the_width(form.locator("details.repeat"), width)
    shot(page, f"repeat_fieldset_{width}")
    form.get_by_role("button", name="Book appointment").click()

    # The list: every date, the clash named, nothing saved yet.
    confirm = page.locator("form.series-confirm")
    expect(confirm.locator(".series-dates li")).to_have_count(6)
    expect(confirm.locator(".series-count")).to_contain_text("5 of 6 dates free.")
    expect(confirm.locator(".series-dates li.is-clash")).to_have_count(1)
    expect(confirm.locator(".series-dates li.is-clash")).to_contain_text(
        f"{clash_day:%a} {clash_day.day} {clash_day:%b %Y}")
    expect(confirm.locator(".series-dates li.is-clash")).to_contain_text(
        "Skipped: Alice Allen already has an appointment 10:00–10:30.")
    assert Appointment.objects.count() == 1
    assert fits_the_width(confirm, width)
    # The list replaced the long form: it is shown from its heading, not from where the form was scrolled to.
    expect(page.get_by_role("heading", name="Repeat booking: check the dates")).to_be_in_viewport(ratio=1)
    shot(page, f"repeat_confirm_{width}")
    confirm.get_by_role("button", name="Book 5 free dates").click()

    expect_message(page, "Booked 5 appointments for Casey Client with Alice Allen, every week")
    expect(page.locator(".messages")).to_contain_text(f"Not booked, as listed before booking: {clash_day:%a %d %b}.")
    shot(page, f"repeat_booked_{width}")
    series = Appointment.objects.filter(series__isnull=False).order_by("starts_at")
    assert [a.starts_at for a in series] == [local(booking_day + timedelta(weeks=week), time(10))
                                             for week in (0, 1, 3, 4, 5)]
    assert Appointment.objects.filter(practitioner=practitioner_a, starts_at=taken.starts_at).count() == 1


def test_cancel_this_and_following_from_the_panel(page, live_server, front_desk, practitioner_a, book, booking_day,
                                                   client_record, location, appointment_type):
    from scheduling.services import SeriesRule, series_book

    booked = series_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, first_day=booking_day, start_time=time(10), minutes=30,
                         rule=SeriesRule(interval_weeks=1, count=4),
                         days=[booking_day + timedelta(weeks=week) for week in range(4)]).booked
    third_day = booking_day + timedelta(weeks=2)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, third_day))
    detail = open_panel(page, page.locator(f'a.appt[href$="/{booked[2].pk}/"]'))
    expect(detail.locator(".facts")).to_contain_text("Every week · 3 of 4")
    detail.locator("summary", has_text="Cancel appointment").click()
    cancel = detail.locator(f'form[action$="/{booked[2].pk}/cancel/"]')
    cancel.get_by_label("This and following").check()
    shot(page, "repeat_cancel_scope_1366")
    cancel.get_by_role("button", name="Cancel appointment").click()
    expect_message(page, "Cancelled 2 appointments of the series: this one and the following. The times are free "
                         "to book again. Undo reinstates both.")
    statuses = [a.status for a in Appointment.objects.filter(series=booked[0].series).order_by("starts_at")]
    assert statuses == [Status.BOOKED, Status.BOOKED, Status.CANCELLED, Status.CANCELLED]
    assert panel(page).count() == 1

    # Undo puts both back, through the same button as a single cancel's.
    page.locator(".messages").get_by_role("button", name=re.compile("^Undo")).click()
    expect_message(page, "Undone: the 2 appointments are booked again.")
    assert not Appointment.objects.filter(series=booked[0].series, status=Status.CANCELLED).exists()


@pytest.mark.parametrize("size", SIZES)
def test_move_this_and_following_from_the_panel_and_undo_it(page, live_server, front_desk, practitioner_a,
                                                            booking_day, client_record, location, appointment_type,
                                                            size):
    from scheduling.services import SeriesRule, series_book

    booked = series_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, first_day=booking_day, start_time=time(10), minutes=30,
                         rule=SeriesRule(interval_weeks=1, count=3),
                         days=[booking_day + timedelta(weeks=week) for week in range(3)]).booked
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    detail = open_panel(page, page.locator(f'a.appt[href$="/{booked[0].pk}/"]'))
    detail.locator("summary", has_text="Move or change time").click()
    move = detail.locator(f'form[action$="/{booked[0].pk}/move/"]')
    move.locator("#id_start_time").fill("11:00")
    move.get_by_label("This and following").check()
    save_move(move)
    expect_message(page, "Moved 3 appointments of the series: this one and the following. Undo moves all 3 back.")
    starts = [a.starts_at for a in Appointment.objects.filter(series=booked[0].series).order_by("starts_at")]
    assert starts == [local(booking_day + timedelta(weeks=week), time(11)) for week in range(3)]
    shot(page, f"repeat_move_following_undo_{size[0]}")

    page.locator(".messages").get_by_role("button", name=re.compile("^Undo")).click()
    expect_message(page, "Undone: the 3 appointments are back where they were.")
    starts = [a.starts_at for a in Appointment.objects.filter(series=booked[0].series).order_by("starts_at")]
    assert starts == [local(booking_day + timedelta(weeks=week), time(10)) for week in range(3)]


def test_a_long_list_is_shown_from_its_top_and_change_goes_back_to_the_form(
        page, live_server, front_desk, practitioner_a, appointment_type, location, client_record, booking_day):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    form = open_panel(page, slot(page, practitioner_a, booking_day, "10:00")).locator("form.booking-form")
    form.locator("#id_client_query").fill("Casey")
    form.locator("#client-matches").get_by_role("radio", name="Casey Client").check()
    form.locator("#id_appointment_type").select_option(label="Standard")
    form.locator("details.repeat > summary").click()
    form.get_by_label("Repeat every").fill("2")
    form.get_by_label("Appointments in all").fill("20")
    form.get_by_role("button", name="Book appointment").click()
    expect(page.locator(".series-dates li")).to_have_count(20)
    # The list replaced the long, scrolled form: it is shown from its heading.
    expect(page.get_by_role("heading", name="Repeat booking: check the dates")).to_be_in_viewport(ratio=1)
    assert page.evaluate("() => document.getElementById('panel').scrollTop") == 0
    page.locator("form.series-confirm").get_by_role("button", name="Change").click()
    form = page.locator("form.booking-form")
    expect(form.get_by_label("Repeat every")).to_have_value("2")
    expect(form.get_by_label("Appointments in all")).to_have_value("20")
    expect(form.locator(".chosen")).to_contain_text("Casey Client")
    assert not Appointment.objects.exists()
