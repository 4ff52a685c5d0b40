"""The server's half of keyboard-first booking (issue 9 items 3–5): the diary opens on what was just booked,
the page carries what the keyboard script and the current-time line need, and today opens at now."""

import re
from datetime import UTC, datetime

import time_machine
from django.urls import reverse

from scheduling.models import Appointment, AppointmentType
from tests.conftest import sydney

DAY = "2030-03-04"


def _booking(client_record, practitioner, location, appointment_type, **extra) -> dict:
    return {"client": client_record.pk, "practitioner": practitioner.pk, "date": DAY, "start_time": "10:00",
            "appointment_type": appointment_type.pk, "location": location.pk, **extra}


def test_it_opens_the_new_appointment_after_booking_from_the_panel(client, front_desk, practitioner_a, location,
                                                                   appointment_type, client_record):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"),
                           _booking(client_record, practitioner_a, location, appointment_type),
                           headers={"HX-Request": "true", "HX-Target": "panel"})
    appointment = Appointment.objects.get()
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/diary/?date={DAY}&open={appointment.pk}"
    # The diary it leads to loads that appointment into the panel.
    page = client.get(response["HX-Redirect"]).content.decode()
    assert f'data-open-url="/appointments/{appointment.pk}/"' in page


def test_it_opens_the_new_appointment_after_booking_without_javascript(client, front_desk, practitioner_a,
                                                                       location, appointment_type, client_record):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"),
                           _booking(client_record, practitioner_a, location, appointment_type))
    assert response.status_code == 302
    assert response.url == f"/diary/?date={DAY}&open={Appointment.objects.get().pk}"


def test_a_refused_booking_opens_nothing_and_keeps_the_form(client, front_desk, practitioner_a, location,
                                                            appointment_type, client_record, book):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"),
                           _booking(client_record, practitioner_a, location, appointment_type),
                           headers={"HX-Request": "true", "HX-Target": "panel"})
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Redirect" not in response
    # The error is focusable, so the page script can move focus to it.
    assert re.search(r'<div class="form-errors" role="alert" tabindex="-1"><p>Alice Allen already has', html)


def test_the_panel_heading_can_take_focus(client, front_desk, practitioner_a, book):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 9))
    client.force_login(front_desk)
    html = client.get(reverse("appointment-detail", args=[appointment.pk]),
                      headers={"HX-Request": "true", "HX-Target": "panel"}).content.decode()
    assert '<h2 id="panel-heading" tabindex="-1">Casey Client · Mon 04 Mar 09:00</h2>' in html  # names the sheet


def test_a_practice_with_one_type_has_it_chosen_in_the_booking_form(client, front_desk, practitioner_a,
                                                                    appointment_type):
    client.force_login(front_desk)
    html = client.get(reverse("appointment-new")).content.decode()
    assert f'<option value="{appointment_type.pk}" selected>' in html
    AppointmentType.objects.create(name="Long", default_duration=60)
    html = client.get(reverse("appointment-new")).content.decode()
    assert "<option value=\"\" selected>" in html


def test_the_diary_carries_the_grid_start_and_zone_for_the_now_line(client, front_desk, practice, practitioner_a):
    with time_machine.travel(datetime(2030, 3, 3, 23, 30, tzinfo=UTC), tick=False):  # 10:30 on 4 March in Sydney
        client.force_login(front_desk)  # in the travelled time: the session's idle timeout counts from here
        today = client.get(reverse("diary"), {"date": DAY}).content.decode()
        tomorrow = client.get(reverse("diary"), {"date": "2030-03-05"}).content.decode()
        week = client.get(reverse("diary-week"), {"date": DAY}).content.decode()
    # The grid starts at 07:00 (opening hours); the script draws the line in the columns marked today.
    assert 'data-first-minute="420" data-zone="Australia/Sydney" data-today="2030-03-04"' in today
    assert today.count('<div class="col today"') == 1
    assert 'class="col today"' not in tomorrow
    assert week.count('class="col today"') == 1
    assert re.search(r'<div class="col today" role="group" aria-label="Mon 04 Mar"', week)


def test_today_and_its_week_open_an_hour_before_now_another_day_before_its_working_hours(client, front_desk, practice,
                                                                                 practitioner_a):
    with time_machine.travel(datetime(2030, 3, 4, 3, 30, tzinfo=UTC), tick=False):  # 14:30 in Sydney
        client.force_login(front_desk)
        today = client.get(reverse("diary"), {"date": DAY}).content.decode()
        other = client.get(reverse("diary"), {"date": "2030-03-05"}).content.decode()
        this_week = client.get(reverse("diary-week"), {"date": DAY}).content.decode()
        next_week = client.get(reverse("diary-week"), {"date": "2030-03-11"}).content.decode()
    assert 'data-scroll-to-row="26"' in today  # 13:30 is 26 rows after 07:00
    assert 'data-scroll-to-row="4"' in other  # 08:00, an hour before the 09:00 working hours
    assert 'data-scroll-to-row="26"' in this_week
    assert 'data-scroll-to-row="0"' in next_week


def test_the_day_navigation_and_skip_link_are_marked_for_the_keyboard(client, front_desk, practitioner_a):
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY}).content.decode()
    assert '<a class="skip" href="#diary-grid" data-skip-to-grid>Skip to diary</a>' in html
    assert 'id="diary-grid"' in html
    assert re.search(r'aria-label="Previous day" aria-keyshortcuts="ArrowLeft" data-key="ArrowLeft"', html)
    assert re.search(r'aria-keyshortcuts="T" data-key="t">Today</a>', html)
    assert re.search(r'aria-label="Next day" aria-keyshortcuts="ArrowRight" data-key="ArrowRight"', html)
    # The shortcuts' help, with the URLs the shortcuts go to.
    assert '<dialog id="shortcuts"' in html
    assert 'data-new-url="/appointments/new/" data-diary-url="/diary/" data-clients-url="/clients/"' in html


def test_the_grid_sends_no_slots_only_what_the_page_script_draws_them_from(client, front_desk, practitioner_a):
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY}).content.decode()
    assert 'class="slot' not in html
    # One booking URL for the page, the first row's minute, and each column's working hours, practitioner and day.
    assert 'data-first-minute="420"' in html and 'data-book-url="/appointments/new/"' in html
    assert f'data-hours="540-1020" data-practitioner="{practitioner_a.pk}" data-date="{DAY}" data-droppable' in html
    # Without JavaScript there are no slots: the toolbar's link books.
    assert (f'<noscript><a class="btn" href="/appointments/new/?start={DAY}T07:00&amp;practitioner='
            f'{practitioner_a.pk}">New appointment</a></noscript>') in html
