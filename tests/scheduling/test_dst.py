"""Australia/Sydney daylight saving: clocks go forward on the first Sunday of October (02:00 → 03:00)
and back on the first Sunday of April (03:00 → 02:00). In 2030 those are 6 October and 7 April."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from practice.timezones import day_bounds, local_to_aware
from scheduling.models import Appointment
from scheduling.services import appointment_move
from tests.conftest import sydney

ZONE_NAME = "Australia/Sydney"


@pytest.fixture
def zone(practice):
    return practice.zone


def test_a_skipped_time_is_refused(zone):
    with pytest.raises(ValidationError, match="does not exist"):
        local_to_aware(date(2030, 10, 6), time(2, 30), zone)
    assert local_to_aware(date(2030, 10, 6), time(1, 30), zone).utcoffset() == timedelta(hours=10)
    assert local_to_aware(date(2030, 10, 6), time(3, 0), zone).utcoffset() == timedelta(hours=11)


def test_a_repeated_time_takes_the_first_occurrence(zone):
    first = local_to_aware(date(2030, 4, 7), time(2, 30), zone)
    assert first.utcoffset() == timedelta(hours=11)
    assert first.astimezone(UTC) == datetime(2030, 4, 6, 15, 30, tzinfo=UTC)


def test_change_days_have_23_and_25_hours(zone):
    start, end = day_bounds(date(2030, 10, 6), zone)
    assert end - start == timedelta(hours=23)
    start, end = day_bounds(date(2030, 4, 7), zone)
    assert end - start == timedelta(hours=25)


@pytest.mark.parametrize(("day", "expected_utc"), [
    (date(2030, 10, 5), datetime(2030, 10, 4, 23, 0, tzinfo=UTC)),   # Saturday before: AEST +10
    (date(2030, 10, 6), datetime(2030, 10, 5, 22, 0, tzinfo=UTC)),   # change day: AEDT +11
    (date(2030, 4, 6), datetime(2030, 4, 5, 22, 0, tzinfo=UTC)),     # Saturday before: AEDT +11
    (date(2030, 4, 7), datetime(2030, 4, 6, 23, 0, tzinfo=UTC)),     # change day: AEST +10
])
def test_booking_through_the_form_stores_the_right_instant_and_the_diary_shows_it(
    client, front_desk, practitioner_a, location, appointment_type, client_record, day, expected_utc
):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": day.isoformat(),
        "start_time": "09:00", "appointment_type": appointment_type.pk, "location": location.pk,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert appointment.starts_at == expected_utc
    diary = client.get(reverse("diary"), {"date": day.isoformat()}).content.decode()
    assert "09:00–09:30" in diary
    # 09:00 is 8 rows (of 15 minutes) below the 07:00 opening on every one of these days.
    assert 'style="--top:8;--len:2;' in diary


def test_moving_across_the_change_keeps_the_wall_clock_time(front_desk, practitioner_a, book, zone):
    appointment = book(practitioner_a, sydney(2030, 10, 4, 10))  # Friday, AEST
    new_start = local_to_aware(date(2030, 10, 7), time(10), zone)  # Monday, AEDT
    appointment_move(actor=front_desk, appointment=appointment, starts_at=new_start,
                     ends_at=new_start + timedelta(minutes=30), practitioner=practitioner_a,
                     location=appointment.location)
    appointment.refresh_from_db()
    assert appointment.starts_at.astimezone(zone).time() == time(10)
    assert appointment.starts_at - sydney(2030, 10, 4, 10) == timedelta(days=3, hours=-1)


def test_the_booking_form_refuses_a_skipped_time(client, front_desk, practitioner_a, location, appointment_type,
                                                 client_record):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-10-06",
        "start_time": "02:30", "appointment_type": appointment_type.pk, "location": location.pk,
    })
    assert response.status_code == 200
    assert "does not exist on 06 Oct 2030" in response.content.decode()
    assert not Appointment.objects.exists()
