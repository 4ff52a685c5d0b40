from datetime import date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from practice.models import Client, Location
from scheduling.diary_html import Layout
from scheduling.models import Appointment, Status
from scheduling.selectors import DiaryEntry
from scheduling.services import appointment_cancel
from telehealth.models import MeetingState
from tests.conftest import make_practitioner, sydney

DAY = date(2030, 3, 4)
# Session, user with its roles, practice, locations, practitioners, working hours, appointments, and the SMS credit
# balance with its warning (top bar). The idle-timeout session save happens at most once a minute
# (IdleSessionMiddleware), and the top bar's Needs attention count is counted at most every few seconds
# (attention.context_processors), so a steady page view has neither: _diary_queries warms up first.
DIARY_QUERIES = 8


def _fill_day(practitioners, location, appointment_type, count: int) -> None:
    """``count`` back-to-back 15-minute appointments spread over the practitioners, from 07:00."""
    clients = Client.objects.bulk_create(Client(first_name=f"C{n}", last_name="Test") for n in range(10))
    rows = []
    for n in range(count):
        practitioner = practitioners[n % len(practitioners)]
        start = sydney(2030, 3, 4, 7) + timedelta(minutes=15 * (n // len(practitioners)))
        rows.append(Appointment(client=clients[n % 10], practitioner=practitioner, location=location,
                                appointment_type=appointment_type, starts_at=start,
                                ends_at=start + timedelta(minutes=15)))
    Appointment.objects.bulk_create(rows)


def _diary_queries(client, **params) -> tuple[int, str]:
    client.get(reverse("diary"), {"date": DAY.isoformat(), **params})  # the session's once-a-minute save
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("diary"), {"date": DAY.isoformat(), **params})
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_day_view_costs_the_same_queries_for_5_and_600_appointments(client, front_desk, practice, location,
                                                                        appointment_type):
    practitioners = [make_practitioner(f"p{n}", location) for n in range(20)]
    client.force_login(front_desk)
    _fill_day(practitioners, location, appointment_type, 5)
    few, html = _diary_queries(client)
    assert html.count('<a class="appt') == 5
    Appointment.objects.all().delete()
    _fill_day(practitioners, location, appointment_type, 600)
    many, html = _diary_queries(client)
    assert html.count('<a class="appt') == 600
    assert few == many == DIARY_QUERIES
    # The speed issue's page budget for a full day (20 x 30): no slot links, no per-block data for the scripts.
    assert len(html.encode()) <= 150 * 1024


def test_the_week_view_costs_a_fixed_number_of_queries(client, front_desk, practice, location, appointment_type):
    practitioner = make_practitioner("solo", location)
    client.force_login(front_desk)
    _fill_day([practitioner], location, appointment_type, 3)
    client.get(reverse("diary"))  # the session's once-a-minute save
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("diary-week"), {"date": DAY.isoformat(), "practitioner": practitioner.pk})
    _fill_day([practitioner], location, appointment_type, 0)
    Appointment.objects.all().delete()
    _fill_day([practitioner], location, appointment_type, 40)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("diary-week"), {"date": DAY.isoformat(), "practitioner": practitioner.pk})
    assert len(few) == len(many)
    assert response.content.decode().count('<a class="appt') == 40


def test_the_day_view_shows_columns_blocks_and_working_hours(client, front_desk, practitioner_a, practitioner_b,
                                                             book):
    book(practitioner_a, sydney(2030, 3, 4, 9, 30), minutes=45)
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    assert "Alice Allen" in html and "Bob Brown" in html
    assert "09:30–10:15" in html
    assert "Casey Client" in html
    # The working hours (09:00–17:00) from which the page script draws and shades each column's empty slots.
    assert html.count('data-hours="540-1020"') == 2
    assert f'data-practitioner="{practitioner_a.pk}" data-date="2030-03-04" data-droppable' in html


def test_the_day_view_lists_cancelled_appointments_apart(client, front_desk, practitioner_a, book):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 11))
    appointment_cancel(actor=front_desk, appointment=appointment)
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    assert '<a class="appt' not in html
    assert "<h2>Cancelled</h2>" in html
    assert f'/appointments/{appointment.pk}/' in html


def test_the_location_filter_shows_who_works_there(client, front_desk, practitioner_a, location):
    elsewhere = Location.objects.create(name="Elsewhere")
    other = make_practitioner("carol", elsewhere, name="Carol Cole")
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY.isoformat(), "location": elsewhere.pk}).content.decode()
    assert "Carol Cole" in html and "Alice Allen" not in html
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    assert "Carol Cole" in html and "Alice Allen" in html
    assert other.pk


def test_the_location_filter_shows_only_its_practitioners_appointments_and_hours(client, front_desk, practitioner_a,
                                                                                 book):
    elsewhere = Location.objects.create(name="Elsewhere")
    carol = make_practitioner("carol", elsewhere, name="Carol Cole")
    carol.working_hours.filter(weekday=DAY.weekday()).update(starts_at=time(10), ends_at=time(14))
    alices = book(practitioner_a, sydney(2030, 3, 4, 9))
    carols = book(carol, sydney(2030, 3, 4, 10))
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY.isoformat(), "location": elsewhere.pk}).content.decode()
    assert f'/appointments/{carols.pk}/' in html and f'/appointments/{alices.pk}/' not in html
    assert f'data-hours="600-840" data-practitioner="{carol.pk}"' in html
    assert 'data-hours="540-1020"' not in html  # Alice's hours
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    assert f'/appointments/{carols.pk}/' in html and f'/appointments/{alices.pk}/' in html
    assert f'data-hours="540-1020" data-practitioner="{practitioner_a.pk}"' in html


def test_the_grid_widens_for_an_appointment_before_opening(client, front_desk, practitioner_a, book):
    book(practitioner_a, sydney(2030, 3, 4, 5, 45))
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    assert ">05:00</span>" in html
    assert "--top:3;--len:2;" in html


@pytest.mark.parametrize("bad", ["", "yesterday", "2030-02-31"])
def test_a_bad_date_falls_back_to_today(client, front_desk, practitioner_a, bad):
    client.force_login(front_desk)
    assert client.get(reverse("diary"), {"date": bad}).status_code == 200


def test_the_panel_is_served_alone_to_htmx(client, front_desk, practitioner_a, book):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 9))
    client.force_login(front_desk)
    url = reverse("appointment-detail", args=[appointment.pk])
    partial = client.get(url, headers={"HX-Request": "true", "HX-Target": "panel"}).content.decode()
    full = client.get(url).content.decode()
    assert "<html" not in partial and "<html" in full
    assert "Move or change time" in partial and "Move or change time" in full


def test_status_buttons_change_status_and_redirect_to_the_day(client, front_desk, practitioner_a, book):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 9))
    client.force_login(front_desk)
    response = client.post(reverse("appointment-status", args=[appointment.pk]), {"status": "arrived"})
    assert response.status_code == 302
    assert response.url == "/diary/?date=2030-03-04"
    appointment.refresh_from_db()
    assert appointment.status == Status.ARRIVED
    response = client.post(reverse("appointment-status", args=[appointment.pk]), {"status": "arrived"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 204 and response["HX-Redirect"] == "/diary/?date=2030-03-04"


def test_names_from_the_database_are_escaped_in_the_grid(client, front_desk, practitioner_a, book, client_record,
                                                         appointment_type):
    client_record.first_name = "<script>alert(1)</script>"
    client_record.save()
    appointment_type.colour = '"><svg>'
    appointment_type.save()
    book(practitioner_a, sydney(2030, 3, 4, 9))
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"><svg>' not in html


def test_a_practitioner_can_book_only_in_their_own_column(client, practitioner_a, practitioner_b):
    client.force_login(practitioner_a.user)
    html = client.get(reverse("diary"), {"date": DAY.isoformat()}).content.decode()
    # The page script draws booking links in the columns marked droppable, plain shaded cells in the others.
    assert f'data-practitioner="{practitioner_a.pk}" data-date="{DAY.isoformat()}" data-droppable>' in html
    assert f'data-practitioner="{practitioner_b.pk}" data-date="{DAY.isoformat()}">' in html


def test_a_clash_on_move_is_shown_on_the_move_form(client, front_desk, practitioner_a, book):
    book(practitioner_a, sydney(2030, 3, 4, 9))
    later = book(practitioner_a, sydney(2030, 3, 4, 11))
    client.force_login(front_desk)
    response = client.post(reverse("appointment-move", args=[later.pk]), {
        "practitioner": practitioner_a.pk, "location": later.location_id, "date": "2030-03-04",
        "start_time": "09:15", "duration": "30"}, headers={"HX-Request": "true", "HX-Target": "panel"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "already has an appointment at Mon 04 Mar 09:00–09:30" in html
    assert '<details class="section" open>' in html
    assert 'value="09:15"' in html


def test_an_error_from_a_panel_action_is_shown_in_the_panel(client, front_desk, practitioner_a, book):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 9))
    client.force_login(front_desk)
    response = client.post(reverse("appointment-reinstate", args=[appointment.pk]),
                           headers={"HX-Request": "true", "HX-Target": "panel"})
    assert "Only a cancelled appointment can be reinstated." in response.content.decode()


def test_the_panel_shows_the_audit_history_in_order(client, front_desk, practitioner_a, book):
    from scheduling.services import appointment_cancel, appointment_move

    appointment = book(practitioner_a, sydney(2030, 3, 4, 9))
    later = sydney(2030, 3, 4, 11)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=later, ends_at=later + timedelta(minutes=30),
                     practitioner=practitioner_a, location=appointment.location)
    appointment_cancel(actor=front_desk, appointment=appointment, reason="Unwell")
    client.force_login(front_desk)
    html = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    booked, moved, cancelled = (html.index("Booked with Alice Allen"), html.index("Moved to Alice Allen"),
                                html.index("Cancelled: Unwell"))
    assert cancelled < moved < booked  # newest first
    assert "Reinstate" in html


def test_day_navigation_links(client, front_desk, practitioner_a, location):
    client.force_login(front_desk)
    html = client.get(reverse("diary"), {"date": "2030-03-04", "location": location.pk}).content.decode()
    assert f'href="/diary/?date=2030-03-03&amp;location={location.pk}"' in html
    assert f'href="/diary/?date=2030-03-05&amp;location={location.pk}"' in html
    assert 'type="date" name="date" value="2030-03-04"' in html
    assert "Monday 4 March 2030" in html


def test_the_week_view_shows_seven_days_across_a_dst_change(client, front_desk, practitioner_a, book):
    book(practitioner_a, sydney(2030, 4, 7, 10))  # Sunday, the day the clocks go back
    client.force_login(front_desk)
    html = client.get(reverse("diary-week"), {"date": "2030-04-03", "practitioner": practitioner_a.pk}).content.decode()
    for label in ("Mon 01 Apr", "Tue 02 Apr", "Wed 03 Apr", "Thu 04 Apr", "Fri 05 Apr", "Sat 06 Apr", "Sun 07 Apr"):
        assert label in html
    assert html.count('class="col"') == 7
    assert "10:00–10:30" in html and "--top:12;--len:2;" in html
    assert 'href="/diary/week/?date=2030-03-27' in html and 'href="/diary/week/?date=2030-04-10' in html


def test_the_week_view_picks_its_practitioner_from_every_active_one(client, front_desk, practitioner_a,
                                                                     practitioner_b):
    practitioner_b.display_name = "Dr <b>B</b>"
    practitioner_b.save()
    client.force_login(front_desk)
    html = client.get(reverse("diary-week"), {"date": "2030-04-03", "practitioner": practitioner_b.pk}).content.decode()
    picker = html[html.index('<select name="practitioner">'):]
    picker = picker[:picker.index("</select>")]
    assert f'<option value="{practitioner_a.pk}" >Alice Allen</option>' in picker
    assert f'<option value="{practitioner_b.pk}" selected>Dr &lt;b&gt;B&lt;/b&gt;</option>' in picker
    assert picker.count("<option") == 2


def test_an_empty_diary_sends_an_admin_to_the_options_page_for_practitioners(client, admin_user, practice):
    client.force_login(admin_user)
    html = client.get(reverse("diary")).content.decode()
    assert "No practitioners to show" in html
    assert f'href="{reverse("options-practitioners")}"' in html  # the app's own page, not the stock admin


def _entry(start, end, *, is_telehealth=False, zoom_state=None):
    return DiaryEntry(pk=7, practitioner_id=1, start=start, end=end, status=Status.BOOKED, client_name="Casey Client",
                      type_name="Standard", colour="#6b8fd6", is_telehealth=is_telehealth,
                      zoom_state=zoom_state, zoom_error=None)


def test_a_block_between_slot_lines_is_placed_in_short_fractions_of_a_row():
    layout = Layout(first=7 * 60, appointment_url="/appointments/")
    block = layout.block(_entry(sydney(2030, 3, 4, 10, 20), sydney(2030, 3, 4, 10, 45)), DAY)
    # 10:20 is 13 1/3 rows below 07:00; the page script rounds back to whole minutes (07:00 + 13.3333 x 15).
    assert 'style="--top:13.3333;--len:1.6667;--type:#6b8fd6"' in block


def test_only_a_telehealth_block_has_badges_for_the_live_poll():
    layout = Layout(first=7 * 60, appointment_url="/appointments/")
    plain = layout.block(_entry(sydney(2030, 3, 4, 10), sydney(2030, 3, 4, 10, 30)), DAY)
    telehealth = layout.block(_entry(sydney(2030, 3, 4, 10), sydney(2030, 3, 4, 10, 30), is_telehealth=True,
                                     zoom_state=MeetingState.ACTIVE), DAY)
    assert "badges" not in plain
    assert '<span class="badges" id="zb7"><span class="badge zoom">Zoom</span></span>' in telehealth
