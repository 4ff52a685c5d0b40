"""Issue 9 item 8: a printable day sheet per practitioner, one query for its rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from practice.models import Practice
from scheduling import selectors
from scheduling.services import appointment_cancel
from tests.conftest import sydney

pytestmark = pytest.mark.django_db


def test_sheet_lists_the_practitioners_day_in_time_order(client, front_desk, practitioner_a, practitioner_b, book):
    late = book(practitioner_a, sydney(2030, 3, 4, 14))
    early = book(practitioner_a, sydney(2030, 3, 4, 9))
    book(practitioner_b, sydney(2030, 3, 4, 10))  # someone else's
    book(practitioner_a, sydney(2030, 3, 5, 9))  # another day
    gone = book(practitioner_a, sydney(2030, 3, 4, 11))
    appointment_cancel(actor=front_desk, appointment=gone)
    client.force_login(front_desk)
    response = client.get(reverse("day-sheet"), {"date": "2030-03-04", "practitioner": practitioner_a.pk})
    assert response.status_code == 200
    assert [a.pk for a in response.context["rows"]] == [early.pk, late.pk]
    html = response.content.decode()
    assert "09:00" in html and "14:00" in html and "11:00" not in html
    assert str(early.client) in html and early.appointment_type.name in html and early.location.name in html
    assert "@media print" in (open("static/css/app.css").read())


def test_sheet_rows_are_one_query(front_desk, practitioner_a, book):
    for hour in (9, 10, 11, 12):
        book(practitioner_a, sydney(2030, 3, 4, hour))
    practice = Practice.load()
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.day_sheet(practice=practice, practitioner=practitioner_a, day=sydney(2030, 3, 4, 9).date())
        for a in rows:
            str(a.client), a.appointment_type.name, a.location.name
    assert len(rows) == 4
    assert len(queries) == 1


def test_sheet_is_linked_from_the_diary_toolbar(client, front_desk, practitioner_a):
    client.force_login(front_desk)
    assert reverse("day-sheet") in client.get(reverse("diary")).content.decode()
