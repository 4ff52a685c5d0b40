"""The speed issue's rules that a test can hold (issue 10; `make bench` measures the rest): what a booking, the
appointment panel and the top bar read, whatever the data."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attention.context_processors import COUNT_CACHE_KEY
from reminders.models import Channel, Kind, Message, MessageStatus, ReminderSettings, ScheduledReminder
from scheduling.models import Appointment
from tests.conftest import sydney

# Session, user with its roles, and practice (every request); client, practitioner, type and location (the form); the
# clash check (the service); the insert, the reminder settings and both reminder rows in one insert (the Scheduler's
# signal); the audit row; the working hours for the warning. And two savepoints with their releases (the service's
# transaction and the guarded insert's; the test runs inside a transaction). It was 31 before the speed issue: three
# reads for the form's display only, the practice read again twice, the roles on their own, and two lookups and
# savepoints per reminder row.
BOOKING_QUERIES = 17
# Session, user with its roles, and practice; the appointment (with whether an earlier Zoom meeting is still being
# deleted); the messages, the Scheduler's reminders and the SMS opt-out; the history. A panel is opened for every
# appointment looked at: it was 12, then 10 with the move form's practitioners and locations, now read only when the
# move section is opened.
PANEL_QUERIES = 8


def test_a_booking_costs_a_fixed_number_of_queries_and_arms_its_reminders(
        client, front_desk, practice, practitioner_a, location, appointment_type, client_record):
    ReminderSettings.load()  # a practice has its reminder settings (the first read of all creates them)
    client.force_login(front_desk)
    client.get(reverse("diary"))  # the session's once-a-minute save
    form = {"client": client_record.pk, "client_query": "", "practitioner": practitioner_a.pk,
            "location": location.pk, "appointment_type": appointment_type.pk, "date": "2030-03-04",
            "start_time": "10:00", "duration": 30, "notes": ""}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("appointment-new"), form)
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.starts_at == sydney(2030, 3, 4, 10)
    # The new appointment's rows, one per channel, inserted together (nothing to retire or look up first).
    assert sorted(ScheduledReminder.objects.filter(appointment=appointment).values_list("channel", flat=True)) == [
        "email", "sms"]
    assert len(queries) == BOOKING_QUERIES, "\n".join(q["sql"][:120] for q in queries.captured_queries)


def test_the_panel_does_not_read_what_only_the_top_bar_shows(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    client.force_login(front_desk)
    url = reverse("appointment-detail", args=[appointment.pk])
    client.get(url)  # the session's once-a-minute save
    with CaptureQueriesContext(connection) as panel:
        assert client.get(url, headers={"HX-Request": "true", "HX-Target": "panel"}).status_code == 200
    cache.delete(COUNT_CACHE_KEY)  # counted by the first request
    with CaptureQueriesContext(connection) as page:
        html = client.get(url).content.decode()
    assert len(panel) == PANEL_QUERIES, "\n".join(q["sql"][:120] for q in panel.captured_queries)
    sql = " ".join(q["sql"] for q in panel.captured_queries)
    assert "reminders_creditentry" not in sql and "UNION" not in sql  # the SMS credits, the Needs attention count
    # The whole page (without JavaScript) has the top bar, and reads both.
    assert len(page) == len(panel) + 2
    assert "SMS credits" in html and "Needs attention" in html


def _failed_sms(appointment) -> None:
    """Something that needs a person: an SMS that failed."""
    Message.objects.create(appointment=appointment, client=appointment.client, channel=Channel.SMS,
                           kind=Kind.TELEHEALTH, key=f"test:{appointment.pk}", recipient="+61410000001", body="Hi",
                           status=MessageStatus.FAILED, error="Twilio refused it.")


def test_the_top_bar_count_is_counted_at_most_every_few_seconds_and_afresh_on_its_own_page(
        client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    client.force_login(front_desk)
    diary = reverse("diary")
    assert 'class="count"' not in client.get(diary).content.decode()
    _failed_sms(appointment)
    # Another page within the cache's seconds shows the count it read: the union over five tables is not run again.
    with CaptureQueriesContext(connection) as queries:
        assert 'class="count"' not in client.get(diary).content.decode()
    assert not any("UNION" in query["sql"] for query in queries.captured_queries)
    # The Needs attention page counts afresh, and the other pages then show its count.
    one = '<span class="count" aria-label="1 items">1</span>'
    assert one in client.get(reverse("needs-attention")).content.decode()
    assert one in client.get(diary).content.decode()
    # And after the cache's seconds, any page counts again.
    cache.delete(COUNT_CACHE_KEY)
    Message.objects.all().delete()
    assert 'class="count"' not in client.get(diary).content.decode()
