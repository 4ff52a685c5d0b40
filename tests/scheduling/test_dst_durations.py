"""RELIABILITY.md 23: a duration is real elapsed time, also across Sydney's 2027 daylight-saving changes.

Clocks go forward on Sunday 3 October 2027 (02:00 AEST → 03:00 AEDT) and back on Sunday 4 April 2027
(03:00 AEDT → 02:00 AEST).
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse

from practice.errors import ApplicationError
from practice.timezones import local_to_aware
from scheduling.models import Appointment
from scheduling.services import appointment_book, appointment_move, ends_after
from tests.conftest import sydney

FORWARD = date(2027, 10, 3)
BACK = date(2027, 4, 4)


@pytest.fixture
def zone(practice):
    return practice.zone


# (day, local start, minutes, local end shown, end's UTC offset in hours)
CASES = [
    (FORWARD, time(1, 30), 30, time(3, 0), 11),
    (FORWARD, time(1, 30), 90, time(4, 0), 11),
    (BACK, time(2, 30), 30, time(2, 0), 10),  # 02:30 daylight time, then the clocks go back to 02:00
    (BACK, time(2, 30), 90, time(3, 0), 10),
]


@pytest.mark.parametrize(("day", "at", "minutes", "local_end", "end_offset"), CASES)
def test_it_stores_the_real_duration_through_the_service(book, practitioner_a, zone, day, at, minutes, local_end,
                                                         end_offset):
    appointment = book(practitioner_a, local_to_aware(day, at, zone), minutes=minutes)
    appointment.refresh_from_db()
    assert appointment.duration == timedelta(minutes=minutes)
    end = appointment.ends_at.astimezone(zone)
    assert (end.time(), end.utcoffset()) == (local_end, timedelta(hours=end_offset))


@pytest.mark.parametrize(("day", "at", "minutes", "local_end", "end_offset"), CASES)
def test_it_stores_the_real_duration_through_the_booking_form(client, front_desk, practitioner_a, location,
                                                              appointment_type, client_record, zone, day, at,
                                                              minutes, local_end, end_offset):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": day.isoformat(),
        "start_time": f"{at:%H:%M}", "duration": minutes, "appointment_type": appointment_type.pk,
        "location": location.pk,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert appointment.duration == timedelta(minutes=minutes)
    assert appointment.ends_at.astimezone(zone).time() == local_end


def test_it_uses_the_type_duration_in_real_time(front_desk, practitioner_a, location, appointment_type,
                                                client_record, zone):
    appointment_type.default_duration = 90
    appointment_type.save()
    appointment = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                                   location=location, appointment_type=appointment_type,
                                   starts_at=local_to_aware(FORWARD, time(1, 30), zone)).appointment
    appointment.refresh_from_db()
    assert appointment.ends_at == datetime(2027, 10, 2, 17, 0, tzinfo=UTC)


def test_a_90_minute_booking_across_the_forward_change_blocks_the_next_slot(book, practitioner_a, zone):
    book(practitioner_a, local_to_aware(FORWARD, time(1, 30), zone), minutes=90)  # until 04:00 AEDT
    with pytest.raises(ApplicationError) as refused:
        book(practitioner_a, local_to_aware(FORWARD, time(3, 15), zone), minutes=30)
    assert refused.value.code == "conflict"
    assert Appointment.objects.count() == 1
    book(practitioner_a, local_to_aware(FORWARD, time(4, 0), zone), minutes=30)  # back to back is fine


def test_a_move_keeps_real_minutes_across_the_back_change(front_desk, book, practitioner_a, zone, location):
    appointment = book(practitioner_a, sydney(2027, 4, 1, 10), minutes=30)
    new_start = local_to_aware(BACK, time(2, 30), zone)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=new_start,
                     ends_at=ends_after(new_start, 30), practitioner=practitioner_a, location=location)
    appointment.refresh_from_db()
    assert appointment.duration == timedelta(minutes=30)


def test_an_appointment_over_12_real_hours_is_refused_even_when_the_wall_clock_says_less(
        front_desk, practitioner_a, location, appointment_type, client_record, zone):
    start = local_to_aware(BACK, time(0, 0), zone)
    wall_clock_noon = start + timedelta(hours=12)  # 12 wall-clock hours that day are 13 real ones
    with pytest.raises(ApplicationError, match="longer than 12 hours"):
        appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, starts_at=start, ends_at=wall_clock_noon)


def test_zoom_gets_the_real_duration(alice_zoom, front_desk, practitioner_a, location, appointment_type,
                                     client_record, zone):
    appointment = appointment_book(
        actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
        appointment_type=appointment_type, starts_at=local_to_aware(FORWARD, time(1, 30), zone),
        ends_at=ends_after(local_to_aware(FORWARD, time(1, 30), zone), 90), is_telehealth=True,
    ).appointment
    assert appointment.zoom_meeting.duration == 90
